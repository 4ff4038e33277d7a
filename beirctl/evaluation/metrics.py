"""Metrics through ir-measures with trec_eval ``-c`` semantics.

Every query in the qrels counts; a query the run has no hits for scores 0. Per-query
values are kept for significance tests and reports.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import ir_measures
from ir_measures import Measure

from beirctl.errors import BeirctlError, ConfigError, did_you_mean
from beirctl.types import Qrels, Run

DEFAULT_METRICS: tuple[str, ...] = ("nDCG@10", "R@100")


# A tiny BEIR-like judgment set (graded, with a 0 grade) on which every metric is tried once.
_TRIAL_QRELS = {"q1": {"d1": 1, "d2": 0, "d3": 2}, "q2": {"d4": 1}}
_TRIAL_RUN = {"q1": {"d1": 3.0, "d2": 2.0, "d9": 1.0}, "q2": {"d9": 1.0}}


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


# trec_eval names (ndcg_cut_10, recall_100, map, P_5, recip_rank; also ndcg_cut.10 as trec_eval -m
# writes them) and MTEB's (ndcg_at_10, mrr_at_10): "{}" takes the cutoff.
_ALIASES = {
    "ndcg_cut": "nDCG@{}",
    "ndcg": "nDCG",
    "recall": "R@{}",
    "p": "P@{}",
    "map_cut": "AP@{}",
    "map": "AP",
    "recip_rank": "RR",
    "success": "Success@{}",
    "bpref": "Bpref",
    "rprec": "Rprec",
    "num_rel_ret": "NumRelRet",
    "num_ret": "NumRet",
    "num_rel": "NumRel",
    "ndcg_at": "nDCG@{}",
    "recall_at": "R@{}",
    "map_at": "AP@{}",
    "mrr_at": "RR@{}",
    "precision_at": "P@{}",
}
_ALIAS_FORM = re.compile(r"([A-Za-z_]+?)(?:[_.](\d+))?")
_COMMON = ("nDCG@10", "R@100", "AP", "P@10", "RR@10", "Success@10", "Bpref", "Rprec", "nDCG", "AP@100")


def metric_alias(name: str) -> str | None:
    """The ir-measures name for a trec_eval or MTEB name (``ndcg_cut_10`` → ``nDCG@10``, ``map`` →
    ``AP``, ``P_5`` → ``P@5``) or an ir-measures name in another case (``ndcg@10``); None if none."""
    text = name.strip()
    form = _ALIAS_FORM.fullmatch(text)
    if form:
        pattern, cutoff = _ALIASES.get(form.group(1).lower()), form.group(2)
        if pattern is not None and ("{}" in pattern) == (cutoff is not None):
            return pattern.format(cutoff)
    cut = min((i for i in (text.find("@"), text.find("(")) if i >= 0), default=len(text))
    head, rest = text[:cut], text[cut:]
    by_case = {key.lower(): key for key in sorted(ir_measures.measures.registry)}
    canonical = by_case.get(head.lower())
    return canonical + rest if canonical is not None and canonical != head else None


def _parse_measure(name: str) -> Measure:
    try:
        return ir_measures.parse_measure(name)
    except Exception:  # ir-measures raises ValueError, NameError, SyntaxError, AssertionError...
        alias = metric_alias(name)
        if alias is not None:
            with contextlib.suppress(Exception):
                return ir_measures.parse_measure(alias)
    raise ConfigError(
        f"unknown metric {name!r}{did_you_mean(name, _COMMON)} (any ir-measures name, e.g. nDCG@10, R@100, AP; "
        "or a trec_eval name, e.g. ndcg_cut_10, recall_100, map)"
    )


def metric_name(name: str) -> str:
    """``name`` as ir-measures reads it: unchanged when it parses, else its alias resolved."""
    with contextlib.suppress(Exception):
        ir_measures.parse_measure(name)
        return name
    return metric_alias(name) or name


@lru_cache(maxsize=256)
def _check_metric(name: object) -> Measure:
    """Parse one metric and make sure the evaluator can compute it on BEIR-style qrels."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"a metric must be a non-empty ir-measures name, got {name!r}")
    measure = _parse_measure(name)
    cutoff = measure.params.get("cutoff")
    # pytrec_eval aborts the whole process (SIGABRT) on a cutoff of 0: checked before any call.
    if cutoff is not None and (isinstance(cutoff, bool) or not isinstance(cutoff, int) or cutoff < 1):
        raise ConfigError(f"metric {name!r}: the cutoff must be a whole number of at least 1")
    for key, value in measure.params.items():
        if isinstance(value, float) and not 0 <= value <= 1e9:
            raise ConfigError(f"metric {name!r}: parameter {key}={value} is out of range")
    try:
        with _quiet_stderr():  # some providers run external tools that print to stderr
            list(ir_measures.iter_calc([measure], _TRIAL_QRELS, _TRIAL_RUN))
    except Exception as exc:  # a provider that is missing or needs other qrels (subtopics, ...)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"metric {name!r} cannot be computed by the evaluator on BEIR qrels ({reason[:200]}); "
            "use a trec_eval measure such as nDCG@10, R@100, AP, P@10, RR@10"
        ) from None
    return measure


def parse_metrics(names: Iterable[str]) -> list[Measure]:
    """Parse ir-measures names (``nDCG@10``, ``R@100``, ``AP``, ``RR@10``, ...), each checked to be
    computable on BEIR-style qrels before any work is done; an empty or repeated list is an error."""
    if isinstance(names, str):
        names = [names]
    names = list(names)
    if not names:
        raise ConfigError("no metrics: list at least one (e.g. nDCG@10)")
    measures = [_check_metric(name) for name in names]
    seen: set[str] = set()
    for measure in measures:
        if str(measure) in seen:
            raise ConfigError(f"metric {str(measure)!r} is listed twice")
        seen.add(str(measure))
    return measures


@dataclass
class EvalResult:
    """Aggregate and per-query metric values, keyed by the metric's ir-measures name."""

    aggregate: dict[str, float]
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)
    num_queries: int = 0


def _first_doc(hits: object) -> object:
    first = next(iter(hits), None)  # type: ignore[call-overload]
    return first[0] if isinstance(first, tuple) else first


def _text_ids(run: Run, qrels: Qrels) -> tuple[Run, Qrels]:
    """Query and document ids as text, as BEIR's are: an int id never equals its string, so a
    run or qrels keyed by ints would score 0 without a word. A query's hits may also be a
    ``{doc: score}`` mapping (the BEIR library's results)."""
    sides: list[Mapping[str, object]] = [run, qrels]
    text = all(type(q) is str and type(_first_doc(v)) in (str, type(None)) for side in sides for q, v in side.items())
    if text and all(not isinstance(hits, Mapping) for hits in run.values()):
        return run, qrels
    text_run: Run = {
        str(q): [(str(d), float(s)) for d, s in (hits.items() if isinstance(hits, Mapping) else hits)]
        for q, hits in run.items()
    }
    text_qrels: Qrels = {str(q): {str(d): int(r) for d, r in docs.items()} for q, docs in qrels.items()}
    return text_run, text_qrels


def evaluate(run: Run, qrels: Qrels, metrics: Sequence[str] = DEFAULT_METRICS, averaging: str = "judged") -> EvalResult:
    """Evaluate ``run`` against ``qrels``.

    ``averaging="judged"`` (trec_eval ``-c``, Pyserini): every qrels query counts, one without
    hits scores 0. ``"returned"`` (the BEIR library, MTEB): the mean is over the judged queries
    the run has hits for; per-query values still list every judged query.
    """
    measures = parse_metrics(metrics)
    if not qrels:
        raise BeirctlError("no judged queries: the qrels are empty")
    run, qrels = _text_ids(run, qrels)
    run_dict = {qid: dict(hits) for qid, hits in run.items() if qid in qrels}
    if run and not run_dict:
        # Every query would score 0: almost surely a run for another dataset or split.
        raise BeirctlError(
            f"the run and the qrels share no query id (run: {len(run)} queries, e.g. {next(iter(run))!r}; "
            f"qrels: {len(qrels)} queries, e.g. {next(iter(qrels))!r}): wrong qrels or split?"
        )
    names = [str(m) for m in measures]
    per_query: dict[str, dict[str, float]] = {name: {} for name in names}
    for m in ir_measures.iter_calc(measures, qrels, run_dict):
        per_query[str(m.measure)][m.query_id] = float(m.value)
    aggregate = {}
    for name in names:
        values = per_query[name]
        # ir-measures' pytrec_eval provider already reports queries without hits as 0;
        # fill any it leaves out so that the mean is over every judged query (-c).
        for qid in qrels:
            values.setdefault(qid, 0.0)
        # fsum: exactly rounded, so the mean does not depend on the order queries come in
        if averaging == "returned":
            counted = [v for q, v in values.items() if run_dict.get(q)]
            aggregate[name] = math.fsum(counted) / len(counted) if counted else 0.0
        else:
            aggregate[name] = math.fsum(values.values()) / len(qrels)
    return EvalResult(aggregate=aggregate, per_query=per_query, num_queries=len(qrels))
