"""metrics.json as PairResult (byte-identical round trips, its JSON schema), and one definition
of a benchmark score: show, compare, report, verify, the leaderboard and bundles agree on it,
CQADupStack counted once as the mean of its 12 forums."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from beirctl.atomic import write_json
from beirctl.cli import app
from beirctl.compare import compare
from beirctl.config import load_config
from beirctl.datasets.catalog import CQADUPSTACK, CQADUPSTACK_FORUMS
from beirctl.report import build_report
from beirctl.results import (
    LEADERBOARD_FILE,
    METRICS_FILE,
    METRICS_SCHEMA_FILE,
    PairResult,
    ResultsError,
    benchmark_scores,
    build_leaderboard,
    collect,
    metrics_schema,
    pair_dir,
    read_metrics,
    read_result,
    reference_scores,
    retriever_scores,
    score_table,
    stored_metrics_schema,
    write_leaderboard,
    write_result,
)
from beirctl.runner import run_config
from beirctl.submission import build
from beirctl.verify import load_reference, verify
from tests.conftest import REPO, SHARED_BEIR, needs_shared, write_dataset
from tests.result_factory import make_result, write_results

runner = CliRunner()


# --- metrics.json ------------------------------------------------------------------------------


def _run(tmp_path: Path, data: Path, datasets: str, retrievers: str) -> Path:
    cfg = tmp_path / "c.yaml"
    out = tmp_path / "res"
    cfg.write_text(
        f"name: t\ndatasets: [{datasets}]\nretrievers: [{retrievers}]\nmetrics: [nDCG@10, R@100]\n"
        f"output_dir: {out}\ndata_dir: {data}\n"
    )
    summary = run_config(load_config(cfg))
    assert not summary.failed and summary.leaderboard is not None
    return out


def _assert_round_trips(results: Path, tmp_path: Path, labels_in_config_order: list[str]) -> None:
    paths = sorted(results.rglob(METRICS_FILE))
    assert paths
    for path in paths:
        result = read_result(path)
        copy = tmp_path / "copy" / METRICS_FILE
        write_result(copy, result)
        assert copy.read_bytes() == path.read_bytes(), path
        assert read_metrics(path) == json.loads(path.read_text())
        plain = tmp_path / "plain.json"
        write_json(plain, json.loads(path.read_text()))
        assert plain.read_bytes() == path.read_bytes()
    # leaderboard.json: the same bytes from PairResults as the runner wrote from dicts
    entries = sorted(collect(results), key=lambda m: (labels_in_config_order.index(m.label), m.name))
    config = json.loads((results / LEADERBOARD_FILE).read_text())["config"]
    for given in (entries, [m.to_dict() for m in entries]):
        board = write_leaderboard(tmp_path / "board", given, config)
        assert board.read_bytes() == (results / LEADERBOARD_FILE).read_bytes()


def test_metrics_json_round_trips_byte_identical(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_dataset(data / "tiny")
    write_dataset(data / "other")
    results = _run(tmp_path, data, "tiny, other", "{type: rank-bm25}, {type: bm25, params: {k1: 1.5}}")
    _assert_round_trips(results, tmp_path, ["rank-bm25", "bm25"])
    assert read_result(pair_dir(results, "tiny", "bm25") / METRICS_FILE).retriever.params["k1"] == 1.5


@needs_shared
def test_real_metrics_json_round_trips_and_matches_its_schema(tmp_path: Path) -> None:
    results = _run(tmp_path, SHARED_BEIR, "scifact", "{type: bm25}")
    _assert_round_trips(results, tmp_path, ["bm25"])
    doc = json.loads((pair_dir(results, "scifact", "bm25") / METRICS_FILE).read_text())
    assert round(doc["aggregate"]["nDCG@10"], 4) == 0.6789
    jsonschema.Draft202012Validator(stored_metrics_schema()).validate(doc)


def test_schema_file_is_generated_from_the_model(tmp_path: Path) -> None:
    stored = (REPO / "beirctl" / "schemas" / METRICS_SCHEMA_FILE).read_text()
    assert stored == json.dumps(metrics_schema(), indent=2) + "\n", (
        "regenerate: python -c 'import json; from beirctl.results import metrics_schema; "
        "print(json.dumps(metrics_schema(), indent=2))' > beirctl/schemas/metrics.schema.json"
    )
    doc = make_result("scifact", "bm25", {"q1": 0.5}).to_dict()
    validator = jsonschema.Draft202012Validator(stored_metrics_schema())
    validator.validate(doc)
    mutations: list[Callable[[dict[str, Any]], object]] = [
        lambda d: d.pop("per_query"),
        lambda d: d["dataset"].update({"surprise": 1}),
        lambda d: d["dataset"].pop("group"),
        lambda d: d["timings"].update({"load_s": "fast"}),
        lambda d: d.update({"schema": "beirctl.metrics/2"}),
    ]
    for mutate in mutations:
        bad = json.loads(json.dumps(doc))
        mutate(bad)
        assert not validator.is_valid(bad)
        path = tmp_path / "bad" / METRICS_FILE
        write_json(path, bad)
        with pytest.raises(ResultsError, match=re.escape(str(path))):
            read_result(path)


def test_read_result_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / METRICS_FILE
    path.write_text("{not json")
    with pytest.raises(ResultsError, match=f"{re.escape(str(path))}: cannot read results"):
        read_result(path)
    path.write_text('{"schema": "other/1"}')
    with pytest.raises(ResultsError, match="not a beirctl metrics file"):
        read_result(path)
    doc = make_result("scifact", "bm25", {"q1": 0.5}).to_dict()
    del doc["dataset"]["num_docs"]
    path.write_text(json.dumps(doc))
    with pytest.raises(ResultsError, match=r"not a valid beirctl metrics file \(dataset.num_docs: Field required\)"):
        read_result(path)
    with pytest.raises(ResultsError, match="results folder not found"):
        collect(tmp_path / "nowhere")


# --- one definition of a benchmark score -------------------------------------------------------


def _forum_scores(base: float, step: float) -> dict[str, dict[str, float]]:
    """10 queries per forum; forum i's mean is base + i * step."""
    return {
        f: {f"q{j}": base + i * step + (j - 4.5) * 0.02 for j in range(10)} for i, f in enumerate(CQADUPSTACK_FORUMS)
    }


def _benchmark(forums: tuple[str, ...] = CQADUPSTACK_FORUMS) -> list[PairResult]:
    """bm25: scifact 0.7 and every forum 0.3 -> average 0.5, but 0.3308 were the 12 forums
    counted as 12 datasets; dense: scifact 0.72, forums 0.25 .. 0.36 (mean 0.305) -> 0.5125."""
    out = []
    for label, sci, base, step in (("bm25", 0.7, 0.3, 0.0), ("dense", 0.72, 0.25, 0.01)):
        spread = 0.01 if label == "bm25" else 0.013
        out.append(make_result("scifact", label, {f"s{j}": sci + (j - 4.5) * spread for j in range(10)}))
        per_forum = _forum_scores(base, step)
        out += [make_result(f"{CQADUPSTACK}/{f}", label, per_forum[f], group=CQADUPSTACK) for f in forums]
    return out


def test_scores_fold_cqadupstack_once() -> None:
    entries = _benchmark()
    s = retriever_scores(entries, "bm25", "nDCG@10")
    assert list(s.datasets) == [CQADUPSTACK, "scifact"]
    assert s.datasets[CQADUPSTACK] == pytest.approx(0.3) and s.average == pytest.approx(0.5)
    assert len(s.forums) == 12 and len(s.per_query[CQADUPSTACK]) == 120
    assert benchmark_scores(entries, "nDCG@10")["dense"].average == pytest.approx((0.72 + 0.305) / 2)
    # a forum run on its own (no group) is a dataset of its own
    alone = make_result(f"{CQADUPSTACK}/android", "x", {"q": 0.2})
    assert retriever_scores([alone], "x", "nDCG@10").datasets == {f"{CQADUPSTACK}/android": 0.2}
    assert retriever_scores(entries[:1], "bm25", "R@100").average is None  # no dataset has it
    with pytest.raises(ResultsError, match="missing 12"):  # nor any forum
        retriever_scores(entries, "bm25", "R@100")


def test_every_command_gives_the_leaderboard_average(tmp_path: Path) -> None:
    res = write_results(tmp_path / "res", _benchmark())
    entries = collect(res)
    board = build_leaderboard(entries)
    averages = {r["label"]: r["average"]["nDCG@10"] for r in board["retrievers"]}
    assert averages == pytest.approx({"bm25": 0.5, "dense": 0.5125})
    assert board["retrievers"][0]["num_datasets"] == 2

    shown = json.loads(runner.invoke(app, ["show", str(res), "-f", "json", "-m", "nDCG@10"]).output)
    assert shown["scores"]["average"] == {"bm25": 0.5, "dense": 0.5125}
    assert set(shown["scores"]) == {CQADUPSTACK, "scifact", "average"}
    md = runner.invoke(app, ["show", str(res), "-f", "markdown", "-m", "nDCG@10"]).output
    assert "| average | 0.5000 | 0.5125 |" in md
    table = runner.invoke(app, ["show", str(res)], env={"COLUMNS": "200"}).output
    assert "0.5000" in table and "0.5125" in table

    comp = compare(entries, "nDCG@10", baseline="bm25", n_resamples=200)
    assert comp.datasets == [CQADUPSTACK, "scifact"]
    assert comp.averages == pytest.approx(averages)
    cmp = runner.invoke(app, ["compare", str(res), "-b", "bm25", "-f", "markdown"])
    assert cmp.exit_code == 0, cmp.output
    assert "| average | 0.5000 | 0.5125 |" in cmp.output
    assert "<tr><td>average</td><td>0.5000</td><td>0.5125</td></tr>" in build_report(entries, baseline="bm25")

    bundle = build(entries, res, tmp_path / "out", label="dense")
    assert bundle.is_file()
    claimed = json.loads((tmp_path / "out" / "dense" / "results.json").read_text())
    assert claimed["average"]["nDCG@10"] == pytest.approx(0.5125)
    assert sorted(claimed["datasets"]) == [CQADUPSTACK, "scifact"]

    for text in (md, table, cmp.output, json.dumps(shown)):
        assert "0.3308" not in text  # the 12 forums counted as 12 datasets


def test_cqadupstack_is_tested_once_on_all_its_forum_queries() -> None:
    comp = compare(_benchmark(), "nDCG@10", baseline="bm25", n_resamples=200)
    test = comp.tests[CQADUPSTACK]["dense"]
    assert test.n == 120 and set(comp.tests) == {CQADUPSTACK, "scifact"}
    assert comp.delta(CQADUPSTACK, "dense") == pytest.approx(0.305 - 0.3)
    assert comp.per_query[CQADUPSTACK]["dense"]["android/q0"] == pytest.approx(0.25 - 4.5 * 0.02)


def test_incomplete_cqadupstack_is_an_error_naming_the_missing_forums(tmp_path: Path) -> None:
    eleven = CQADUPSTACK_FORUMS[:-1]
    entries = _benchmark(eleven)
    message = "bm25: CQADupStack needs all 12 forums; missing 1: wordpress"
    with pytest.raises(ResultsError, match=re.escape(message)):
        build_leaderboard(entries)
    with pytest.raises(ResultsError, match=re.escape(message)):
        compare(entries)
    res = write_results(tmp_path / "res", entries)
    out = runner.invoke(app, ["compare", str(res), "-b", "bm25"])
    assert out.exit_code == 2 and "missing 1: wordpress" in out.output
    # show keeps showing what is there: the forums one by one, no CQADupStack row, no average
    table = score_table(entries, ["nDCG@10"])
    names = [table.key(r) for r in table.rows]
    assert names == [f"{CQADUPSTACK}/{f}" for f in sorted(eleven)] + ["scifact", "average"]
    assert all(c.value is None for k, c in table.rows[-1].cells.items() if k != "dataset")
    assert table.footnotes == [message, message.replace("bm25", "dense")]
    md = runner.invoke(app, ["show", str(res), "-f", "markdown", "-m", "nDCG@10"]).output
    assert "| average |  |  |" in md and message in md
    # a metric that one forum lacks counts as that forum missing
    lacking = _benchmark()
    lacking[1] = make_result(
        f"{CQADUPSTACK}/android", "bm25", {"R@100": {"q0": 0.1}}, group=CQADUPSTACK, metric="R@100"
    )
    with pytest.raises(ResultsError, match=r"missing 1: android \(no nDCG@10\)"):
        retriever_scores(lacking, "bm25", "nDCG@10")


def test_two_results_of_one_pair_are_an_error() -> None:
    entries = [make_result("scifact", "bm25", {"q": 0.1}), make_result("scifact", "bm25", {"q": 0.2})]
    with pytest.raises(ResultsError, match="two results for scifact × bm25"):
        compare(entries)


def test_verify_checks_cqadupstack_as_one_dataset_and_per_forum() -> None:
    table = load_reference("pyserini-bm25-flat")
    forum_figures = [table[f"{CQADUPSTACK}/{f}"]["nDCG@10"] for f in CQADUPSTACK_FORUMS]
    mean = round(sum(forum_figures) / 12, 4)
    assert reference_scores(table, "nDCG@10")[CQADUPSTACK] == mean == 0.3021  # Pyserini's flat BM25 mean
    entries = [
        make_result(f"{CQADUPSTACK}/{f}", "bm25", {"q": table[f"{CQADUPSTACK}/{f}"]["nDCG@10"]}, group=CQADUPSTACK)
        for f in CQADUPSTACK_FORUMS
    ]
    report = verify(entries, "pyserini-bm25-flat")
    assert report.ok and len(report.checks) == 13
    assert (report.checks[0].dataset, report.checks[0].expected) == (CQADUPSTACK, mean)
    assert verify(entries, "pyserini-bm25-flat", datasets=[CQADUPSTACK]).ok
    partial = verify(entries[:-1], "pyserini-bm25-flat")
    assert not partial.ok
    assert partial.failures[0].dataset == CQADUPSTACK
    assert partial.failures[0].note == "CQADupStack needs all 12 forums; missing 1: wordpress"
    assert len(partial.checks) == 12  # the 11 forums are still checked one by one


def test_partial_dicts_still_build_a_leaderboard() -> None:
    """The runner passes dicts until it moves to PairResult: they validate into one."""
    doc = make_result("scifact", "x", {"q": 0.5}).to_dict()
    assert build_leaderboard([doc]) == build_leaderboard([PairResult.model_validate(doc)])
    partial = {"dataset": {"name": "scifact", "checksums": {}}, "retriever": {"label": "x", "type": "bm25"}}
    board = build_leaderboard([{**partial, "aggregate": {"nDCG@10": 0.5}}])
    assert board["retrievers"][0]["average"] == {"nDCG@10": 0.5}
