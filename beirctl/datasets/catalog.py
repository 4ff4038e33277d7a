"""The BEIR datasets: official download URLs, checksums and sizes.

Sources: the BEIR README's dataset table (URLs, MD5s, query counts) and Pyserini's BEIR
v1.0.0 index statistics (document counts). CQADupStack ships as one zip holding 12 forums,
each a dataset of its own; its score is the unweighted mean over the forums.
"""

from __future__ import annotations

from dataclasses import dataclass

from beirctl.types import CQADUPSTACK_FORUMS as CQADUPSTACK_FORUMS  # re-exported: the catalog names them

BEIR_URL = "https://public.ukp.informatik.tu-darmstadt.de/thakur/BEIR/datasets/{name}.zip"

CQADUPSTACK = "cqadupstack"


@dataclass(frozen=True)
class DatasetInfo:
    """Catalog entry of one BEIR dataset (or CQADupStack forum)."""

    name: str
    docs: int
    queries: int  # queries in the evaluated split
    split: str = "test"
    md5: str | None = None  # of the official zip; None when not publicly downloadable
    zip_bytes: int | None = None
    license: str = ""
    archive: str | None = None  # the zip that holds it when not its own (CQADupStack forums)

    @property
    def url(self) -> str | None:
        if self.md5 is None:
            return None
        return BEIR_URL.format(name=self.archive or self.name)

    @property
    def public(self) -> bool:
        return self.md5 is not None


_PRIVATE = "not redistributed by BEIR; build it yourself from the original source"

DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in [
        DatasetInfo(
            "msmarco",
            8_841_823,
            6_980,
            "dev",
            "444067daf65d982533ea17ebd59501e4",
            1_082_258_632,
            "MS MARCO terms: non-commercial research use",
        ),
        DatasetInfo(
            "trec-covid", 171_332, 50, "test", "ce62140cb23feb9becf6270d0d1fe6d1", 73_876_720, "CORD-19 dataset licence"
        ),
        DatasetInfo(
            "nfcorpus",
            3_633,
            323,
            "test",
            "a89dba18a62ef92f7d323ec890a0d38d",
            2_448_432,
            "NFCorpus terms: research use",
        ),
        DatasetInfo("bioasq", 14_914_603, 500, "test", None, None, "BioASQ licence; " + _PRIVATE),
        DatasetInfo("nq", 2_681_468, 3_452, "test", "d4d3d2e48787a744b6f6e691ff534307", 498_307_926, "CC BY-SA 3.0"),
        DatasetInfo(
            "hotpotqa", 5_233_329, 7_405, "test", "f412724f78b0d91183a0e86805e16114", 654_025_350, "CC BY-SA 4.0"
        ),
        DatasetInfo(
            "fiqa", 57_638, 648, "test", "17918ed23cd04fb15047f73e6c3bd9d9", 17_948_027, "FiQA 2018 challenge terms"
        ),
        DatasetInfo("signal1m", 2_866_316, 97, "test", None, None, "Signal Media licence; " + _PRIVATE),
        DatasetInfo("trec-news", 594_977, 57, "test", None, None, "TREC Washington Post licence; " + _PRIVATE),
        DatasetInfo("robust04", 528_155, 249, "test", None, None, "TREC disks 4&5 licence; " + _PRIVATE),
        DatasetInfo(
            "arguana", 8_674, 1_406, "test", "8ad3e3c2a5867cdced806d6503f29b99", 3_773_617, "CC BY 4.0 (args.me)"
        ),
        DatasetInfo(
            "webis-touche2020",
            382_545,
            49,
            "test",
            "46f650ba5a527fc69e0a6521c5a23563",
            227_132_363,
            "CC BY 4.0 (args.me)",
        ),
        DatasetInfo(
            "quora",
            522_931,
            10_000,
            "test",
            "18fb154900ba42a600f84b839c173167",
            15_853_968,
            "Quora Question Pairs terms",
        ),
        DatasetInfo(
            "dbpedia-entity",
            4_635_922,
            400,
            "test",
            "c2a39eb420a3164af735795df012ac2c",
            639_285_131,
            "CC BY-SA 3.0 (DBpedia)",
        ),
        DatasetInfo(
            "scidocs",
            25_657,
            1_000,
            "test",
            "38121350fc3a4d2f48850f6aff52e4a9",
            142_471_588,
            "CC BY 4.0 (SPECTER/SciDocs)",
        ),
        DatasetInfo(
            "fever",
            5_416_568,
            6_666,
            "test",
            "5a818580227bfb4b35bb6fa46d9b6c03",
            1_236_988_269,
            "CC BY-SA 3.0 (Wikipedia)",
        ),
        DatasetInfo(
            "climate-fever",
            5_416_593,
            1_535,
            "test",
            "8b66f0a9126c521bae2bde127b4dc99d",
            1_228_666_652,
            "CC BY-SA 3.0 (Wikipedia)",
        ),
        DatasetInfo("scifact", 5_183, 300, "test", "5f7d1de60b170fc8027bb7898e2efca1", 2_816_079, "CC BY-NC 2.0"),
    ]
}

# The zip holding all 12 forums (one download for all of them).
CQADUPSTACK_MD5 = "4e41456d7df8ee7760a7f866133bda78"
_CQA_COUNTS = {
    "android": (22_998, 699),
    "english": (40_221, 1_570),
    "gaming": (45_301, 1_595),
    "gis": (37_637, 885),
    "mathematica": (16_705, 804),
    "physics": (38_316, 1_039),
    "programmers": (32_176, 876),
    "stats": (42_269, 652),
    "tex": (68_184, 2_906),
    "unix": (47_382, 1_072),
    "webmasters": (17_405, 506),
    "wordpress": (48_605, 541),
}
for _forum in CQADUPSTACK_FORUMS:
    _docs, _queries = _CQA_COUNTS[_forum]
    DATASETS[f"{CQADUPSTACK}/{_forum}"] = DatasetInfo(
        f"{CQADUPSTACK}/{_forum}",
        _docs,
        _queries,
        "test",
        CQADUPSTACK_MD5,
        None,
        "StackExchange data dump, CC BY-SA",
        archive=CQADUPSTACK,
    )

# The 18 datasets of the BEIR benchmark (MS MARCO is its training set, evaluated on dev).
BENCHMARK: tuple[str, ...] = (
    "trec-covid",
    "bioasq",
    "nfcorpus",
    "nq",
    "hotpotqa",
    "fiqa",
    "signal1m",
    "trec-news",
    "robust04",
    "arguana",
    "webis-touche2020",
    CQADUPSTACK,
    "quora",
    "dbpedia-entity",
    "scidocs",
    "fever",
    "climate-fever",
    "scifact",
)
PUBLIC_BENCHMARK: tuple[str, ...] = tuple(n for n in BENCHMARK if n == CQADUPSTACK or DATASETS[n].public)


def expand(name: str) -> list[str]:
    """Expand ``cqadupstack`` into its 12 forums; other names map to themselves."""
    if name == CQADUPSTACK:
        return [f"{CQADUPSTACK}/{forum}" for forum in CQADUPSTACK_FORUMS]
    return [name]


def archive_of(name: str) -> str:
    """The name of the zip a dataset comes in (``cqadupstack`` for its forums)."""
    info = DATASETS.get(name)
    return (info.archive or info.name) if info else name


# The ir_datasets id of each BEIR dataset's evaluated split (its beir/ collection; none for the
# four BEIR does not redistribute). Touché: v2, the qrels BEIR's zip ships.
_IRDS_SPLIT_IDS = {"msmarco", "nfcorpus", "hotpotqa", "fiqa", "quora", "dbpedia-entity", "fever", "scifact"}
IRDS_IDS: dict[str, str] = {
    name: f"beir/{name}/{info.split}" if name in _IRDS_SPLIT_IDS else f"beir/{name}"
    for name, info in DATASETS.items()
    if info.public and name != "webis-touche2020"
}
IRDS_IDS["webis-touche2020"] = "beir/webis-touche2020/v2"


def sources(name: str) -> dict[str, str]:
    """Where dataset ``name`` can come from: ``zip`` (the official BEIR zip), ``hf`` (the
    Hugging Face repository, ``source: hf``) and ``irds`` (the ir_datasets id, ``irds:``)."""
    info = DATASETS.get(name)
    if info is None or not info.public:
        return {}
    found = {"zip": f"{archive_of(name)}.zip"}
    if info.archive is None:
        found["hf"] = f"BeIR/{name}"
    found["irds"] = IRDS_IDS[name]
    return found
