"""MTEB's results layout, out and in.

Out: :func:`export_mteb` writes ``<out>/<org>__<name>/<revision>/<Task>.json`` (one mteb
``TaskResult`` per BEIR task MTEB has) and ``model_meta.json``, every score recomputed from the
stored run files and the qrels with MTEB's semantics (:func:`mteb_scores`).

In: :func:`load_mteb_reference` reads such a folder (a model's ``<org>__<name>/<revision>/`` or
its parent holding one revision) into a reference table keyed by beirctl dataset names, so that
``verify`` / ``show`` can check results against any published MTEB result.

The task table is mteb 2.26.24's (``mteb.get_task(name).metadata``); a test keeps it equal to
the installed package's.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Any

from beirctl.atomic import write_json
from beirctl.conventions import AVERAGING_TEXT, MTEB_TASKS, get_conventions
from beirctl.datasets.catalog import CQADUPSTACK, CQADUPSTACK_FORUMS
from beirctl.errors import BeirctlError, DataError
from beirctl.evaluation import evaluate
from beirctl.results import PairResult
from beirctl.types import Qrels, Run

MTEB_VERSION = "2.26.24"  # the mteb release whose task definitions and result schema this follows
K_VALUES: tuple[int, ...] = (1, 3, 5, 10, 20, 100, 1000)
AGGREGATE_TASK = "CQADupstackRetrieval"  # mteb's aggregate: the mean of the 12 forums' nDCG@10
AGGREGATE_REVISION = "1"  # the dataset_revision mteb gives its aggregate tasks
MODEL_META_FILE = "model_meta.json"
LANGUAGES = ["eng-Latn"]
SUBSET = "default"

# MTEB metric key prefix -> beirctl (ir-measures) metric name prefix. All but mrr are pytrec_eval's
# measures in both (ndcg_cut, map_cut, recall, P, success); mrr_at_k is MTEB's own (see _mrr).
METRIC_NAMES: dict[str, str] = {
    "ndcg_at_": "nDCG@",
    "map_at_": "AP@",
    "recall_at_": "R@",
    "precision_at_": "P@",
    "mrr_at_": "RR@",
    "hit_rate_at_": "Success@",
}
_PYTREC: dict[str, str] = {"ndcg_at_": "nDCG@", "map_at_": "AP@", "recall_at_": "R@", "precision_at_": "P@"}

# dataset name -> (split, dataset revision) of its MTEB task (mteb 2.26.24).
_SPLIT_REVISION: dict[str, tuple[str, str]] = {
    "arguana": ("test", "c22ab2a51041ffd869aaddef7af8d8215647e41a"),
    "climate-fever": ("test", "47f2ac6acb640fc46020b02a5b59fdda04d39380"),
    "dbpedia-entity": ("test", "c0f706b76e590d620bd6618b3ca8efdd34e2d659"),
    "fever": ("test", "bea83ef9e8fb933d90a2f1d5515737465d613e12"),
    "fiqa": ("test", "27a168819829fe9bcd655c2df245fb19452e8e06"),
    "hotpotqa": ("test", "ab518f4d6fcca38d87c25209f94beba119d02014"),
    "msmarco": ("dev", "c5a29a104738b98a9e76336939199e264163d4a0"),
    "nfcorpus": ("test", "ec0fa4fe99da2ff19ca1214b7966684033a58814"),
    "nq": ("test", "b774495ed302d8c44a3a7ea25c90dbce03968f31"),
    "quora": ("test", "e4e08e0b7dbe3c8700f0daef558ff32256715259"),
    "scidocs": ("test", "f8c2fcf00f625baaa80f62ec5bd9e1fff3b8ae88"),
    "scifact": ("test", "d56462d0e63a25450459c4f213e49ffdb866f7f9"),
    "trec-covid": ("test", "bb9466bac8153a0349341eb1b22e06409e78ef4e"),
    "webis-touche2020": ("test", "a34f9a33db75fa0cbb21bb5cfc3dae8dc8bec93f"),
    "cqadupstack/android": ("test", "9be4c0e46342e8e3aff577a89b9a1ec9bc6b4af3"),
    "cqadupstack/english": ("test", "ad9991cb51e31e31e430383c75ffb2885547b5f0"),
    "cqadupstack/gaming": ("test", "4885aa143210c98657558c04aaf3dc47cfb54340"),
    "cqadupstack/gis": ("test", "5003b3064772da1887988e05400cf3806fe491f2"),
    "cqadupstack/mathematica": ("test", "90fceea13679c63fe563ded68f3b6f06e50061de"),
    "cqadupstack/physics": ("test", "79531abbd1fb92d06c6d6315a0cbbbf5bb247ea4"),
    "cqadupstack/programmers": ("test", "6184bc1440d2dbc7612be22b50686b8826d22b32"),
    "cqadupstack/stats": ("test", "65ac3a16b8e91f9cee4c9828cc7c335575432a2a"),
    "cqadupstack/tex": ("test", "46989137a86843e03a6195de44b09deda022eec7"),
    "cqadupstack/unix": ("test", "6c6430d3a6d36f8d2a829195bc5dc94d7e063e53"),
    "cqadupstack/webmasters": ("test", "160c094312a0e1facb97e55eeddb698c0abe3571"),
    "cqadupstack/wordpress": ("test", "4ffe81d471b1924886b33c7567bfb200e9eec5c4"),
}


@dataclass(frozen=True)
class MtebTask:
    """One BEIR retrieval task of MTEB."""

    name: str  # MTEB's task name, e.g. "SciFact"
    dataset: str  # beirctl's results name, e.g. "scifact", "cqadupstack/android"
    split: str
    revision: str  # the HF dataset revision MTEB evaluates
    ignore_identical_ids: bool  # whether MTEB drops hits whose doc id equals the query id


# keyed by dataset; names from beirctl.conventions, identical-id removal from its mteb rules
TASKS: dict[str, MtebTask] = {
    ds: MtebTask(MTEB_TASKS[ds], ds, split, revision, get_conventions("mteb").removes_identical_ids(ds))
    for ds, (split, revision) in sorted(_SPLIT_REVISION.items())
}
TASK_NAMES: dict[str, MtebTask] = {t.name: t for t in TASKS.values()}


def task_for(dataset: str) -> MtebTask | None:
    """The MTEB task of a beirctl results name, or None when MTEB has none."""
    return TASKS.get(dataset)


# --- scores ------------------------------------------------------------------------------------


def _mrr(run: Run, qrels: Qrels, k_values: Sequence[int]) -> dict[int, float]:
    """MTEB's mrr_at_k: hits ranked by (score, doc id) descending, the reciprocal rank of the first
    with a grade above 0 within k, the mean (unrounded) over the queries of ``run``."""
    total = {k: 0.0 for k in k_values}
    for qid, hits in run.items():
        relevant = {d for d, g in qrels[qid].items() if g > 0}
        ranked = sorted(hits, key=lambda h: (h[1], h[0]), reverse=True)
        first = next((i for i, (doc, _) in enumerate(ranked) if doc in relevant), None)
        for k in k_values:
            if first is not None and first < k:
                total[k] += 1.0 / (first + 1)
    return {k: total[k] / len(run) for k in k_values}


def mteb_scores(run: Run, qrels: Qrels, k_values: Sequence[int] = K_VALUES) -> dict[str, float]:
    """The retrieval scores MTEB writes, computed as MTEB 2.26 does: pytrec_eval's ndcg_cut,
    map_cut, recall, P and success through beirctl's evaluator, each averaged over the judged
    queries the run has hits for and rounded to 5 decimals; ``mrr_at_k`` (MTEB's own, see
    :func:`_mrr`) unrounded; ``accuracy`` = recall_at_1; ``main_score`` = ndcg_at_10."""
    judged = {qid: hits for qid, hits in run.items() if qid in qrels and hits}
    if not judged:
        raise BeirctlError("the run has no hits for any judged query")
    sub_qrels = {qid: qrels[qid] for qid in judged}
    names = [f"{p}{k}" for p in (*_PYTREC.values(), "Success@") for k in k_values]
    # evaluate's mean over every query of its qrels is, on these qrels, MTEB's over returned queries
    agg = evaluate(judged, sub_qrels, names).aggregate
    out: dict[str, float] = {}
    for key, prefix in _PYTREC.items():
        for k in k_values:
            out[f"{key}{k}"] = round(agg[f"{prefix}{k}"], 5)
    out["accuracy"] = out["recall_at_1"]
    for k, v in _mrr(judged, qrels, k_values).items():
        out[f"mrr_at_{k}"] = v
    for k in k_values:
        out[f"hit_rate_at_{k}"] = round(agg[f"Success@{k}"], 5)
    out["main_score"] = out["ndcg_at_10"]
    return out


def _rounded(scores: Mapping[str, float]) -> dict[str, float]:
    # mteb's TaskResult.to_disk rounds every score to 6 decimals
    return {k: round(v, 6) for k, v in scores.items()}


def task_result(
    task_name: str, revision: str, split: str, scores: Mapping[str, float], evaluation_time: float | None
) -> dict[str, Any]:
    """One task file's document, keys in the order mteb's ``TaskResult.to_disk`` writes them."""
    entry = {**_rounded(scores), "hf_subset": SUBSET, "languages": list(LANGUAGES), "mteb_version": MTEB_VERSION}
    return {
        "dataset_revision": revision,
        "task_name": task_name,
        "mteb_version": MTEB_VERSION,
        "scores": {split: [entry]},
        "evaluation_time": evaluation_time,
        "kg_co2_emissions": None,
        "date": None,
        "evaluation_phases": None,
    }


# --- export ------------------------------------------------------------------------------------

_NAME_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def model_folder_name(model_name: str) -> str:
    """``org/name`` -> ``org__name`` (mteb's ``model_name_as_path``); a BeirctlError otherwise."""
    parts = model_name.split("/")
    if len(parts) != 2 or not all(_NAME_PART.match(p) and ".." not in p for p in parts):
        raise BeirctlError(f"--model-name {model_name!r}: give ORG/NAME (letters, digits, . _ -), e.g. my-org/my-model")
    return "__".join(parts)


def _check_revision(revision: str, option: str = "--revision") -> None:
    if not _NAME_PART.match(revision) or ".." in revision:
        raise BeirctlError(f"{option} {revision!r}: a revision is a commit hash or tag (letters, digits, . _ -)")


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _hub_id(model: object, model_name: str) -> str | None:
    """The hub model a dense retriever encoded with (``org/name[@rev]``), when it is one and not
    the exported model itself; None for local folders and ``pkg:`` models."""
    if not isinstance(model, str):
        return None
    repo = model.split("@", 1)[0]
    if not _HUB_ID.match(repo) or Path(repo).exists() or repo == model_name:
        return None
    return repo


def model_meta(model_name: str, revision: str, entry: PairResult) -> dict[str, Any]:
    """mteb's ModelMeta fields for the retriever of ``entry``, from its parameters. Fields beirctl
    does not know (embed_dim, n_parameters, licence, release date, training data...) are null."""
    params = entry.retriever.params
    dense = entry.retriever.type == "dense"
    sparse = entry.retriever.type in ("bm25", "splade") or "bm25" in entry.retriever.type
    similarity = params.get("similarity") if dense else None
    if dense and similarity == "dot" and params.get("normalize"):
        similarity = "cosine"
    prefixes = {"query": params.get("query_prefix", ""), "document": params.get("passage_prefix", "")}
    prompts = {k: v for k, v in prefixes.items() if v} if dense else {}
    return {
        "name": model_name,
        "revision": revision,
        "release_date": None,
        "languages": list(LANGUAGES),
        "n_parameters": None,
        "memory_usage_mb": None,
        "max_tokens": params.get("max_seq_length") if dense else None,
        "embed_dim": None,
        "license": None,
        "open_weights": None,
        "public_training_code": None,
        "public_training_data": None,
        "framework": ["Sentence Transformers", "PyTorch"] if dense and not params.get("encoder") else [],
        "reference": None,
        "similarity_fn_name": similarity,
        "use_instructions": bool(prefixes["query"] or prefixes["document"]) if dense else False,
        "training_datasets": None,
        "adapted_from": _hub_id(params.get("model"), model_name) if dense else None,
        "superseded_by": None,
        "modalities": ["text"],
        "model_type": ["dense"] if dense else ["sparse"] if sparse else [],
        "loader_kwargs": {"model_prompts": prompts} if prompts else {},
        "loader": None,
    }


@dataclass
class Export:
    """What :func:`export_mteb` wrote and left out."""

    folder: Path
    files: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # one line per result not exported, and why


def export_mteb(
    results_dir: str | Path,
    out_dir: str | Path,
    model_name: str,
    revision: str,
    label: str | None = None,
    data_dir: str | Path | None = None,
) -> Export:
    """Write MTEB's layout for one retriever's results in ``results_dir``, every score recomputed
    (:func:`mteb_scores`) from its stored run file and the dataset's qrels: ``<root>/<dataset>``
    (root: ``data_dir``, else $BEIRCTL_DATA_DIR, else the user cache), else the folder recorded in
    metrics.json, their md5 checked as ``compare`` checks them. Results on datasets MTEB lacks, or
    on another split than MTEB's, are left out (said in ``skipped``)."""
    from beirctl.compare import _qrels, _run_file
    from beirctl.datasets.paths import data_dir as resolve_data_dir
    from beirctl.evaluation import read_run
    from beirctl.results import collect

    folder = Path(out_dir) / model_folder_name(model_name) / revision
    _check_revision(revision)
    entries = collect(results_dir)
    labels = sorted({m.retriever.label for m in entries})
    if label is None:
        if len(labels) > 1:
            raise BeirctlError(f"results of several retrievers ({', '.join(labels)}): choose one with --retriever")
        label = labels[0] if labels else None
    elif label not in labels:
        raise BeirctlError(f"no results for retriever {label!r} (have: {', '.join(labels)})")
    mine = [m for m in entries if m.retriever.label == label]
    out = Export(folder)
    cache: dict[Path, tuple[Qrels, str]] = {}
    datasets_root = resolve_data_dir(data_dir)  # --data-dir, else $BEIRCTL_DATA_DIR, else the user cache
    forums: dict[str, float] = {}
    docs: list[tuple[str, dict[str, Any]]] = []
    for m in mine:
        task = task_for(m.dataset.name)
        if task is None:
            out.skipped.append(f"{m.dataset.name}: MTEB has no task for it")
            continue
        if m.dataset.split != task.split:
            out.skipped.append(f"{m.dataset.name}: run on {m.dataset.split!r}; MTEB's {task.name} is {task.split!r}")
            continue
        qrels = _qrels(m, datasets_root, cache)
        scores = mteb_scores(read_run(_run_file([Path(results_dir)], m)), qrels)
        evaluation_time = round(m.timings.index_s + m.timings.search_s, 3)
        docs.append((task.name, task_result(task.name, task.revision, task.split, scores, evaluation_time)))
        if m.dataset.name.startswith(f"{CQADUPSTACK}/"):
            forums[m.dataset.name] = scores["ndcg_at_10"]
    if not docs:
        raise BeirctlError(f"nothing to export for {label}: " + "; ".join(out.skipped))
    if len(forums) == len(CQADUPSTACK_FORUMS):
        mean = fmean(forums[f] for f in sorted(forums))  # mteb: numpy mean of the forums' main scores
        score = {"ndcg_at_10": mean, "main_score": mean}
        docs.append((AGGREGATE_TASK, task_result(AGGREGATE_TASK, AGGREGATE_REVISION, "test", score, None)))
    elif forums:
        missing = sorted(set(CQADUPSTACK_FORUMS) - {f.split("/", 1)[1] for f in forums})
        out.skipped.append(f"{AGGREGATE_TASK}: needs all 12 forums, missing {', '.join(missing)}")
    for name, doc in docs:
        path = folder / f"{name}.json"
        write_json(path, doc)
        out.files.append(path)
    meta_path = folder / MODEL_META_FILE
    write_json(meta_path, model_meta(model_name, revision, mine[0]))
    out.files.append(meta_path)
    return out


# --- import: a folder in that layout as a reference --------------------------------------------


@dataclass
class MtebReference:
    """A model's MTEB results as a reference table."""

    folder: Path
    model_name: str
    revision: str
    table: dict[str, dict[str, float]]  # dataset -> beirctl metric -> value, rounded to 4 decimals
    files: dict[str, Path]  # dataset -> its task file (CQADupStack: the aggregate's)
    mteb_versions: dict[str, str]  # dataset -> the mteb version that wrote its file
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"mteb:{self.model_name}@{self.revision}"


def is_mteb_folder(reference: str | Path) -> bool:
    """Whether ``reference`` names a folder (a reference given by path, not by table name)."""
    return Path(reference).is_dir()


def _task_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.json") if p.name != MODEL_META_FILE)


def _revision_folder(path: Path, revision: str | None) -> Path:
    if not path.is_dir():
        raise DataError(path, "MTEB results folder not found")
    if _task_files(path):
        if revision is not None and path.name != revision:
            raise DataError(path, f"is revision {path.name!r} of its model, not {revision!r} (--revision)")
        return path
    subs = sorted(p for p in path.iterdir() if p.is_dir() and _task_files(p))
    if not subs:
        raise DataError(path, "no MTEB task files (<Task>.json) in it or in a revision folder below it")
    if revision is not None:
        if not (path / revision).is_dir():
            have = ", ".join(p.name for p in subs)
            raise DataError(path, f"has no revision {revision!r} (--revision; it has: {have})")
        if not _task_files(path / revision):
            raise DataError(path / revision, "no MTEB task files (<Task>.json)")
        return path / revision
    if len(subs) > 1:
        have = ", ".join(p.name for p in subs)
        raise DataError(path, f"holds several revisions ({have}): give one folder or --revision")
    return subs[0]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(path, f"cannot read it ({exc})") from None
    except json.JSONDecodeError as exc:
        raise DataError(path, f"not valid JSON ({exc.msg})", exc.lineno) from None


def _model_identity(folder: Path) -> tuple[str, str]:
    meta_path = folder / MODEL_META_FILE
    name = folder.parent.name.replace("__", "/", 1)
    if not meta_path.is_file():
        return name, folder.name
    meta = _read_json(meta_path)
    if not isinstance(meta, dict):
        raise DataError(meta_path, "not an MTEB model_meta.json (expected an object)")
    declared = meta.get("revision")
    if declared is not None and str(declared) != folder.name:
        raise DataError(meta_path, f"revision {declared!r} is not its folder's, {folder.name!r}")
    return str(meta.get("name") or name), folder.name


def _split_scores(data: dict[str, Any], path: Path, split: str) -> dict[str, Any]:
    """The scores of ``split``'s default subset, in either the current layout (mteb >= 1.11:
    ``scores[split]`` a list of subset entries) or the older one (``data[split]`` a dict)."""
    if "scores" in data:
        scores = data["scores"]
        if not isinstance(scores, dict):
            raise DataError(path, "not an MTEB TaskResult: 'scores' is not an object")
        if split not in scores:
            have = ", ".join(map(str, scores)) or "none"
            raise DataError(path, f"no scores for split {split!r} (has: {have})")
        entries = scores[split]
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise DataError(path, f"not an MTEB TaskResult: scores[{split!r}] is not a list of objects")
        chosen: list[dict[str, Any]] = [e for e in entries if e.get("hf_subset", SUBSET) == SUBSET] or entries[:1]
        if not chosen:
            raise DataError(path, f"scores[{split!r}] is empty")
        return chosen[0]
    block = data.get(split)
    if not isinstance(block, dict):
        raise DataError(path, f"not an MTEB TaskResult: no 'scores' (nor an older-layout {split!r} block)")
    inner = block.get("en")  # pre-1.11 files keyed some tasks' scores by language
    result: dict[str, Any] = inner if isinstance(inner, dict) else block
    return result


def _metrics(entry: dict[str, Any], path: Path) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in entry.items():
        for prefix, name in METRIC_NAMES.items():
            if key.startswith(prefix) and key[len(prefix) :].isdigit():
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                    raise DataError(path, f"{key}: not a finite number ({value!r})")
                # figures as published: 4 decimals, as the shipped reference tables
                out[f"{name}{int(key[len(prefix) :])}"] = round(float(value), 4)
    if "nDCG@10" not in out:
        main = entry.get("main_score")
        if isinstance(main, int | float) and not isinstance(main, bool):
            out["nDCG@10"] = round(float(main), 4)
    if not out:
        raise DataError(path, "no retrieval scores in it (ndcg_at_10, recall_at_100, ...)")
    return out


def load_mteb_reference(path: str | Path, revision: str | None = None) -> MtebReference:
    """Read an MTEB results folder (``<org>__<name>/<revision>/`` or its parent with one revision,
    or ``revision`` of several) into a reference keyed by beirctl dataset names.

    Task files of non-BEIR MTEB tasks are ignored (said in ``notes``); a file that cannot be read,
    is not a TaskResult, is named for another task, or names a task like a BEIR one but not
    exactly (``Scifact``), is a DataError naming it; so is a folder with no BEIR task.
    """
    if revision is not None:
        _check_revision(revision)
    folder = _revision_folder(Path(path), revision)
    model_name, rev = _model_identity(folder)
    lowered = {n.lower(): n for n in [*TASK_NAMES, AGGREGATE_TASK]}
    table: dict[str, dict[str, float]] = {}
    files: dict[str, Path] = {}
    versions: dict[str, str] = {}
    ignored: list[str] = []
    notes: list[str] = []
    for file in _task_files(folder):
        data = _read_json(file)
        if not isinstance(data, dict):
            raise DataError(file, "not an MTEB TaskResult (expected an object)")
        name = data.get("task_name", data.get("mteb_dataset_name"))
        if not isinstance(name, str) or not name:
            raise DataError(file, "not an MTEB TaskResult: no 'task_name'")
        if name != file.stem:
            raise DataError(file, f"task_name {name!r} is not its file's name ({file.stem!r})")
        if name == AGGREGATE_TASK:
            dataset, split = CQADUPSTACK, "test"
        elif name in TASK_NAMES:
            task = TASK_NAMES[name]
            dataset, split = task.dataset, task.split
            got = data.get("dataset_revision")
            if got is not None and str(got) != task.revision:
                notes.append(
                    f"{file.name}: dataset revision {got} is not the one "
                    f"mteb {MTEB_VERSION} evaluates ({task.revision})"
                )
        elif name.lower() in lowered or name.lower().removesuffix("retrieval") in lowered:
            close = lowered.get(name.lower(), lowered.get(name.lower().removesuffix("retrieval")))
            raise DataError(file, f"unknown MTEB task {name!r} (did you mean {close!r}?)")
        else:
            ignored.append(name)
            continue
        table[dataset] = _metrics(_split_scores(data, file, split), file)
        files[dataset] = file
        versions[dataset] = str(data.get("mteb_version") or "unknown")
    if not table:
        known = ", ".join(sorted(TASK_NAMES))
        found = ", ".join(sorted(ignored)[:5]) + (", ..." if len(ignored) > 5 else "")
        raise DataError(folder, f"no BEIR task among its {len(ignored)} task files ({found}; BEIR tasks: {known})")
    if ignored:
        notes.append(f"ignored {len(ignored)} task file(s) of non-BEIR MTEB tasks")
    return MtebReference(folder, model_name, rev, table, files, versions, notes)


def convention_notes(reference: MtebReference, entries: Sequence[PairResult]) -> list[str]:
    """What MTEB's conventions do differently from how ``entries`` were made, per dataset checked."""
    mteb = get_conventions("mteb")
    summary = mteb.summary()
    lines = [f"conventions: mteb ({mteb.description}); averaging {summary['averaging']}, rounded to 5 decimals"]
    used = sorted({str((m.settings.conventions or {}).get("name", "pyserini")) for m in entries})
    for name in used:
        if name == "mteb":
            continue
        try:
            theirs = get_conventions(name)
        except KeyError:
            continue
        if theirs.averaging != mteb.averaging:
            lines.append(
                f"results under conventions {name} average {AVERAGING_TEXT[theirs.averaging]}: "
                "the same as MTEB's when every judged query has hits"
            )
    for m in sorted(entries, key=lambda e: e.dataset.name):
        task = task_for(m.dataset.name)
        if task is None or (m.dataset.name not in reference.table and CQADUPSTACK not in reference.table):
            continue
        removed = m.settings.remove_query_id_hits
        if removed and not task.ignore_identical_ids:
            lines.append(
                f"{m.dataset.name} × {m.retriever.label}: MTEB's {task.name} keeps hits whose doc id is the query id; "
                "these results removed them (remove_query_id_hits)"
            )
        elif task.ignore_identical_ids and not removed:
            lines.append(
                f"{m.dataset.name} × {m.retriever.label}: MTEB's {task.name} removes hits whose doc id is the "
                "query id; these results kept them"
            )
        if m.dataset.split != task.split:
            lines.append(
                f"{m.dataset.name} × {m.retriever.label}: run on {m.dataset.split!r}; MTEB's is {task.split!r}"
            )
    return lines
