"""The extension protocols: a retriever class named ``module:Class`` in a config (no registration,
no entry point), one's own ``Encoder`` behind ``type: dense``, the :class:`IndexContext`, the
``Resources`` a retriever class declares, and the ``Retriever`` base class itself.

No optional backend is needed here: searching with one's own encoder (exact search uses torch,
``faiss-flat`` faiss) is tested in ``test_dense``.
"""

from __future__ import annotations

import gzip
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from beirctl.config import load_config, parse_config
from beirctl.datasets import load_folder
from beirctl.dense.encoding import Encoder
from beirctl.errors import ConfigError
from beirctl.evaluation import evaluate, read_run
from beirctl.jobs import plan_pairs
from beirctl.retrievers import IndexContext, Resources, Retriever, RetrieverParams, Run, registry
from beirctl.retrievers.dense import DenseParams, DenseRetriever
from beirctl.runner import run_config
from beirctl.types import Corpus, Document, Queries, doc_text
from tests.conftest import TINY_QRELS
from tests.plugin_retrievers import HashingEncoder

PLUGIN = "beirctl_protocol_plugin"  # written to a folder put on sys.path; never registered

PLUGIN_SOURCE = '''
import re

from beirctl.retrievers import IndexContext, Resources, Retriever, RetrieverParams


class WordCountParams(RetrieverParams):
    boost: float = 1.0


class WordCount(Retriever[WordCountParams]):
    """Scores a document by how many of its words are query words, times ``boost``."""

    name = "word-count"
    Params = WordCountParams
    contexts = []  # every IndexContext it was given

    def index(self, corpus, ctx: IndexContext) -> None:
        WordCount.contexts.append(ctx)
        self.docs = {d: re.findall(r"\\w+", f"{doc.title} {doc.text}".lower()) for d, doc in corpus.items()}

    def search(self, queries, k):
        run = {}
        for qid, text in queries.items():
            words = set(re.findall(r"\\w+", text.lower()))
            scored = [(d, self.params.boost * sum(w in words for w in ws)) for d, ws in self.docs.items()]
            run[qid] = sorted([h for h in scored if h[1] > 0], key=lambda h: (-h[1], h[0]))[:k]
        return run


class Heavy(WordCount):
    resources = Resources(cpus=2)


class NotARetriever:
    pass
'''


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The plugin module's name, importable from a folder on sys.path."""
    folder = tmp_path_factory.mktemp("plugin")
    (folder / f"{PLUGIN}.py").write_text(textwrap.dedent(PLUGIN_SOURCE), encoding="utf-8")
    sys.path.insert(0, str(folder))
    yield PLUGIN
    sys.path.remove(str(folder))
    sys.modules.pop(PLUGIN, None)


def _config(tmp_path: Path, tiny: Path, retrievers: str) -> Path:
    path = tmp_path / "bench.yaml"
    path.write_text(
        f"name: protocols\ndatasets: [{{path: {tiny}}}]\nretrievers:\n{retrievers}"
        f"metrics: [nDCG@10, R@10]\ntop_k: 10\n"
        f"output_dir: {tmp_path / 'results'}\ncache_dir: {tmp_path / 'cache'}\n",
        encoding="utf-8",
    )
    return path


# -- a retriever named module:Class ------------------------------------------------------------


def test_a_module_class_retriever_runs_end_to_end(plugin: str, tiny: Path, tmp_path: Path) -> None:
    target = f"{plugin}:WordCount"
    assert target not in registry.available()  # not registered, no entry point
    cfg = load_config(_config(tmp_path, tiny, f"  - {{type: '{target}', params: {{boost: 2}}}}\n"))
    summary = run_config(cfg)
    assert summary.done == [("tiny", target)] and not summary.failed and summary.leaderboard is not None

    # By hand: d1 "cats cats ... purr" has 3 words of q1, d3 one; d4 "birds" x3 + "talk" for q2,
    # d1 and d2 "that" (a tie: doc id order); q3's own document is dropped (remove_query_id_hits).
    expected: Run = {
        "q1": [("d1", 6.0), ("d3", 2.0)],
        "q2": [("d4", 8.0), ("d1", 2.0), ("d2", 2.0)],
        "q3": [("d2", 4.0), ("d1", 2.0)],
    }
    out = tmp_path / "results" / "tiny" / target
    assert read_run(out / "run.trec.gz") == expected
    assert gzip.open(out / "run.trec.gz", "rt").readline() == f"q1 Q0 d1 1 6.000000 {target}\n"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["retriever"]["type"] == target and metrics["retriever"]["params"] == {"boost": 2.0}
    qrels: dict[str, dict[str, int]] = {}
    for q, d, rel in TINY_QRELS:
        qrels.setdefault(q, {})[d] = rel
    assert metrics["aggregate"] == pytest.approx(evaluate(expected, qrels, ["nDCG@10", "R@10"]).aggregate)

    # It was indexed with the runner's context: the dataset's name, its fingerprint, the cache.
    ctx = sys.modules[plugin].WordCount.contexts[-1]
    assert isinstance(ctx, IndexContext)
    assert ctx.dataset == "tiny" and ctx.cache_dir == tmp_path / "cache" and ctx.shard_pool is None
    assert ctx.corpus_id == load_folder(tiny, "test").fingerprint


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_such_module_xyz:Thing", "no module named 'no_such_module_xyz' on the import path"),
        ("{plugin}:Missing", "module '{plugin}' has no 'Missing'"),
        (
            "{plugin}:NotARetriever",
            "class '{plugin}:NotARetriever' for '{plugin}:NotARetriever' is not a beirctl Retriever",
        ),
        ("{plugin}:WordCountParams", "is not a beirctl Retriever subclass"),
    ],
)
def test_a_bad_module_class_is_a_one_line_config_error(
    plugin: str, tiny: Path, tmp_path: Path, target: str, message: str
) -> None:
    target, message = target.format(plugin=plugin), message.format(plugin=plugin)
    path = _config(tmp_path, tiny, f"  - {{type: bm25}}\n  - {{type: '{target}'}}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert "\n" not in text and message in text
    assert text.startswith(f"{path}:") and "retrievers[1].type" in text and repr(target) in text


def test_a_module_class_params_are_validated(plugin: str, tiny: Path, tmp_path: Path) -> None:
    path = _config(tmp_path, tiny, f"  - {{type: '{plugin}:WordCount', params: {{boost: 2, nope: 1}}}}\n")
    with pytest.raises(ConfigError, match="nope"):
        load_config(path)


# -- Resources ---------------------------------------------------------------------------------


def test_pair_resources_come_from_the_class_unless_the_config_sets_them(plugin: str, tiny: Path) -> None:
    text = (
        f"datasets: [{{path: {tiny}}}]\nretrievers:\n"
        f"  - {{type: '{plugin}:Heavy', label: declared}}\n"
        f"  - {{type: '{plugin}:Heavy', label: configured, resources: {{cpus: 3, gpus: 0.5}}}}\n"
        f"  - {{type: '{plugin}:WordCount', label: default}}\n"
        "  - {type: bm25, label: builtin, resources: {gpus: 1}}\n"
    )
    pairs, every = plan_pairs(parse_config(text))
    assert pairs == every
    got = {p.label: p.resources() for p in pairs}
    assert got == {
        "declared": Resources(cpus=2),
        "configured": Resources(cpus=3, gpus=0.5),
        "default": Resources(),
        "builtin": Resources(cpus=1, gpus=1),
    }
    assert [p.spec.resources for p in pairs][:1] == [None]  # unset in the config: the class decides


# -- the Retriever base class and IndexContext -------------------------------------------------


class ToyParams(RetrieverParams):
    alpha: float = 0.5
    words: list[str] = ["a", "b"]


class Toy(Retriever[ToyParams]):
    name = "test-toy"
    Params = ToyParams

    def index(self, corpus: Corpus, ctx: IndexContext) -> None:
        self.ctx = ctx

    def search(self, queries: Queries, k: int) -> Run:
        return {q: [] for q in queries}


def test_retriever_init_gives_typed_params_with_defaults() -> None:
    r = Toy()
    assert isinstance(r.params, ToyParams) and r.params == ToyParams()
    assert r.params.alpha == 0.5 and r.params.words == ["a", "b"]
    assert r.loaded_from_cache is False
    own = ToyParams(alpha=2.0)
    assert Toy(own).params is own
    assert Toy(ToyParams.model_validate({"alpha": 1})).settings_key() == '{"alpha":1.0,"words":["a","b"]}'
    with pytest.raises(ValidationError, match="extra"):
        ToyParams.model_validate({"alpha": 1, "beta": 2})  # unknown keys are errors
    with pytest.raises(ValidationError):
        ToyParams.model_validate({"alpha": float("nan")})

    class Incomplete(Retriever[ToyParams]):  # no search
        name = "test-incomplete"

        def index(self, corpus: Corpus, ctx: IndexContext) -> None:
            pass

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()  # type: ignore[abstract]


def test_index_context_defaults_and_is_frozen() -> None:
    ctx = IndexContext()
    assert (ctx.corpus_id, ctx.dataset, ctx.cache_dir, ctx.shard_pool, ctx.device) == ("", None, None, None, None)
    with pytest.raises(AttributeError):
        ctx.dataset = "scifact"  # type: ignore[misc]
    r = Toy()
    r.index({}, IndexContext("c1", dataset="scifact", device="cpu"))
    assert r.ctx.corpus_id == "c1" and r.ctx.dataset == "scifact" and r.ctx.device == "cpu"


# -- one's own Encoder behind type: dense (indexing; search is in test_dense) ------------------

ENCODER = "tests.plugin_retrievers:HashingEncoder"
CORPUS: Corpus = {
    "d1": Document("Cats", "Cats purr."),
    "d2": Document("", "Dogs bark loudly at birds."),
    "d3": Document("Birds", "Birds sing."),
}


def test_hashing_encoder_follows_the_encoder_protocol() -> None:
    enc = HashingEncoder(dim=16)
    assert isinstance(enc, Encoder)
    emb = enc.encode(["cats purr", "Cats PURR cats"])
    assert emb.dtype.name == "float32" and emb.shape == (2, 16)
    assert emb[0].sum() == 2 and emb[1].sum() == 3


@pytest.mark.parametrize("cached", [False, True])
def test_index_context_dataset_selects_dense_prefixes(tmp_path: Path, cached: bool) -> None:
    params = DenseParams.model_validate(
        {
            "encoder": ENCODER,
            "encoder_params": {"dim": 32},
            "query_prefix": "query: ",
            "passage_prefix": "passage: ",
            "dataset_overrides": {"arguana": {"query_prefix": ""}, "cqadupstack": {"passage_prefix": "p: "}},
        }
    )
    cache = tmp_path / "cache" if cached else None
    passages = sorted(doc_text(d.title, d.text) for d in CORPUS.values())
    cases = [
        ("arguana", "", "passage: "),
        ("cqadupstack/android", "query: ", "p: "),  # a forum: its group's override
        ("scifact", "query: ", "passage: "),  # no override: the retriever's prefixes
        (None, "query: ", "passage: "),
    ]
    seen: set[str] = set()  # texts already encoded into the cache
    for dataset, query_prefix, passage_prefix in cases:
        HashingEncoder.calls.clear()
        r = DenseRetriever(params)
        r.index(CORPUS, IndexContext("c3", dataset=dataset, cache_dir=cache))
        encoded = sorted(t for batch in HashingEncoder.calls for t in batch)
        if cached and passage_prefix in seen:  # the same passages as an earlier dataset: a cache hit
            assert encoded == [] and r.loaded_from_cache, dataset
        else:
            assert encoded == [passage_prefix + t for t in passages], dataset
        HashingEncoder.calls.clear()
        qids, emb = r.encode_queries({"q": "cats"})
        assert qids == ["q"] and emb.shape == (1, 32)
        if cached and query_prefix + "cats" in seen:
            assert HashingEncoder.calls == [], dataset
        else:
            assert HashingEncoder.calls == [[query_prefix + "cats"]], dataset
        seen |= {passage_prefix, query_prefix + "cats"}
    if cached:  # one corpus cache entry per passage prefix
        assert len(list((tmp_path / "cache" / "dense" / "corpus").iterdir())) == 2


def test_encoder_revision_keys_the_embedding_cache(tmp_path: Path) -> None:
    def index(**encoder_params: object) -> DenseRetriever:
        r = DenseRetriever(DenseParams.model_validate({"encoder": ENCODER, "encoder_params": encoder_params}))
        r.index(CORPUS, IndexContext("c3", cache_dir=tmp_path))
        return r

    first = index(revision="1")
    assert first._store is not None and not first.loaded_from_cache
    HashingEncoder.calls.clear()
    same = index(revision="1")
    assert same._store is not None and same._store.folder == first._store.folder
    assert same.loaded_from_cache and HashingEncoder.calls == []
    bumped = index(revision="2")
    assert bumped._store is not None and bumped._store.folder != first._store.folder
    assert not bumped.loaded_from_cache and len(HashingEncoder.calls) == 1


def test_encoder_params_key_the_embedding_cache(tmp_path: Path) -> None:
    """Same class, same declared name and revision, other arguments: not the same embeddings."""

    class SameName(HashingEncoder):
        def __init__(self, dim: int = 64, revision: str = "1") -> None:
            super().__init__(dim, revision)
            self.name = "hashing-bow"  # does not say dim

    import tests.plugin_retrievers as plugins

    plugins.SameName = SameName  # type: ignore[attr-defined]
    try:
        stores = []
        for dim in (4, 8):
            r = DenseRetriever(
                DenseParams.model_validate(
                    {"encoder": "tests.plugin_retrievers:SameName", "encoder_params": {"dim": dim}}
                )
            )
            r.index(CORPUS, IndexContext("c4", cache_dir=tmp_path))
            assert not r.loaded_from_cache and r._store is not None
            stores.append(r._store.folder)
        assert stores[0] != stores[1]
    finally:
        del plugins.SameName  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("encoder", "params", "message"),
    [
        ("no_such_module_xyz:Enc", {}, "cannot import it"),
        ("tests.plugin_retrievers:Nope", {}, "cannot import it"),
        ("tests.plugin_retrievers:OverlapParams", {}, "not an Encoder"),
        (ENCODER, {"width": 3}, "set encoder_params"),
    ],
)
def test_a_bad_encoder_is_a_one_line_config_error(encoder: str, params: dict[str, object], message: str) -> None:
    r = DenseRetriever(DenseParams.model_validate({"encoder": encoder, "encoder_params": params}))
    with pytest.raises(ConfigError) as info:
        r.index(CORPUS, IndexContext("c3"))
    text = str(info.value)
    assert "\n" not in text and message in text and repr(encoder) in text


def test_encoder_params_need_an_encoder() -> None:
    with pytest.raises(ValidationError, match="encoder_params: set only with encoder"):
        DenseParams.model_validate({"encoder_params": {"dim": 3}})
    with pytest.raises(ValidationError, match="module:Class"):
        DenseParams.model_validate({"encoder": "no-colon"})
