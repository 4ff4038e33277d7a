"""Metrics through ir-measures with trec_eval ``-c`` semantics.

Every query in the qrels counts; a query the run has no hits for scores 0. Per-query
values are kept for significance tests and reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import ir_measures
from ir_measures import Measure

from beirctl.datasets.types import Qrels
from beirctl.errors import ConfigError
from beirctl.retrievers.base import Run

DEFAULT_METRICS: tuple[str, ...] = ("nDCG@10", "R@100")


def parse_metrics(names: Iterable[str]) -> list[Measure]:
    """Parse ir-measures names (``nDCG@10``, ``R@100``, ``AP``, ``RR@10``, ...)."""
    measures = []
    for name in names:
        try:
            measures.append(ir_measures.parse_measure(name))
        except (ValueError, NameError, SyntaxError, TypeError, AttributeError):
            raise ConfigError(f"unknown metric {name!r} (any ir-measures name, e.g. nDCG@10, R@100, AP)") from None
    return measures


@dataclass
class EvalResult:
    """Aggregate and per-query metric values, keyed by the metric's ir-measures name."""

    aggregate: dict[str, float]
    per_query: dict[str, dict[str, float]] = field(default_factory=dict)
    num_queries: int = 0


def evaluate(run: Run, qrels: Qrels, metrics: Sequence[str] = DEFAULT_METRICS) -> EvalResult:
    """Evaluate ``run`` against ``qrels`` (trec_eval ``-c``: all qrels queries count)."""
    measures = parse_metrics(metrics)
    run_dict = {qid: dict(hits) for qid, hits in run.items() if qid in qrels}
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
        aggregate[name] = sum(values.values()) / len(qrels) if qrels else 0.0
    return EvalResult(aggregate=aggregate, per_query=per_query, num_queries=len(qrels))
