"""Collections through the ``ir_datasets`` package (``datasets: [{irds: beir/scifact/test}]``).

Any ir_datasets id with docs, queries and qrels is written once, streamed record by record,
as a BEIR folder under ``<data dir>/_irds/<id>/`` and then loaded by the folder loader: the
corpus is streamed from the file above the loader's threshold, the files are checksummed
like any folder dataset's, and a collection is exported only once (a ``.complete`` marker,
written last, says the folder is whole). The documents' title and text come from the fields
of the dataset's doc type (``BeirTitleDoc``, ``BeirTitleUrlDoc``, ``GenericDoc``, ``TrecDoc``,
...): ``title`` when the type has one, ``text`` (else ``body``, else ``default_text()``).
"""

from __future__ import annotations

import difflib
import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from beirctl.atomic import atomic_path, cache_write_errors
from beirctl.datasets.loader import file_checksums, load_folder
from beirctl.errors import BeirctlError, DataError
from beirctl.types import Dataset

SPLITS = ("test", "dev", "train")
MARKER = ".complete"
_TEXT_FIELDS = ("text", "body", "abstract", "passage", "contents")
_QUERY_FIELDS = ("text", "title", "query")


def beir_name(irds_id: str) -> str | None:
    """The BEIR dataset an ``beir/...`` id is (``beir/scifact/test`` → ``scifact``,
    ``beir/cqadupstack/android`` → ``cqadupstack/android``), else None."""
    parts = irds_id.split("/")
    if len(parts) < 2 or parts[0] != "beir":
        return None
    rest = parts[1:]
    if rest[-1] in SPLITS and len(rest) > 1:
        rest = rest[:-1]
    if rest[0] == "webis-touche2020":
        return "webis-touche2020"  # v2 is the qrels BEIR's zip ships
    return "/".join(rest)


def default_label(irds_id: str) -> str:
    """The results folder name of a collection: its BEIR name, else the id with ``-`` for ``/``."""
    return beir_name(irds_id) or irds_id.replace("/", "-")


def default_split(irds_id: str) -> str:
    last = irds_id.rsplit("/", 1)[-1]
    return last if last in SPLITS else "test"


def _module() -> Any:
    try:
        import ir_datasets
    except ImportError:
        raise BeirctlError(
            "ir_datasets collections need the ir_datasets package: pip install 'beirctl[irds]'"
        ) from None
    return ir_datasets


def lookup(irds_id: str) -> Any:
    """The ir_datasets dataset ``irds_id``; one-line errors for an unknown id (with the closest
    known ids) or a dataset without docs, queries or qrels."""
    ir_datasets = _module()
    try:
        dataset = ir_datasets.load(irds_id)
    except KeyError:
        close = difflib.get_close_matches(irds_id, list(ir_datasets.registry), n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(close)}?)" if close else " (see https://ir-datasets.com for the ids)"
        raise BeirctlError(f"unknown ir_datasets id {irds_id!r}{hint}") from None
    missing = [part for part in ("docs", "queries", "qrels") if not getattr(dataset, f"has_{part}")()]
    if missing:
        subsets = sorted(k for k in ir_datasets.registry if k.startswith(irds_id + "/"))
        hint = f" (try {', '.join(subsets[:4])})" if subsets else ""
        raise BeirctlError(f"ir_datasets id {irds_id!r} has no {' and no '.join(missing)}{hint}")
    return dataset


def _field(cls: type, names: Iterable[str]) -> str | None:
    fields = getattr(cls, "_fields", ())
    return next((name for name in names if name in fields), None)


def doc_mapping(doc_cls: type) -> tuple[str | None, str | None]:
    """(title field, text field) of an ir_datasets doc type; None: no title / ``default_text()``."""
    return _field(doc_cls, ("title",)), _field(doc_cls, _TEXT_FIELDS)


def _text(record: Any, field: str | None) -> str:
    value = getattr(record, field) if field else record.default_text()
    return "" if value is None else str(value)


def export_folder(irds_id: str, data_root: Path) -> Path:
    """Where ``irds_id`` is (or will be) exported in the BEIR folder format."""
    return data_root / "_irds" / irds_id.replace("/", "__")


def export(irds_id: str, data_root: Path, split: str) -> Path:
    """The BEIR folder of ``irds_id`` (``qrels/<split>.tsv``), writing it first when needed."""
    folder = export_folder(irds_id, data_root)
    if (folder / MARKER).is_file() and (folder / "qrels" / f"{split}.tsv").is_file():
        return folder
    dataset = lookup(irds_id)
    with cache_write_errors(folder, "ir_datasets export"):
        if folder.exists():
            shutil.rmtree(folder)  # an interrupted export: start again
        (folder / "qrels").mkdir(parents=True)
    try:
        _write(dataset, folder, split)
    except BeirctlError:
        raise
    except Exception as exc:  # ir_datasets' download and parse errors come in many types
        if isinstance(exc, OSError) and str(folder) in str(exc.filename or ""):
            with cache_write_errors(folder, "ir_datasets export"):
                raise
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(
            f"irds:{irds_id}", f"ir_datasets cannot provide it ({type(exc).__name__}: {first[:200]})"
        ) from None
    with cache_write_errors(folder, "ir_datasets export"):
        (folder / MARKER).write_text(json.dumps({"irds": irds_id, "split": split}) + "\n", encoding="utf-8")
    return folder


def _write(dataset: Any, folder: Path, split: str) -> None:
    title_field, text_field = doc_mapping(dataset.docs_cls())
    with atomic_path(folder / "corpus.jsonl") as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for doc in dataset.docs_iter():  # one at a time: never the whole corpus in memory
            title = _text(doc, title_field) if title_field else ""
            record = {"_id": str(doc.doc_id), "title": title, "text": _text(doc, text_field)}
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    query_field = _field(dataset.queries_cls(), _QUERY_FIELDS)
    with atomic_path(folder / "queries.jsonl") as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for query in dataset.queries_iter():
            fh.write(json.dumps({"_id": str(query.query_id), "text": _text(query, query_field)}, ensure_ascii=False))
            fh.write("\n")
    with atomic_path(folder / "qrels" / f"{split}.tsv") as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for qrel in dataset.qrels_iter():
            fh.write(f"{qrel.query_id}\t{qrel.doc_id}\t{int(qrel.relevance)}\n")


def load_irds(irds_id: str, data_root: Path, split: str | None = None, name: str | None = None) -> Dataset:
    """Load ``irds_id`` through its BEIR folder export (see :func:`export`)."""
    split = split or default_split(irds_id)
    folder = export(irds_id, data_root, split)
    dataset = load_folder(folder, split, name=name or default_label(irds_id))
    dataset.checksums["irds:id"] = irds_id
    return dataset


def irds_checksums(irds_id: str, data_root: Path, split: str | None = None) -> dict[str, str]:
    """The checksums :func:`load_irds` records, from the export's files (exporting it first)."""
    split = split or default_split(irds_id)
    return {**file_checksums(export(irds_id, data_root, split), split), "irds:id": irds_id}
