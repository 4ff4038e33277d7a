"""TREC run files (6 columns, optionally gzipped) and qrels files (BEIR TSV or TREC 4-column)."""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from beirctl.atomic import atomic_open
from beirctl.datasets.loader import check_id, load_qrels
from beirctl.errors import DataError
from beirctl.evaluation.runs import trec_lines
from beirctl.types import Qrels, Run


def round_scores(scores: np.ndarray) -> np.ndarray:
    """``float(f"{s:.6f}")`` of each score (what a run file holds), as float64, bit for bit.

    Vectorized: ``n = rint(s * 1e6)`` is the correctly rounded (half to even) 6-decimal value
    wherever the product's rounding cannot move it across a half (its fraction is not within a
    few ulps of .5), and ``n / 1e6`` is then the double nearest ``n * 10**-6``, as ``float``
    parses it (an IEEE division of exact operands is correctly rounded). The other scores (near
    a half, not finite, or of magnitude 1e9 and up) go through Python's formatting.
    """
    x = np.asarray(scores, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        y = x * 1e6
        n = np.rint(y)
        near_half = np.abs(np.abs(y - n) - 0.5) <= np.abs(y) * 2.0**-50
        out: np.ndarray = n / 1e6
    slow = np.flatnonzero(near_half | ~(np.abs(x) < 1e9))
    if slow.size:
        out[slow] = [float(f"{v:.6f}") for v in x[slow].tolist()]
    return out


def write_run(path: str | Path, run: Run, tag: str = "beirctl") -> None:
    """Write ``run`` as a TREC run file, atomically (gzip when the name ends in ``.gz``).

    Queries are written in sorted id order and ranks start at 1, so equal runs give equal
    bytes. Scores are written with 6 decimals (like Pyserini).
    """
    with atomic_open(path, "wb") as fh:
        for qid in sorted(run):  # one write per query
            fh.write(trec_lines(qid, run[qid], tag))


def read_run(path: str | Path) -> Run:
    """Read a TREC run file (plain or gzipped), ordered by rank as written."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    opener = gzip.open if path.suffix == ".gz" else open
    run: Run = {}
    seen: dict[str, set[str]] = {}
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                fields = line.split()
                if not fields:
                    continue
                if len(fields) != 6:
                    raise DataError(
                        path, f"expected 6 columns (qid Q0 docid rank score tag), got {len(fields)}", lineno
                    )
                qid, _, doc_id, rank_text, score_text, _ = fields
                try:
                    int(rank_text)
                    score = float(score_text)
                except ValueError:
                    raise DataError(path, f"bad rank or score ({rank_text!r}, {score_text!r})", lineno) from None
                if not math.isfinite(score):
                    raise DataError(path, f"score is not finite: {score_text!r}", lineno)
                docs = seen.setdefault(qid, set())
                if doc_id in docs:
                    raise DataError(path, f"document {doc_id!r} appears twice for query {qid!r}", lineno)
                docs.add(doc_id)
                run.setdefault(qid, []).append((doc_id, score))
    except UnicodeDecodeError as exc:
        raise DataError(path, f"invalid UTF-8 ({exc.reason})") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(path, f"cannot read file ({exc})") from None
    return run


def read_qrels(path: str | Path) -> Qrels:
    """Read qrels in BEIR TSV form (with header) or TREC form (``qid 0 docid rel``)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            first = fh.readline(1 << 16)
    except OSError as exc:
        raise DataError(path, f"cannot read file ({exc})") from None
    if len(first.split()) == 4:
        return _read_trec_qrels(path)
    return load_qrels(path)[0]


def _read_trec_qrels(path: Path) -> Qrels:
    qrels: Qrels = {}
    try:
        with open(path, "rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise DataError(path, f"invalid UTF-8 byte at column {exc.start + 1}", lineno) from None
                fields = line.split()
                if not fields:
                    continue
                if len(fields) != 4:
                    raise DataError(path, f"expected 4 columns (qid iter docid rel), got {len(fields)}", lineno)
                try:
                    rel = int(fields[3])
                except ValueError:
                    raise DataError(path, f"relevance must be an integer, got {fields[3][:40]!r}", lineno) from None
                check_id(fields[0], path, lineno, "query id")
                check_id(fields[2], path, lineno, "document id")
                judged = qrels.setdefault(fields[0], {})
                if judged.get(fields[2], rel) != rel:
                    raise DataError(
                        path, f"({fields[0]!r}, {fields[2]!r}) is judged twice with different grades", lineno
                    )
                judged[fields[2]] = rel
    except OSError as exc:
        raise DataError(path, f"cannot read file ({exc})") from None
    if not qrels:
        raise DataError(path, "no judgments")
    return qrels
