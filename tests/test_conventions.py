"""Evaluation conventions (pyserini | beir | mteb): per-dataset rules, config, results, refusals."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from beirctl.cli import app
from beirctl.config import load_config, parse_config
from beirctl.conventions import MTEB_TASKS, REGISTRY, collision_warning, get_conventions
from beirctl.errors import ConfigError
from beirctl.evaluation import evaluate
from beirctl.jobs import plan_pairs
from beirctl.results import PairResult, ResultsError, check_conventions, read_result
from beirctl.runner import run_config
from tests.conftest import SHARED_BEIR, needs_shared, write_dataset
from tests.result_factory import make_result, write_results

BASE = "datasets: [scifact, arguana, fiqa]\nretrievers:\n  - type: bm25\n"


def test_per_dataset_identical_id_rules() -> None:
    pyserini, beir, mteb = (get_conventions(n) for n in ("pyserini", "beir", "mteb"))
    for name in ("scifact", "nfcorpus", "arguana", "quora", "cqadupstack/android", "my-own-collection"):
        assert pyserini.removes_identical_ids(name) and beir.removes_identical_ids(name)
    assert [n for n in MTEB_TASKS if mteb.removes_identical_ids(n)] == ["arguana", "fever", "fiqa", "msmarco", "quora"]
    assert not mteb.removes_identical_ids("cqadupstack/gaming") and not mteb.removes_identical_ids("my-own")
    assert (pyserini.averaging, beir.averaging, mteb.averaging) == ("judged", "returned", "returned")
    assert all(c.msmarco_split == "dev" and c.keep_zero_grades for c in REGISTRY.values())
    assert mteb.rules("msmarco").split == "dev" and mteb.rules("scifact").split is None
    with pytest.raises(KeyError, match="unknown conventions 'trec'"):
        get_conventions("trec")


@pytest.mark.integration  # imports mteb (about 10 s)
def test_mteb_rules_are_those_of_the_mteb_task_definitions() -> None:
    mteb = pytest.importorskip("mteb")
    ours = get_conventions("mteb")
    for dataset, task_name in MTEB_TASKS.items():
        task = mteb.get_task(task_name)
        assert ours.removes_identical_ids(dataset) is bool(task.ignore_identical_ids), task_name
        assert (ours.rules(dataset).split or "test") in task.metadata.eval_splits, task_name


def test_averaging_judged_versus_returned() -> None:
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1}, "q3": {"d3": 1, "d9": 0}}
    run = {"q1": [("d1", 2.0)], "q3": [("d9", 2.0), ("d3", 1.0)]}  # q2: no hits
    q3 = 1 / math.log2(3)  # d3 at rank 2, one relevant doc: nDCG = (1/log2 3) / 1
    judged = evaluate(run, qrels, ["nDCG@10"])
    returned = evaluate(run, qrels, ["nDCG@10"], averaging="returned")
    assert judged.aggregate["nDCG@10"] == pytest.approx((1 + 0 + q3) / 3)
    assert returned.aggregate["nDCG@10"] == pytest.approx((1 + q3) / 2)
    assert returned.per_query == judged.per_query  # every judged query is still listed


def test_config_conventions_and_remove_query_id_hits() -> None:
    cfg = parse_config(BASE, "c.yaml")
    assert cfg.conventions == "pyserini" and cfg.identical_ids_override() is None
    assert all(cfg.removes_identical_ids(n) for n in ("scifact", "arguana", "fiqa"))
    mteb = parse_config(BASE + "conventions: mteb\n", "c.yaml")
    assert [mteb.removes_identical_ids(n) for n in ("scifact", "arguana", "fiqa")] == [False, True, True]
    off = parse_config(BASE + "remove_query_id_hits: false\n", "c.yaml")
    assert off.identical_ids_override() is False and not off.removes_identical_ids("arguana")
    assert parse_config(BASE + "conventions: beir\nremove_query_id_hits: true\n", "c.yaml").conventions == "beir"
    with pytest.raises(ConfigError) as err:
        parse_config(BASE + "conventions: mteb\nremove_query_id_hits: true\n", "c.yaml")
    assert str(err.value) == (
        "c.yaml:5: remove_query_id_hits: true conflicts with conventions: mteb, which keep self-hits on scifact; "
        "remove one of the two keys"
    )
    with pytest.raises(ConfigError, match=r"^c\.yaml:4: conventions: Input should be 'pyserini', 'beir' or 'mteb'"):
        parse_config(BASE + "conventions: trec\n", "c.yaml")


def test_default_conventions_keep_keys_and_config_hash() -> None:
    plain, explicit = parse_config(BASE, "c.yaml"), parse_config(BASE + "conventions: pyserini\n", "c.yaml")
    mteb = parse_config(BASE + "conventions: mteb\n", "c.yaml")
    assert "conventions" not in plain.results_fields() and plain.sha256() == explicit.sha256() != mteb.sha256()
    keys = [[p.key for p in plan_pairs(c)[0]] for c in (plain, explicit, mteb)]
    assert keys[0] == keys[1]
    assert not set(keys[0]) & set(keys[2])  # never reused across conventions


def _results_under(folder: Path, conventions: str | None) -> Path:
    result = make_result("scifact", f"bm25-{conventions}", {"q1": 0.5, "q2": 0.7})
    if conventions is not None:
        doc = result.to_dict()
        doc["settings"]["conventions"] = {"name": conventions, "label": conventions}
        result = PairResult.model_validate(doc)
    return write_results(folder, [result])


def test_show_and_compare_refuse_mixed_conventions(tmp_path: Path) -> None:
    res = tmp_path / "res"
    _results_under(res, None)  # written before conventions were recorded: pyserini
    _results_under(res, "pyserini")
    assert len({r.conventions for r in (read_result(p) for p in res.rglob("metrics.json"))}) == 1
    runner = CliRunner()
    assert runner.invoke(app, ["show", str(res)]).exit_code == 0
    _results_under(res, "mteb")
    for args in (["show", str(res)], ["compare", str(res)]):
        out = runner.invoke(app, args)
        assert out.exit_code == 2, out.output
        assert "different conventions" in out.output and "scifact/bm25-mteb: mteb" in out.output
        assert "Traceback" not in out.output
    allowed = runner.invoke(app, ["show", str(res), "--mixed-conventions", "-f", "csv"])
    assert allowed.exit_code == 0 and "bm25-mteb" in allowed.output


def test_check_conventions_names_the_override() -> None:
    on = make_result("tiny", "a", {"q1": 1.0})
    doc = on.to_dict()
    doc["settings"]["remove_query_id_hits"] = False
    off = PairResult.model_validate(doc)
    assert off.conventions == "pyserini, remove_query_id_hits: false"
    with pytest.raises(ResultsError, match="remove_query_id_hits: false"):
        check_conventions([on, off])
    check_conventions([on, off], mixed=True)


def test_collision_warning_text() -> None:
    assert collision_warning("arguana", ["a", "b"]) is None and collision_warning("scifact", []) is None
    assert collision_warning("cqadupstack/tex", ["1"]) is None
    text = collision_warning("mine", ["7", "3", "12", "5"])
    assert text is not None and text.startswith("mine: identical-id removal dropped the hit of 4 queries")
    assert "(e.g. '12', '3', '5')" in text


def _config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / f"c{len(list(tmp_path.glob('c*.yaml')))}.yaml"
    path.write_text(
        f"name: conv\ndatasets: [tiny]\nretrievers:\n  - type: bm25\noutput_dir: {tmp_path / 'results'}\n"
        f"data_dir: {tmp_path / 'data'}\n{extra}"
    )
    return path


def test_runner_records_conventions_and_warns_on_collisions(tiny: Path, tmp_path: Path) -> None:
    # tiny: query q3 is also the id of a document ("Which animals bark loudly?"), found by BM25.
    events: list[tuple[str, dict[str, object]]] = []
    run_config(load_config(_config(tmp_path, "")), reporter=lambda e, i: events.append((e, i)))
    metrics = json.loads((tmp_path / "results" / "tiny" / "bm25" / "metrics.json").read_text())
    block = metrics["settings"]["conventions"]
    assert block["name"] == "pyserini" and block["averaging"] == "judged"
    assert block["identical_ids"] == {
        "removed": True,
        "by": "conventions",
        "did": "removed 1 self-hits",
        "count": 1,
        "queries": ["q3"],
    }
    warnings = [str(i["message"]) for e, i in events if e == "warning"]
    assert len(warnings) == 1 and warnings[0].startswith("tiny: identical-id removal dropped the hit of 1 queries")
    assert "(e.g. 'q3')" in warnings[0]
    # MTEB keeps it on a dataset its tasks do not flag; a new key: searched again, not reused
    events.clear()
    summary = run_config(
        load_config(_config(tmp_path, "conventions: mteb\n")), reporter=lambda e, i: events.append((e, i))
    )
    assert summary.done == [("tiny", "bm25")]
    mteb = read_result(tmp_path / "results" / "tiny" / "bm25" / "metrics.json")
    assert mteb.conventions == "mteb" and mteb.settings.remove_query_id_hits is False
    assert mteb.settings.conventions is not None and mteb.settings.conventions["identical_ids"]["removed"] is False
    assert not [e for e, _ in events if e == "warning"]
    lines = gzip.open(tmp_path / "results" / "tiny" / "bm25" / "run.trec.gz", "rt").read().split("\n")
    assert any(line.split()[:3] == ["q3", "Q0", "q3"] for line in lines if line)
    board = json.loads((tmp_path / "results" / "leaderboard.json").read_text())
    assert board["retrievers"][0]["conventions"] == {
        "tiny": {"conventions": "mteb", "identical_ids": "kept hits whose doc id is the query id"}
    }
    run_config(load_config(_config(tmp_path, "conventions: beir\n")))
    beir = read_result(tmp_path / "results" / "tiny" / "bm25" / "metrics.json")
    assert beir.settings.conventions is not None and beir.settings.conventions["averaging"] == "returned"
    assert beir.settings.conventions["identical_ids"]["did"] == "removed 1 self-hits"


def _self_hits(run_file: Path) -> set[str]:
    """Queries whose run lists their own id: read straight from the TREC run file."""
    with gzip.open(run_file, "rt") as fh:
        return {cols[0] for cols in (line.split() for line in fh) if cols and cols[0] == cols[2]}


@needs_shared
@pytest.mark.parametrize("name", ["scifact", "nfcorpus"])
def test_self_hit_counts_on_real_data(name: str, tmp_path: Path) -> None:
    """On the real collection no query id is a doc id: 0 self-hits, nothing to warn about. With
    each judged query also added as a document (as ArguAna or Quora are built) BM25 finds most
    queries themselves: the count recorded equals the one read from the run kept with
    ``remove_query_id_hits: false``, and the warning fires (the dataset is not known to be so)."""
    src = SHARED_BEIR / name
    docs = [json.loads(line) for line in (src / "corpus.jsonl").open(encoding="utf-8")]
    queries = [json.loads(line) for line in (src / "queries.jsonl").open(encoding="utf-8")]
    qrels_rows = [line.rstrip("\n").split("\t") for line in (src / "qrels" / "test.tsv").open(encoding="utf-8")][1:]
    judged = {row[0] for row in qrels_rows}
    test_queries = [q for q in queries if q["_id"] in judged]
    assert not {q["_id"] for q in queries} & {d["_id"] for d in docs}
    rows = [(q, d, int(s)) for q, d, s in qrels_rows]
    write_dataset(tmp_path / "data" / name, docs, test_queries, rows)
    write_dataset(
        tmp_path / "data" / "echo",
        docs + [{"_id": q["_id"], "text": q["text"]} for q in test_queries],
        test_queries,
        rows,
    )
    out = tmp_path / "results"
    head = (
        f"name: x\nretrievers:\n  - type: bm25\n    params: {{method: lucene-exact}}\ndata_dir: {tmp_path / 'data'}\n"
    )
    kept = tmp_path / "kept.yaml"
    kept.write_text(head + f"datasets: [{name}, echo]\noutput_dir: {out / 'kept'}\nremove_query_id_hits: false\n")
    removed = tmp_path / "removed.yaml"
    removed.write_text(head + f"datasets: [{name}, echo]\noutput_dir: {out / 'removed'}\n")
    run_config(load_config(kept))
    events: list[tuple[str, dict[str, object]]] = []
    run_config(load_config(removed), reporter=lambda e, i: events.append((e, i)))
    real = read_result(out / "removed" / name / "bm25" / "metrics.json").settings.conventions
    assert real is not None and real["identical_ids"]["count"] == 0 == len(
        _self_hits(out / "kept" / name / "bm25" / "run.trec.gz")
    )
    expected = _self_hits(out / "kept" / "echo" / "bm25" / "run.trec.gz")
    assert len(expected) > 0.9 * len(test_queries)
    echo = read_result(out / "removed" / "echo" / "bm25" / "metrics.json").settings.conventions
    assert echo is not None and echo["identical_ids"]["queries"] == sorted(expected)
    assert echo["identical_ids"]["did"] == f"removed {len(expected):,} self-hits"
    assert not _self_hits(out / "removed" / "echo" / "bm25" / "run.trec.gz")
    warnings = [str(i["message"]) for e, i in events if e == "warning"]
    assert [w.split(":")[0] for w in warnings] == ["echo"] and f"hit of {len(expected):,} queries" in warnings[0]
