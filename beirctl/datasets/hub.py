"""Load BEIR datasets through Hugging Face ``datasets``.

The hub holds each BEIR dataset as ``BeIR/<name>`` (configs ``corpus`` and ``queries``) and
its judgments as ``BeIR/<name>-qrels`` (one split per qrels file). The result is the same
:class:`Dataset` as the folder loader gives, fingerprint included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from beirctl.datasets.fingerprint import CorpusHasher
from beirctl.errors import BeirctlError, DataError
from beirctl.types import Dataset, Document, Qrels, Queries

HUB_ORG = "BeIR"


def _load(path: str, config: str | None, split: str, revision: str | None) -> Any:
    try:
        import datasets
    except ImportError:
        raise BeirctlError("the Hugging Face route needs the 'datasets' package: pip install datasets") from None
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    kwargs: dict[str, Any] = {}
    if config is None:
        # Read qrels ids as strings: type inference would turn "01" into 1.
        kwargs["features"] = datasets.Features(
            {
                "query-id": datasets.Value("string"),
                "corpus-id": datasets.Value("string"),
                "score": datasets.Value("int64"),
            }
        )
    try:
        return datasets.load_dataset(path, config, split=split, revision=revision, **kwargs)
    except Exception as exc:  # datasets raises many types (hub, file, builder errors)
        raise DataError(path, f"cannot load {config or 'qrels'}/{split} from Hugging Face ({exc})") from None


def _str(value: Any, where: str, row: int, key: str) -> str:
    if value is None:
        raise DataError(where, f"missing {key!r}", row)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(where, f"{key!r} must be a string, got {type(value).__name__}", row)
    return str(value)


def repo_paths(name: str, hub_root: str | Path | None = None) -> tuple[str, str]:
    """Dataset and qrels repository ids, or local folders in the hub's layout under ``hub_root``."""
    main, qrels = f"{HUB_ORG}/{name}", f"{HUB_ORG}/{name}-qrels"
    if hub_root is not None:
        return str(Path(hub_root) / main), str(Path(hub_root) / qrels)
    return main, qrels


def load_hub(
    name: str,
    split: str = "test",
    *,
    hub_root: str | Path | None = None,
    revision: str | None = None,
) -> Dataset:
    """Load ``BeIR/<name>`` and ``BeIR/<name>-qrels`` (``split``) with ``datasets.load_dataset``."""
    main, qrels_repo = repo_paths(name, hub_root)
    qrels: Qrels = {}
    qrels_rows = _load(qrels_repo, None, split, revision)
    where = f"{qrels_repo}:{split}"
    first_row: dict[str, int] = {}
    for row, record in enumerate(qrels_rows, start=1):
        qid = _str(record.get("query-id"), where, row, "query-id")
        doc_id = _str(record.get("corpus-id"), where, row, "corpus-id")
        score = record.get("score")
        if isinstance(score, bool) or not isinstance(score, int):
            raise DataError(where, f"score must be an integer, got {score!r}", row)
        qrels.setdefault(qid, {})[doc_id] = score
        first_row.setdefault(qid, row)
    if not qrels:
        raise DataError(where, "no judgments")

    queries: Queries = {}
    seen: set[str] = set()
    qwhere = f"{main}:queries"
    for row, record in enumerate(_load(main, "queries", "queries", revision), start=1):
        qid = _str(record.get("_id"), qwhere, row, "_id")
        if qid in seen:
            raise DataError(qwhere, f"duplicate query id {qid!r}", row)
        seen.add(qid)
        if qid in qrels:
            queries[qid] = _str(record.get("text"), qwhere, row, "text")
    for qid, row in first_row.items():
        if qid not in seen:
            raise DataError(where, f"query id {qid!r} is not in {main} queries", row)

    corpus: dict[str, Document] = {}
    hasher = CorpusHasher()
    cwhere = f"{main}:corpus"
    for row, record in enumerate(_load(main, "corpus", "corpus", revision), start=1):
        doc_id = _str(record.get("_id"), cwhere, row, "_id")
        if doc_id in corpus:
            raise DataError(cwhere, f"duplicate document id {doc_id!r}", row)
        title = record.get("title") or ""
        text = _str(record.get("text"), cwhere, row, "text")
        corpus[doc_id] = Document(str(title), text)
        hasher.update(doc_id, str(title), text)
    if not corpus:
        raise DataError(cwhere, "empty corpus: no documents")
    fingerprint = hasher.hexdigest()
    return Dataset(
        name=name,
        split=split,
        corpus=corpus,
        queries=queries,
        qrels=qrels,
        fingerprint=fingerprint,
        checksums={"corpus:sha256": fingerprint, "hub:revision": revision or "default"},
        source=f"hf:{main}",
    )
