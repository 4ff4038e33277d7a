"""Evaluation conventions: what Pyserini, the BEIR library and MTEB each apply, per dataset.

The same run scores differently in the three toolkits because each applies its own rules
silently. This registry names them so that a result can say which it was computed under.

Sources (read, not guessed):

- Pyserini's BEIR regressions (``beir-v1.0.0-*``) search with ``-removeQuery`` on every
  dataset and evaluate with ``trec_eval -c``: every judged query counts, one without hits
  scores 0.
- The BEIR library's ``EvaluateRetrieval.evaluate(..., ignore_identical_ids=True)``: identical
  query and document ids are dropped on every dataset by default; pytrec_eval scores the
  queries both in the results and the qrels, and the mean is over those.
- MTEB (2.26): ``AbsTaskRetrieval.ignore_identical_ids`` is False unless a task sets it; of
  the BEIR tasks, ArguAna, FEVER, FiQA2018, MSMARCO and QuoraRetrieval set it. Qrels keep every
  grade (0 included); metrics are pytrec_eval's, averaged over the queries in both the
  results and the qrels (mteb/_evaluators/retrieval_metrics.py).

All three evaluate MS MARCO on its dev split, score CQADupStack as the unweighted mean of its 12
forums, use the Touché-2020 v2 qrels that BEIR's zip ships, and keep 0-grade judgments (they
count as judged non-relevant).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from beirctl.types import CQADUPSTACK_FORUMS

ConventionsName = Literal["pyserini", "beir", "mteb"]
NAMES: tuple[ConventionsName, ...] = ("pyserini", "beir", "mteb")
DEFAULT: ConventionsName = "pyserini"

# How a metric's mean is taken: over every judged query (trec_eval -c; a query without hits
# scores 0) or over the judged queries the run returned hits for.
Averaging = Literal["judged", "returned"]

# BEIR dataset name -> MTEB task name (the BEIR retrieval tasks MTEB has).
MTEB_TASKS: dict[str, str] = {
    "arguana": "ArguAna",
    "climate-fever": "ClimateFEVER",
    "dbpedia-entity": "DBPedia",
    "fever": "FEVER",
    "fiqa": "FiQA2018",
    "hotpotqa": "HotpotQA",
    "msmarco": "MSMARCO",
    "nfcorpus": "NFCorpus",
    "nq": "NQ",
    "quora": "QuoraRetrieval",
    "scidocs": "SCIDOCS",
    "scifact": "SciFact",
    "trec-covid": "TRECCOVID",
    "webis-touche2020": "Touche2020",
    **{f"cqadupstack/{forum}": f"CQADupstack{forum.capitalize()}Retrieval" for forum in CQADUPSTACK_FORUMS},
}

# The MTEB tasks whose definition sets ignore_identical_ids = True (BEIR datasets only).
MTEB_IGNORE_IDENTICAL_IDS: frozenset[str] = frozenset({"arguana", "fever", "fiqa", "msmarco", "quora"})

# Datasets whose queries are themselves documents of the corpus, so that a query finding
# itself is expected: ArguAna (a query is an argument of the corpus), Quora (a question of the
# corpus) and the CQADupStack forums (a query is a forum thread). Elsewhere a query id equal
# to a doc id is more likely a collision of two numberings (1..N), see :func:`collision_warning`.
QUERIES_IN_CORPUS: frozenset[str] = frozenset(
    {"arguana", "quora", *(name for name in MTEB_TASKS if name.startswith("cqadupstack/"))}
)


@dataclass(frozen=True)
class DatasetRules:
    """What a set of conventions does on one dataset."""

    remove_identical_ids: bool  # drop hits whose doc id equals the query id
    averaging: Averaging
    keep_zero_grades: bool  # 0-grade judgments stay (judged non-relevant)
    split: str | None  # the split the conventions evaluate (None: the catalog's)


@dataclass(frozen=True)
class Conventions:
    """One toolkit's evaluation conventions."""

    name: ConventionsName
    description: str
    identical_ids: Literal["all"] | frozenset[str]  # the datasets identical-id removal applies to
    averaging: Averaging
    keep_zero_grades: bool = True
    msmarco_split: str = "dev"
    cqadupstack: str = "unweighted mean of the 12 forums"
    touche_qrels: str = "v2 (as in BEIR's webis-touche2020.zip)"
    score_rounding: int | None = None  # decimals each mean is rounded to in the toolkit's output

    def removes_identical_ids(self, dataset: str) -> bool:
        """Whether hits with the query's own id are dropped on ``dataset`` (a results name)."""
        return self.identical_ids == "all" or dataset in self.identical_ids

    def rules(self, dataset: str) -> DatasetRules:
        """The rules applied on ``dataset`` (a results name such as ``cqadupstack/android``)."""
        return DatasetRules(
            remove_identical_ids=self.removes_identical_ids(dataset),
            averaging=self.averaging,
            keep_zero_grades=self.keep_zero_grades,
            split=self.msmarco_split if dataset == "msmarco" else None,
        )

    def summary(self) -> dict[str, str]:
        """Each rule in words, as results record them."""
        ids = "every dataset" if self.identical_ids == "all" else ", ".join(sorted(self.identical_ids))
        return {
            "identical_id_removal": ids,
            "averaging": AVERAGING_TEXT[self.averaging],
            "zero_grades": "kept (judged non-relevant)" if self.keep_zero_grades else "dropped",
            "msmarco_split": self.msmarco_split,
            "cqadupstack": self.cqadupstack,
            "touche_qrels": self.touche_qrels,
        }


AVERAGING_TEXT: dict[Averaging, str] = {
    "judged": "over every judged query, one without hits scoring 0 (trec_eval -c)",
    "returned": "over the judged queries the run has hits for",
}

REGISTRY: dict[ConventionsName, Conventions] = {
    "pyserini": Conventions(
        "pyserini",
        "Pyserini's BEIR regressions: -removeQuery everywhere, trec_eval -c",
        identical_ids="all",
        averaging="judged",
    ),
    "beir": Conventions(
        "beir",
        "the BEIR library's EvaluateRetrieval: ignore_identical_ids=True, pytrec_eval over returned queries",
        identical_ids="all",
        averaging="returned",
        score_rounding=5,
    ),
    "mteb": Conventions(
        "mteb",
        "MTEB: identical ids dropped only where a task sets ignore_identical_ids, pytrec_eval over returned queries",
        identical_ids=MTEB_IGNORE_IDENTICAL_IDS,
        averaging="returned",
        score_rounding=5,
    ),
}


def get_conventions(name: str) -> Conventions:
    """The conventions called ``name`` (pyserini | beir | mteb); KeyError names the known ones."""
    try:
        return REGISTRY[name]  # type: ignore[index]
    except KeyError:
        raise KeyError(f"unknown conventions {name!r} (known: {', '.join(NAMES)})") from None


def collision_warning(dataset: str, removed: list[str]) -> str | None:
    """The warning for identical-id removal that removed hits where queries are not known to be
    documents of the corpus (query and doc ids merely numbered alike), or None."""
    if not removed or dataset in QUERIES_IN_CORPUS:
        return None
    examples = ", ".join(repr(q) for q in sorted(removed)[:3])
    return (
        f"{dataset}: identical-id removal dropped the hit of {len(removed):,} queries whose id is also a doc id "
        f"(e.g. {examples}), but its queries are not known to be in the corpus: if the ids merely collide, "
        "set remove_query_id_hits: false"
    )
