"""Evaluation: TREC run I/O and metrics through ir-measures (pytrec_eval backend)."""

from beirctl.evaluation.metrics import DEFAULT_METRICS, EvalResult, evaluate, parse_metrics
from beirctl.evaluation.trec import read_qrels, read_run, round_scores, write_run

__all__ = [
    "DEFAULT_METRICS",
    "EvalResult",
    "evaluate",
    "parse_metrics",
    "read_qrels",
    "read_run",
    "round_scores",
    "write_run",
]
