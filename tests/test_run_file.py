"""The ``run`` retriever (TREC run files made elsewhere) and ``beirctl import``.

On the official Lucene run files in ../shared/reference/runs: imported, they give the published
figures, and the run files (and bundle) beirctl writes from them are byte-identical to those of
its own lucene-exact ``bm25``. On hand-made and generated files: every malformed run is one
error line naming ``file:line``, exit 2 through the CLI.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from beirctl.cli import app
from beirctl.config import parse_config
from beirctl.datasets import load_folder
from beirctl.errors import DataError
from beirctl.jobs import input_checksums, plan_pairs
from beirctl.results import collect
from beirctl.retrievers import IndexContext, registry
from beirctl.retrievers.fusion import FusionParams, FusionRetriever
from beirctl.retrievers.run_file import RunFileParams, RunFileRetriever, run_path
from beirctl.runner import run_config
from tests.conftest import SHARED_BEIR, SHARED_REF, TINY_CORPUS, needs_shared, write_dataset

cli = CliRunner()
DOCS = [d["_id"] for d in TINY_CORPUS]  # d1 d2 d3 d4 q3
JUDGED = ["q1", "q2", "q3"]  # q9 is in queries.jsonl but not judged


def write_run(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = "".join(line + "\n" for line in lines).encode()
    path.write_bytes(gzip.compress(data, mtime=0) if path.suffix == ".gz" else data)
    return path


def retriever_for(tiny: Path, path: Path) -> tuple[RunFileRetriever, Any]:
    ds = load_folder(tiny, "test", name="tiny")
    r = RunFileRetriever(RunFileParams(path=str(path)))
    return r, ds


def index_and_search(tiny: Path, path: Path, k: int = 1000) -> dict[str, list[tuple[str, float]]]:
    r, ds = retriever_for(tiny, path)
    r.index(ds.corpus, IndexContext(dataset="tiny"))
    return r.search(ds.queries, k)


def tiny_config(tmp_path: Path, tiny: Path, retrievers: str, name: str = "cfg") -> Path:
    cfg = tmp_path / f"{name}.yaml"
    cfg.write_text(
        f"name: {name}\ndatasets:\n  - path: {tiny}\nretrievers:\n{retrievers}"
        f"output_dir: {tmp_path / ('results-' + name)}\ncache_dir: {tmp_path / 'cache'}\n",
        encoding="utf-8",
    )
    return cfg


# --- the retriever --------------------------------------------------------------------------------


def test_registered_and_listed() -> None:
    assert registry.get("run") is RunFileRetriever
    assert "run" in registry.available()
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    assert 'run = "beirctl.retrievers.run_file:RunFileRetriever"' in text
    assert RunFileParams().path == "runs/{dataset}.trec.gz"
    assert run_path("r/{dataset}.trec", "cqadupstack/android") == Path("r/cqadupstack-android.trec")


def test_ranks_come_from_scores_and_top_k_applies(tiny: Path, tmp_path: Path) -> None:
    # Ranks in the file are wrong on purpose; ties (0.5) go by doc id; q2 has no hits at all.
    path = write_run(
        tmp_path / "runs" / "tiny.trec",
        [
            "q1 Q0 d3 1 0.5 x",
            "q1 Q0 d1 2 0.9 x",
            "q1 Q0 d2 3 0.5 x",
            "q1 Q0 d4 9 -1.25 x",
            "q3 Q0 d2 1 2.0000001 x",  # equal to 2.0 at 6 decimals, as beirctl writes it
            "q3 Q0 d1 2 2.0 x",
        ],
    )
    run = index_and_search(tiny, path)
    assert [d for d, _ in run["q1"]] == ["d1", "d2", "d3", "d4"]
    assert [d for d, _ in run["q3"]] == ["d1", "d2"]
    assert "q2" not in run
    top2 = index_and_search(tiny, path, k=2)
    assert {q: [d for d, _ in h] for q, h in top2.items()} == {"q1": ["d1", "d2"], "q3": ["d1", "d2"]}


BAD_RUNS = [
    # (lines, suffix, line named, words in the message)
    (["q1 Q0 d1 1 0.9 x", "q1 Q0 d2 2 0.8"], ".trec", 2, "expected 6 columns"),
    (["q1 Q0 d1 1 0.9 x", "q2 Q0 d4 1 nan x"], ".trec", 2, "not finite"),
    (["q1 Q0 d1 1 0.9 x", "q2 Q0 d4 1 inf x"], ".trec", 2, "not finite"),
    (["q1 Q0 d1 1 high x"], ".trec", 1, "bad rank or score"),
    (["q1 Q0 d1 1 0.9 x", "q1 Q0 d2 2 0.8 x", "q1 Q0 d1 3 0.7 x"], ".trec.gz", 3, "appears twice"),
    (["q1 Q0 d1 1 0.9 x", "q1 Q0 nope 2 0.8 x"], ".trec", 2, "'nope' (query 'q1') is not in the corpus"),
    (["q1 Q0 d1 1 0.9 x", "q9 Q0 d1 1 0.9 x"], ".trec", 2, "query 'q9' is not one of the queries searched"),
    (["q1 Q0 d1 1 0.9 x", "q7 Q0 d2 1 0.9 x"], ".trec.gz", 2, "query 'q7' is not one of the queries searched"),
    ([], ".trec", 1, "no hits"),
]


@pytest.mark.parametrize(("lines", "suffix", "line", "words"), BAD_RUNS)
def test_malformed_run_is_one_error_naming_file_and_line(
    tiny: Path, tmp_path: Path, lines: list[str], suffix: str, line: int, words: str
) -> None:
    path = write_run(tmp_path / "runs" / f"tiny{suffix}", lines)
    with pytest.raises(DataError) as exc:
        index_and_search(tiny, path)
    assert exc.value.path == str(path) and exc.value.line == line
    assert str(exc.value).startswith(f"{path}:{line}: ") and words in str(exc.value)
    assert "\n" not in str(exc.value)


def test_gzip_garbage_names_the_line(tiny: Path, tmp_path: Path) -> None:
    good = gzip.compress("".join(f"q{i} Q0 d1 1 0.9 x\n" for i in range(5000)).encode(), mtime=0)
    cases = {
        "garbage.trec.gz": (b"this is not gzip\n", 1, "not gzip data"),
        "truncated.trec.gz": (good[: len(good) // 2], None, "cannot read file"),
        "gzipped.trec": (good, 1, "gzip data in a file not named .gz"),
        "latin1.trec": (b"q1 Q0 d1 1 0.9 x\nq1 Q0 d\xe9 2 0.8 x\n", 2, "invalid UTF-8"),
    }
    for name, (data, line, words) in cases.items():
        path = tmp_path / "runs" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        with pytest.raises(DataError) as exc:
            index_and_search(tiny, path)
        assert exc.value.line is not None and (line is None or exc.value.line == line), (name, str(exc.value))
        assert str(exc.value).startswith(f"{path}:{exc.value.line}: ") and words in str(exc.value), name


def test_missing_file_and_no_dataset_name(tiny: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="run file not found"):
        index_and_search(tiny, tmp_path / "nothing.trec")
    r, ds = retriever_for(tiny, tmp_path / "{dataset}.trec")
    with pytest.raises(Exception, match="dataset's name"):
        r.index(ds.corpus, IndexContext())


_qids = st.sampled_from(JUDGED)
_docs = st.sampled_from(DOCS)
_scores = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    hits=st.lists(st.tuples(_qids, _docs, _scores), unique_by=lambda h: (h[0], h[1]), min_size=1, max_size=15),
    ranks=st.lists(st.integers(min_value=-5, max_value=99), min_size=15, max_size=15),
    k=st.integers(min_value=1, max_value=6),
)
def test_any_valid_run_is_ranked_by_score_then_doc_id(
    tiny: Path, tmp_path: Path, hits: list[tuple[str, str, float]], ranks: list[int], k: int
) -> None:
    path = write_run(tmp_path / "gen.trec", [f"{q} Q0 {d} {r} {s!r} t" for (q, d, s), r in zip(hits, ranks)])
    run = index_and_search(tiny, path, k)
    for qid in JUDGED:
        mine = [(d, s) for q, d, s in hits if q == qid]
        expected = sorted(mine, key=lambda h: (-float(f"{h[1]:.6f}"), h[0]))[:k]
        assert run.get(qid, []) == expected


_bad_line = st.sampled_from(
    [
        ("q1 Q0 d1 1 0.5", "expected 6 columns"),
        ("q1 Q0 d1 1 0.5 t extra", "expected 6 columns"),
        ("q1 Q0 d1 1 NaN t", "not finite"),
        ("q1 Q0 d1 1 -inf t", "not finite"),
        ("q1 Q0 d1 one 0.5 t", "bad rank or score"),
        ("q2 Q0 ghost 1 0.5 t", "not in the corpus"),
        ("zz Q0 d1 1 0.5 t", "not one of the queries searched"),
    ]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    good=st.lists(st.tuples(st.sampled_from(["q2", "q3"]), _docs), unique=True, max_size=8),
    bad=_bad_line,
    where=st.integers(min_value=0, max_value=8),
    gz=st.booleans(),
)
def test_one_bad_line_anywhere_is_named(
    tiny: Path, tmp_path: Path, good: list[tuple[str, str]], bad: tuple[str, str], where: int, gz: bool
) -> None:
    lines = [f"{q} Q0 {d} 1 0.25 t" for q, d in good]
    at = min(where, len(lines))
    lines.insert(at, bad[0])
    path = write_run(tmp_path / ("gen.trec.gz" if gz else "gen.trec"), lines)
    with pytest.raises(DataError) as exc:
        index_and_search(tiny, path)
    assert exc.value.line == at + 1 and bad[1] in str(exc.value), str(exc.value)


# --- cache identity, fusion, rerank ---------------------------------------------------------------


def test_changed_run_file_reruns_the_pair(tiny: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write_run(runs / "tiny.trec", ["q1 Q0 d1 1 0.9 x", "q2 Q0 d4 1 0.9 x"])
    cfg = tiny_config(tmp_path, tiny, f"  - type: run\n    params: {{path: '{runs}/{{dataset}}.trec'}}\n")
    config = parse_config(cfg.read_text(encoding="utf-8"), cfg)
    first = run_config(config)
    assert first.done == [("tiny", "run")]
    assert run_config(config).skipped == [("tiny", "run")]
    key = plan_pairs(config)[0][0].key
    write_run(runs / "tiny.trec", ["q1 Q0 d3 1 0.9 x", "q2 Q0 d4 1 0.9 x"])
    assert plan_pairs(config)[0][0].key != key
    again = run_config(config)
    assert again.done == [("tiny", "run")]
    (entry,) = collect(again.results_dir)
    # q1 (d1 judged 1, d3 judged 2) now finds d3 alone: trec_eval's linear gains, 2 / (2 + 1/log2(3)).
    assert entry.per_query["nDCG@10"]["q1"] == pytest.approx(2 / (2 + 1 / math.log2(3)))
    # A missing file is keyed too (the pair then fails at index time, naming the file).
    assert input_checksums("run", {"path": str(tmp_path / "none.trec")}, "tiny") == {
        f"{tmp_path / 'none.trec'}:md5": "missing"
    }


def test_fusion_of_two_runs_is_the_hand_computed_rrf(tiny: Path, tmp_path: Path) -> None:
    a = write_run(tmp_path / "a" / "tiny.trec", ["q1 Q0 d1 1 3 a", "q1 Q0 d2 2 2 a", "q1 Q0 d3 3 1 a"])
    b = write_run(tmp_path / "b" / "tiny.trec.gz", ["q1 Q0 d3 1 9 b", "q1 Q0 d4 2 8 b", "q2 Q0 d4 1 1 b"])
    members = (
        "  - type: fusion\n    params:\n      rrf_k: 60\n      retrievers:\n"
        f"        - {{type: run, params: {{path: '{tmp_path}/a/{{dataset}}.trec'}}}}\n"
        f"        - {{type: run, params: {{path: '{tmp_path}/b/{{dataset}}.trec.gz'}}, weight: 2}}\n"
    )
    cfg = tiny_config(tmp_path, tiny, members)
    config = parse_config(cfg.read_text(encoding="utf-8"), cfg)
    summary = run_config(config)
    assert summary.done == [("tiny", "fusion")]
    expected = {
        "q1": {"d1": 1 / 61, "d2": 1 / 62, "d3": 1 / 63 + 2 / 61, "d4": 2 / 62},
        "q2": {"d4": 2 / 61},
    }
    from beirctl.evaluation import read_run

    written = read_run(summary.results_dir / "tiny" / "fusion" / "run.trec.gz")
    for qid, scores in expected.items():
        ranked = sorted(scores.items(), key=lambda x: (-x[1], x[0]))
        assert [d for d, _ in written[qid]] == [d for d, _ in ranked]
        assert [s for _, s in written[qid]] == pytest.approx([round(s, 6) for _, s in ranked], abs=1e-12)
    # Both members' files are in the key: changing the second re-runs the fusion.
    key = plan_pairs(config)[0][0].key
    write_run(b, ["q1 Q0 d3 1 9 b"])
    assert plan_pairs(config)[0][0].key != key
    # The fusion retriever itself, directly.
    fused = FusionRetriever(FusionParams.model_validate(config.retrievers[0].params))
    ds = load_folder(tiny, "test", name="tiny")
    fused.index(ds.corpus, IndexContext(dataset="tiny"))
    assert [d for d, _ in fused.search(ds.queries, 2)["q1"]] == ["d3", "d1"]
    assert a.is_file()


@pytest.mark.integration
def test_rerank_of_a_run_follows_the_cross_encoder(tiny: Path, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sentence_transformers")
    import numpy as np
    from sentence_transformers import CrossEncoder

    from beirctl.retrievers.rerank import RerankParams, RerankRetriever
    from beirctl.types import doc_text
    from tests.tiny_models import build_tiny_bert

    model = build_tiny_bert(tmp_path / "tiny-ce", "cross-encoder", seed=7)
    lines = [f"{q} Q0 {d} {i} {10 - i} x" for q in JUDGED for i, d in enumerate(["d4", "d3", "d2", "d1"], 1)]
    write_run(tmp_path / "runs" / "tiny.trec", lines)
    params = RerankParams.model_validate(
        {
            "first_stage": {"type": "run", "params": {"path": f"{tmp_path}/runs/{{dataset}}.trec"}},
            "model": str(model),
            "top_n": 3,
            "device": "cpu",
        }
    )
    ds = load_folder(tiny, "test", name="tiny")
    reranker = RerankRetriever(params)
    reranker.index(ds.corpus, IndexContext(dataset="tiny", cache_dir=tmp_path / "cache", device="cpu"))
    run = reranker.search(ds.queries, 10)
    ce = CrossEncoder(str(model), device="cpu")
    for qid in JUDGED:
        top = ["d4", "d3", "d2"]
        pairs = [(ds.queries[qid], doc_text(ds.corpus[d].title, ds.corpus[d].text)) for d in top]
        logits = np.asarray(ce.predict(pairs, activation_fn=lambda x: x)).reshape(-1)
        assert [d for d, _ in run[qid][:3]] == [top[i] for i in np.argsort(-logits, kind="stable")]
        assert run[qid][3][0] == "d1"  # below the top N: the run's order
    # Through a config too: the run's checksum is in the rerank pair's key.
    cfg = tiny_config(
        tmp_path,
        tiny,
        "  - type: rerank\n    params:\n"
        f"      first_stage: {{type: run, params: {{path: '{tmp_path}/runs/{{dataset}}.trec'}}}}\n"
        f"      model: '{model}'\n      top_n: 3\n      device: cpu\n",
    )
    config = parse_config(cfg.read_text(encoding="utf-8"), cfg)
    assert run_config(config).done == [("tiny", "rerank")]
    (pair,) = plan_pairs(config)[0]
    assert any(k.endswith("tiny.trec:md5") for k in input_checksums(pair.spec.type, pair.params, "tiny"))


# --- beirctl import -------------------------------------------------------------------------------


def test_import_cli_errors_are_one_line_exit_2(tiny: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "datasets.yaml"
    cfg.write_text(f"name: imp\ndatasets:\n  - path: {tiny}\n", encoding="utf-8")  # no retrievers: fine
    cases = {
        "cols": (["q1 Q0 d1 1 0.9"], "tiny.trec:1: expected 6 columns"),
        "nan": (["q1 Q0 d1 1 0.9 x", "q1 Q0 d2 2 nan x"], "tiny.trec:2: score is not finite"),
        "dup": (["q1 Q0 d1 1 0.9 x", "q1 Q0 d1 2 0.8 x"], "tiny.trec:2: document 'd1' appears twice"),
        "doc": (["q1 Q0 d1 1 0.9 x", "q2 Q0 d77 1 0.8 x"], "tiny.trec:2: document 'd77'"),
        "query": (["q1 Q0 d1 1 0.9 x", "q9 Q0 d1 1 0.8 x"], "tiny.trec:2: query 'q9' is not one"),
    }
    for name, (lines, words) in cases.items():
        write_run(tmp_path / name / "tiny.trec", lines)
        out = cli.invoke(app, ["import", str(tmp_path / name), "-c", str(cfg), "-l", name, "-o", str(tmp_path / "o")])
        assert out.exit_code == 2, (name, out.output)
        errors = [line for line in out.output.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and words in errors[0] and "Traceback" not in out.output, (name, out.output)
    (tmp_path / "gz").mkdir()
    (tmp_path / "gz" / "tiny.trec.gz").write_bytes(b"\x1f\x8bnot really gzip")
    out = cli.invoke(app, ["import", str(tmp_path / "gz"), "-c", str(cfg), "-l", "gz", "-o", str(tmp_path / "o")])
    assert out.exit_code == 2 and "tiny.trec.gz:1: cannot read file" in out.output, out.output
    out = cli.invoke(app, ["import", str(tmp_path / "empty"), "-c", str(cfg), "-l", "x"])
    assert out.exit_code == 2 and "not a folder of run files" in out.output
    (tmp_path / "none").mkdir()
    out = cli.invoke(app, ["import", str(tmp_path / "none"), "-c", str(cfg), "-l", "x"])
    assert out.exit_code == 2 and "no run file for tiny" in out.output
    write_run(tmp_path / "two" / "tiny.trec", ["q1 Q0 d1 1 0.9 x"])
    write_run(tmp_path / "two" / "tiny.txt", ["q1 Q0 d1 1 0.9 x"])
    out = cli.invoke(app, ["import", str(tmp_path / "two"), "-c", str(cfg), "-l", "x"])
    assert out.exit_code == 2 and "several run files" in out.output and "--pattern" in out.output
    out = cli.invoke(app, ["import", str(tmp_path / "two"), "-c", str(cfg), "-l", "a/b"])
    assert out.exit_code == 2 and "path separator" in out.output


def test_import_finds_the_usual_names(tmp_path: Path) -> None:
    from beirctl.cli.imports import find_template

    for name, template in {
        "scifact.trec": "{dataset}.trec",
        "scifact.trec.gz": "{dataset}.trec.gz",
        "scifact.txt": "{dataset}.txt",
        "scifact.bm25-flat.anserini-0.22.1.trec.gz": "{dataset}.bm25-flat.anserini-0.22.1.trec.gz",
        "run.beir.bm25-flat.scifact.txt": "run.beir.bm25-flat.{dataset}.txt",
    }.items():
        folder = tmp_path / name
        write_run(folder / name, ["1 Q0 d 1 1 x"])
        write_run(folder / name.replace("scifact", "cqadupstack-android"), ["1 Q0 d 1 1 x"])
        assert find_template(folder, ["scifact", "cqadupstack/android"]) == template


# --- the official Lucene runs ---------------------------------------------------------------------

OFFICIAL = ["scifact", "nfcorpus"]
METRICS = ["nDCG@10", "R@100", "R@1000"]


def _published() -> dict[str, dict[str, float]]:
    with open(SHARED_REF / "pyserini-beir-v1.0.0-bm25.tsv", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if r["variant"] == "flat"]
    return {r["dataset"]: {m: float(r[m]) for m in METRICS} for r in rows}


@pytest.fixture(scope="module")
def official(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Results of beirctl's own lucene-exact bm25, of the imported official runs (same label),
    and of an imported perturbed copy of them (another system, for compare/meta/report)."""
    root = tmp_path_factory.mktemp("official")
    common = f"data_dir: {SHARED_BEIR}\ncache_dir: {root / 'cache'}\nmetrics: [{', '.join(METRICS)}]\n"
    datasets = f"datasets: [{', '.join(OFFICIAL)}]\n"
    own = root / "own.yaml"
    own.write_text(
        f"name: own\n{datasets}retrievers:\n  - {{type: bm25, label: bm25-flat}}\noutput_dir: {root / 'own'}\n{common}",
        encoding="utf-8",
    )
    assert run_config(parse_config(own.read_text(encoding="utf-8"), own)).failed == []
    imp = root / "imp.yaml"
    imp.write_text(f"name: imp\n{datasets}{common}", encoding="utf-8")
    runs = SHARED_REF / "runs"
    out = cli.invoke(app, ["import", str(runs), "-c", str(imp), "-l", "bm25-flat", "-o", str(root / "imported")])
    assert out.exit_code == 0, out.output
    # Another system: each query's top 20 reversed (its own scores), the rest as they are.
    perturbed = root / "perturbed-runs"
    perturbed.mkdir()
    for ds in OFFICIAL:
        (src,) = runs.glob(f"{ds}.*.trec.gz")
        by_q: dict[str, list[list[str]]] = {}
        with gzip.open(src, "rt", encoding="utf-8") as fh:
            for line in fh:
                f = line.split()
                by_q.setdefault(f[0], []).append(f)
        lines = []
        for q, hits in by_q.items():
            docs = [h[2] for h in hits[:20]][::-1] + [h[2] for h in hits[20:]]
            lines += [f"{q} Q0 {d} {i} {h[4]} p" for i, (d, h) in enumerate(zip(docs, hits), 1)]
        write_run(perturbed / f"{ds}.mine.trec", lines)
    out = cli.invoke(
        app,
        ["import", str(perturbed), "-c", str(imp), "-l", "top20-reversed", "--pattern", "{dataset}.mine.trec"]
        + ["-o", str(root / "perturbed")],
    )
    assert out.exit_code == 0, out.output
    return {"root": root, "own": root / "own", "imported": root / "imported", "perturbed": root / "perturbed"}


@needs_shared
def test_imported_official_runs_give_the_published_figures(official: dict[str, Path]) -> None:
    published = _published()
    entries = {e.dataset.name: e for e in collect(official["imported"])}
    assert sorted(entries) == sorted(OFFICIAL)
    for ds, entry in entries.items():
        assert entry.retriever.type == "run" and entry.retriever.label == "bm25-flat"
        assert {m: round(entry.aggregate[m], 4) for m in METRICS} == published[ds], ds
    out = cli.invoke(app, ["verify", str(official["imported"]), "-r", "pyserini-bm25-flat", "--tolerance", "0"])
    assert out.exit_code == 0, out.output


@needs_shared
def test_official_runs_order_is_score_then_doc_id() -> None:
    """Anserini's 4-decimal scores with ties lowered by 1e-6: ranking by score, then doc id,
    gives the file's own order (and ranks 1..n), query by query."""
    for src in sorted((SHARED_REF / "runs").glob("*.trec.gz")):
        by_q: dict[str, list[tuple[str, float, int]]] = {}
        with gzip.open(src, "rt", encoding="utf-8") as fh:
            for line in fh:
                q, _, d, r, s, _ = line.split()
                by_q.setdefault(q, []).append((d, float(s), int(r)))
        for hits in by_q.values():
            assert sorted(hits, key=lambda h: (-h[1], h[0])) == hits
            assert [h[2] for h in hits] == list(range(1, len(hits) + 1))


@needs_shared
def test_imported_run_files_are_those_of_lucene_exact_bm25(official: dict[str, Path]) -> None:
    for ds in OFFICIAL:
        mine = (official["imported"] / ds / "bm25-flat" / "run.trec.gz").read_bytes()
        own = (official["own"] / ds / "bm25-flat" / "run.trec.gz").read_bytes()
        assert mine == own, ds
        # ... which is the official file itself, less its tag.
        (src,) = (SHARED_REF / "runs").glob(f"{ds}.*.trec.gz")
        official_text = gzip.decompress(src.read_bytes()).decode().replace(" Anserini\n", " bm25-flat\n")
        assert gzip.decompress(mine).decode() == official_text


@needs_shared
def test_bundles_are_byte_identical_but_for_what_the_retriever_is(official: dict[str, Path]) -> None:
    from beirctl import submission

    meta = {
        "model.name": "bm25-flat",
        "training.zero_shot": "true",
        "training.saw_beir_test": "false",
    }
    out = official["root"] / "bundles"
    own_entries = collect(official["own"])
    version = own_entries[0].provenance.packages.get("beirctl")
    submission.build(own_entries, official["own"], out / "own", meta=meta)
    imported = collect(official["imported"])
    submission.build(imported, official["imported"], out / "imp", meta={**meta, "model.revision": f"beirctl {version}"})
    a, b = out / "own" / "bm25-flat", out / "imp" / "bm25-flat"
    files = sorted(p.relative_to(a).as_posix() for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file())
    assert {"runs/scifact.trec.gz", "runs/nfcorpus.trec.gz", "results.json", "metadata.json"} <= set(files)
    for name in files:
        if name != "metadata.json":
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
    ma = json.loads((a / "metadata.json").read_text(encoding="utf-8"))
    mb = json.loads((b / "metadata.json").read_text(encoding="utf-8"))
    differ = {k for k in ma.keys() | mb.keys() if ma.get(k) != mb.get(k)}
    # What the retriever is (bm25 with its parameters vs run with its path), so beirctl's own code
    # and BM25 settings are recorded only for the former; the config (hence its checksum); the time.
    assert differ <= {"retriever", "code", "bm25", "config_sha256", "created"}, differ
    assert {"retriever", "config_sha256"} <= differ
    assert ma["retriever"]["type"] == "bm25" and mb["retriever"]["type"] == "run"
    assert mb["checksums"] == ma["checksums"] and mb["datasets"] == ma["datasets"] == sorted(OFFICIAL)


@needs_shared
def test_compare_meta_report_work_on_imported_results(official: dict[str, Path]) -> None:
    folders = [str(official["imported"]), str(official["perturbed"])]
    out = cli.invoke(app, ["compare", *folders, "-b", "bm25-flat", "-f", "json"])
    assert out.exit_code == 0, out.output
    assert "0.6789" in out.output or "0.67889" in out.output
    perturbed = {e.dataset.name: e for e in collect(official["perturbed"])}
    value = perturbed["scifact"].aggregate["nDCG@10"]
    assert value < 0.6789 and f"{value:.4f}"[:5] in out.output
    out = cli.invoke(app, ["meta", *folders, "-b", "bm25-flat", "-f", "json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert "top20-reversed" in json.dumps(data)
    report = official["root"] / "report.html"
    out = cli.invoke(app, ["report", *folders, "-b", "bm25-flat", "-o", str(report)])
    assert out.exit_code == 0, out.output
    html = report.read_text(encoding="utf-8")
    assert "top20-reversed" in html and "0.6789" in html


def test_dataset_folder_names_reach_the_template(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "data" / "mine")
    write_run(tmp_path / "runs" / "mine.trec", ["q1 Q0 d1 1 1 x"])
    cfg = tiny_config(tmp_path, folder, f"  - {{type: run, params: {{path: '{tmp_path}/runs/{{dataset}}.trec'}}}}\n")
    summary = run_config(parse_config(cfg.read_text(encoding="utf-8"), cfg))
    assert summary.done == [("mine", "run")]
