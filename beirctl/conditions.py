"""The encoding conditions of the reference models (Pyserini's BEIR 2CR rows), as plain data.

One source for both sides: :mod:`beirctl.retrievers.presets` runs each condition as a preset
(``type: contriever``...), and :mod:`beirctl.verify` refuses to compare a result with a
reference table whose condition it was not produced under (analysis modules may not import
retrievers, hence this module below both).

Revisions: Pyserini publishes no Hugging Face commit for the weights its BEIR indexes were
encoded with. Where a preset pins one, it is the commit MTEB's model registry records for the
model (``mteb.models``, checked in mteb 2.26.24), the revision the model's published BEIR/MTEB
figures were computed with; where none is recorded (facebook/contriever, TAS-B) the model is
left unpinned and verify accepts any revision of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

BGE_INSTRUCTION = "Represent this sentence for searching relevant passages:"


@dataclass(frozen=True)
class Condition:
    """A preset's fixed ``dense`` parameters and the reference table its figures belong to."""

    preset: str
    reference: str | None  # None: no published table (TAS-B is not among Pyserini's BEIR 2CR rows)
    dense: Mapping[str, Any] = field(default_factory=dict)


_CONTRIEVER = {
    "model": "facebook/contriever",
    "similarity": "dot",
    "normalize": False,
    "max_seq_length": 512,
    "fp16": True,
}

CONDITIONS: dict[str, Condition] = {
    c.preset: c
    for c in (
        Condition("contriever", "pyserini-contriever", _CONTRIEVER),
        Condition(
            "contriever-msmarco",
            "pyserini-contriever-msmarco",
            {**_CONTRIEVER, "model": "facebook/contriever-msmarco@abe8c1493371369031bcb1e02acb754cf4e162fa"},
        ),
        Condition(
            "bge-base-en-v1.5",
            "pyserini-bge-base-en-v1.5",
            {
                "model": "BAAI/bge-base-en-v1.5@a5beb1e3e68b9ab74eb54cfd186867f64f240e1a",
                "similarity": "dot",
                "normalize": True,
                "max_seq_length": 512,
                "fp16": True,
                # Pyserini joins prefix and query with one space: f"{prefix} {query}".
                "query_prefix": BGE_INSTRUCTION + " ",
                "dataset_overrides": {"arguana": {"query_prefix": ""}, "quora": {"query_prefix": ""}},
            },
        ),
        Condition(
            "tas-b",
            None,
            {
                "model": "sebastian-hofstaetter/distilbert-dot-tas_b-b256-msmarco",
                "similarity": "dot",
                "normalize": False,
                "max_seq_length": 512,
                "pooling": "cls",
                "fp16": False,
            },
        ),
    )
}

# DenseParams' defaults for the settings compared below (a result's params hold every key; these
# cover keys a serializer leaves out when at their default).
_DEFAULTS: dict[str, Any] = {
    "query_prefix": "",
    "passage_prefix": "",
    "dataset_overrides": {},
    "max_seq_length": None,
    "similarity": "cosine",
    "normalize": False,
    "fp16": True,
    "pooling": "model",
    "index": "exact",
    "encoder": None,
}


def condition_of_reference(reference: str) -> Condition | None:
    """The condition a reference table's figures were produced under, if beirctl has a preset for it."""
    return next((c for c in CONDITIONS.values() if c.reference == reference), None)


def _prefixes(settings: Mapping[str, Any], dataset: str) -> tuple[str, str]:
    q, p = settings["query_prefix"], settings["passage_prefix"]
    overrides = settings["dataset_overrides"] or {}
    over = overrides.get(dataset) or overrides.get(dataset.split("/")[0])
    if over:
        q = over["query_prefix"] if over.get("query_prefix") is not None else q
        p = over["passage_prefix"] if over.get("passage_prefix") is not None else p
    return q, p


def effective_settings(kind: str, params: Mapping[str, Any], dataset: str) -> dict[str, Any] | None:
    """What a result of retriever ``kind`` with ``params`` encoded ``dataset`` with, in the terms
    compared; None when ``kind`` is neither ``dense`` nor a dense preset."""
    if kind in CONDITIONS:
        merged = {**_DEFAULTS, **CONDITIONS[kind].dense}
        if params.get("model") is not None:
            merged["model"] = params["model"]
    elif kind == "dense":
        merged = {**_DEFAULTS, **params}
    else:
        return None
    q, p = _prefixes(merged, dataset)
    repo, _, revision = str(merged["model"]).partition("@")
    return {
        "encoder": merged["encoder"],
        "model": repo,
        "revision": revision or None,
        # Cosine is dot over L2-normalised vectors: the same scores and ranking.
        "normalize": merged["similarity"] == "cosine" or bool(merged["normalize"]),
        "pooling": merged["pooling"],
        "max_seq_length": merged["max_seq_length"],
        "fp16": bool(merged["fp16"]),
        "query_prefix": q,
        "passage_prefix": p,
        # An approximate (HNSW) search is not the flat search the tables were made with.
        "exact_search": merged["index"] != "faiss-hnsw",
    }


def setting_differences(condition: Condition, kind: str, params: Mapping[str, Any], dataset: str) -> list[str]:
    """``name got X, reference Y`` for each setting in which a result differs from ``condition``
    on ``dataset`` (empty: the result is comparable with the condition's reference table)."""
    want = effective_settings(condition.preset, {}, dataset)
    assert want is not None
    got = effective_settings(kind, params, dataset)
    if got is None:
        return [f"retriever type {kind!r} (reference: {condition.preset} or an equivalent dense)"]
    out = []
    for key, expected in want.items():
        value = got[key]
        if key == "revision" and expected is None:
            continue  # no pinned revision to check
        if value != expected:
            out.append(f"{key} {_show(value)} (reference {_show(expected)})")
    return out


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "none"
    return repr(value) if isinstance(value, str) else str(value)
