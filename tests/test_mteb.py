"""MTEB's results layout: `beirctl export mteb`, MTEB folders as verify/show references.

Exact values come from pytrec_eval called here directly, from hand computation, and (integration
tier, when the mteb package is installed) from mteb's own evaluator and result loader.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest
import pytrec_eval
from typer.testing import CliRunner

from beirctl.cli import app
from beirctl.datasets.catalog import CQADUPSTACK_FORUMS
from beirctl.evaluation import read_qrels, read_run, write_run
from beirctl.mteb import K_VALUES, TASK_NAMES, TASKS, load_mteb_reference, mteb_scores
from beirctl.results import RUN_FILE, PairResult, pair_dir
from beirctl.types import Qrels, Run
from tests.conftest import SHARED_BEIR, SHARED_REF, needs_shared, write_dataset
from tests.result_factory import make_result, write_results

runner = CliRunner()

# q1: d3 and d1 tie at 2.0 (MTEB and trec_eval rank the larger doc id first: d3); q4 is judged
# but has no hits, q8 has hits but is not judged: MTEB averages over q1..q3 only.
QRELS: Qrels = {"q1": {"d1": 1, "d3": 2, "d5": 0}, "q2": {"d4": 1}, "q3": {"d2": 1}, "q4": {"d9": 1}}
RUN: Run = {
    "q1": [("d5", 3.0), ("d1", 2.0), ("d3", 2.0), ("d7", 1.0)],
    "q2": [("d2", 1.0), ("d4", 0.5)],
    "q3": [("d2", 0.9)],
    "q8": [("d1", 1.0)],
}
PYTREC = {"ndcg_at_": "ndcg_cut_", "map_at_": "map_cut_", "recall_at_": "recall_", "precision_at_": "P_"}


def _pytrec_reference(run: Run, qrels: Qrels) -> dict[str, float]:
    """MTEB's pytrec_eval keys computed here with pytrec_eval itself: mean over the judged queries
    of the run, rounded to 5 decimals."""
    ks = ",".join(map(str, K_VALUES))
    measures = {f"ndcg_cut.{ks}", f"map_cut.{ks}", f"recall.{ks}", f"P.{ks}", f"success.{ks}"}
    per_query = pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(
        {q: dict(h) for q, h in run.items() if q in qrels}
    )
    out = {}
    for key, name in [*PYTREC.items(), ("hit_rate_at_", "success_")]:
        for k in K_VALUES:
            out[f"{key}{k}"] = round(sum(v[f"{name}{k}"] for v in per_query.values()) / len(per_query), 5)
    return out


@pytest.mark.unit
def test_scores_match_pytrec_eval_and_hand_values() -> None:
    got = mteb_scores(RUN, QRELS)
    want = _pytrec_reference(RUN, QRELS)
    for key, value in want.items():
        assert got[key] == value, key
    # by hand, over q1..q3 (q4 without hits and the unjudged q8 do not count)
    assert got["recall_at_1"] == got["accuracy"] == 0.33333  # only q3 has its relevant doc first
    assert got["precision_at_3"] == 0.44444  # (2/3 + 1/3 + 1/3) / 3
    assert got["hit_rate_at_1"] == 0.33333 and got["hit_rate_at_3"] == 1.0
    assert got["ndcg_at_1"] == 0.33333  # q1's first hit is d5, graded 0
    # q1: d5, d3, d1 (tie broken by doc id, descending): first relevant at rank 2; q2 at 2; q3 at 1
    assert got["mrr_at_1"] == pytest.approx(1 / 3, abs=1e-15)
    assert got["mrr_at_3"] == pytest.approx(2 / 3, abs=1e-15)
    assert got["mrr_at_1000"] == got["mrr_at_3"]
    # nDCG@3 of q1 by hand (linear gains, as trec_eval): (2/log2 3 + 1/2) / (2 + 1/log2 3); q2: 1/log2 3
    q1 = (2 / math.log2(3) + 0.5) / (2 + 1 / math.log2(3))
    assert got["ndcg_at_3"] == round((q1 + 1 / math.log2(3) + 1.0) / 3, 5)
    assert got["main_score"] == got["ndcg_at_10"]


@pytest.mark.unit
def test_task_table() -> None:
    from beirctl.conventions import MTEB_TASKS

    assert set(TASKS) == set(MTEB_TASKS) and len(TASKS) == 26  # 14 datasets + 12 CQADupStack forums
    assert (TASKS["msmarco"].name, TASKS["msmarco"].split) == ("MSMARCO", "dev")
    assert TASKS["cqadupstack/tex"].name == "CQADupstackTexRetrieval"
    flagged = {t.name for t in TASKS.values() if t.ignore_identical_ids}
    assert flagged == {"ArguAna", "FEVER", "FiQA2018", "MSMARCO", "QuoraRetrieval"}


def _results(
    tmp_path: Path,
    runs: dict[str, tuple[Run, Qrels]],
    label: str = "dense-x",
    type_: str = "dense",
    params: dict[str, Any] | None = None,
    split: str = "test",
) -> tuple[Path, Path]:
    """A results folder (one result per dataset, their run files) and a data folder with their qrels."""
    root, data = tmp_path / "results", tmp_path / "data"
    results = []
    for name, (_, qrels) in runs.items():
        group = "cqadupstack" if name.startswith("cqadupstack/") else None
        r = make_result(name, label, {q: 0.5 for q in qrels}, group=group, type=type_)
        update = {"retriever": r.retriever.model_copy(update={"params": params or {}})}
        if split != "test":
            update["dataset"] = r.dataset.model_copy(update={"split": split})
        results.append(r.model_copy(update=update))
        write_dataset(data / name, qrels=[(q, d, g) for q, docs in qrels.items() for d, g in docs.items()], split=split)
    write_results(root, results)
    for r in results:
        name = r.dataset.name
        write_run(pair_dir(root, name, label) / RUN_FILE, runs[name][0], tag=label)
    return root, data


def _export(root: Path, data: Path, out: Path, *extra: str) -> Any:
    args = ["export", "mteb", str(root), "-o", str(out), "--model-name", "my-org/my-model", "--revision", "abc123"]
    return runner.invoke(app, [*args, "--data-dir", str(data), *extra])


DENSE = {
    "model": "sentence-transformers/all-MiniLM-L6-v2@8b3219a",
    "similarity": "dot",
    "normalize": True,
    "query_prefix": "query: ",
    "max_seq_length": 256,
}


@pytest.mark.unit
def test_export_layout_and_values(tmp_path: Path) -> None:
    other_run: Run = {"q1": [("d1", 1.0)], "q2": [("d4", 2.0), ("d1", 1.0)]}
    other_qrels: Qrels = {"q1": {"d1": 1}, "q2": {"d1": 1, "d4": 1}}
    root, data = _results(
        tmp_path,
        {"scifact": (RUN, QRELS), "nfcorpus": (other_run, other_qrels), "bioasq": (RUN, QRELS)},
        params=DENSE,
    )
    result = _export(root, data, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "bioasq: MTEB has no task for it" in result.output
    folder = tmp_path / "out" / "my-org__my-model" / "abc123"
    assert sorted(p.name for p in folder.iterdir()) == ["NFCorpus.json", "SciFact.json", "model_meta.json"]
    doc = json.loads((folder / "SciFact.json").read_text())
    assert list(doc) == [
        "dataset_revision",
        "task_name",
        "mteb_version",
        "scores",
        "evaluation_time",
        "kg_co2_emissions",
        "date",
        "evaluation_phases",
    ]
    assert doc["task_name"] == "SciFact"
    assert doc["dataset_revision"] == "d56462d0e63a25450459c4f213e49ffdb866f7f9"
    (entry,) = doc["scores"]["test"]
    assert entry["hf_subset"] == "default" and entry["languages"] == ["eng-Latn"]
    for key, value in _pytrec_reference(RUN, QRELS).items():
        assert entry[key] == value, key
    assert entry["mrr_at_3"] == round(2 / 3, 6)  # rounded to 6 decimals, as TaskResult.to_disk writes
    assert entry["main_score"] == entry["ndcg_at_10"]
    nf = json.loads((folder / "NFCorpus.json").read_text())["scores"]["test"][0]
    assert nf["recall_at_1"] == 0.75  # q1: 1/1, q2: 1/2
    assert nf["mrr_at_1"] == 1.0
    meta = json.loads((folder / "model_meta.json").read_text())
    assert meta["name"] == "my-org/my-model" and meta["revision"] == "abc123"
    assert meta["similarity_fn_name"] == "cosine"  # dot on normalised embeddings
    assert meta["max_tokens"] == 256 and meta["model_type"] == ["dense"]
    assert meta["loader_kwargs"] == {"model_prompts": {"query": "query: "}}
    assert meta["adapted_from"] == "sentence-transformers/all-MiniLM-L6-v2"  # the hub model, revision stripped


@pytest.mark.unit
def test_export_cqadupstack_aggregate_and_msmarco_split(tmp_path: Path) -> None:
    runs = {}
    for i, forum in enumerate(CQADUPSTACK_FORUMS):
        # forum i: one query whose relevant doc is at rank i % 3 + 1
        hits = [(f"x{j}", 3.0 - j) for j in range(3)]
        runs[f"cqadupstack/{forum}"] = ({"q1": hits}, {"q1": {f"x{i % 3}": 1}})
    runs["msmarco"] = (RUN, QRELS)
    root, data = _results(tmp_path, runs)
    result = _export(root, data, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "msmarco: run on 'test'; MTEB's MSMARCO is 'dev'" in result.output
    folder = tmp_path / "out" / "my-org__my-model" / "abc123"
    agg = json.loads((folder / "CQADupstackRetrieval.json").read_text())
    assert agg["dataset_revision"] == "1"
    ndcg = [1.0, 1 / math.log2(3), 0.5]  # relevant doc at rank 1, 2, 3
    mean = sum(ndcg[i % 3] for i in range(12)) / 12
    assert agg["scores"]["test"][0]["ndcg_at_10"] == round(mean, 6) == agg["scores"]["test"][0]["main_score"]
    android = json.loads((folder / "CQADupstackAndroidRetrieval.json").read_text())
    assert android["scores"]["test"][0]["ndcg_at_10"] == 1.0
    assert not (folder / "MSMARCO.json").exists()


@pytest.mark.unit
def test_export_bad_input(tmp_path: Path) -> None:
    root, data = _results(tmp_path, {"scifact": (RUN, QRELS)})
    out = tmp_path / "out"
    bad_name = runner.invoke(
        app, ["export", "mteb", str(root), "-o", str(out), "--model-name", "nope", "--revision", "r"]
    )
    assert bad_name.exit_code == 2 and "--model-name 'nope': give ORG/NAME" in bad_name.output
    bad_rev = runner.invoke(
        app, ["export", "mteb", str(root), "-o", str(out), "--model-name", "a/b", "--revision", "../x"]
    )
    assert bad_rev.exit_code == 2 and "--revision '../x'" in bad_rev.output
    write_results(root, [make_result("scifact", "other", {"q1": 1.0})])
    several = _export(root, data, out)
    assert (
        several.exit_code == 2 and "several retrievers (dense-x, other): choose one with --retriever" in several.output
    )
    unknown = _export(root, data, out, "--retriever", "zzz")
    assert unknown.exit_code == 2 and "no results for retriever 'zzz'" in unknown.output
    only_other = _export(tmp_path / "nothing", data, out)
    assert only_other.exit_code == 2 and "results folder not found" in only_other.output
    assert "Traceback" not in several.output + unknown.output
    assert not out.exists()


# --- MTEB folders as references -----------------------------------------------------------------


def _task_file(folder: Path, task: str, split: str = "test", **scores: float) -> Path:
    """A task file as MTEB writes it (written here by hand, not by beirctl)."""
    folder.mkdir(parents=True, exist_ok=True)
    entry = {**scores, "main_score": scores.get("ndcg_at_10", 0.0), "hf_subset": "default", "languages": ["eng-Latn"]}
    doc = {
        "dataset_revision": TASK_NAMES[task].revision if task in TASK_NAMES else "1",
        "task_name": task,
        "mteb_version": "1.18.0",
        "scores": {split: [entry]},
        "evaluation_time": 1.0,
        "kg_co2_emissions": None,
    }
    path = folder / f"{task}.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _verify_results(tmp_path: Path) -> Path:
    root = tmp_path / "results"
    write_results(
        root,
        [
            make_result("scifact", "dense-x", {"q1": 0.7, "q2": 0.5}),  # nDCG@10 0.6
            make_result("fiqa", "dense-x", {"q1": 0.3, "q2": 0.2}),  # 0.25
        ],
    )
    return root


@pytest.mark.unit
def test_verify_against_mteb_folder(tmp_path: Path) -> None:
    root = _verify_results(tmp_path)
    model = tmp_path / "mteb" / "my-org__my-model"
    rev = model / "abc123"
    _task_file(rev, "SciFact", ndcg_at_10=0.60001, recall_at_100=0.9)
    _task_file(rev, "FiQA2018", ndcg_at_10=0.25)
    _task_file(rev, "Banking77Classification")  # a non-BEIR task: ignored
    (rev / "model_meta.json").write_text(json.dumps({"name": "my-org/my-model", "revision": "abc123"}))
    for ref in (model, rev):  # the model's folder (one revision) or the revision's
        ok = runner.invoke(app, ["verify", str(root), "--reference", str(ref)])
        assert ok.exit_code == 0, ok.output
        assert "ok    scifact  dense-x  nDCG@10  got 0.6000  expected 0.6000" in ok.output
        assert "2 ok, 0 off (reference mteb:my-org/my-model@abc123" in ok.output
        assert "ignored 1 task file(s) of non-BEIR MTEB tasks" in ok.output
        # SciFact: MTEB keeps identical-id hits, these results removed them; FiQA2018: MTEB removes them too
        assert "scifact × dense-x: MTEB's SciFact keeps hits whose doc id is the query id" in ok.output
        assert "fiqa × dense-x: MTEB" not in ok.output
        assert "results under conventions pyserini average over every judged query" in ok.output
    _task_file(rev, "FiQA2018", ndcg_at_10=0.251)
    off = runner.invoke(app, ["verify", str(root), "--reference", str(model), "--revision", "abc123"])
    assert off.exit_code == 1, off.output
    assert "FAIL  fiqa  dense-x  nDCG@10  got 0.2500  expected 0.2510  diff -0.0010" in off.output
    (rev / "FiQA2018.json").unlink()
    missing = runner.invoke(app, ["verify", str(root), "--reference", str(model)])
    assert missing.exit_code == 1
    assert f"FAIL  fiqa  dense-x  no {rev / 'FiQA2018'}.json" in missing.output


@pytest.mark.unit
def test_verify_cqadupstack_against_mteb_forums_and_aggregate(tmp_path: Path) -> None:
    root = tmp_path / "results"
    values = {forum: 0.3 + 0.01 * i for i, forum in enumerate(CQADUPSTACK_FORUMS)}  # mean 0.355
    write_results(
        root,
        [make_result(f"cqadupstack/{f}", "d", {"q1": v, "q2": v}, group="cqadupstack") for f, v in values.items()],
    )
    rev = tmp_path / "m" / "org__name" / "r1"
    for forum, v in values.items():
        _task_file(rev, f"CQADupstack{forum.capitalize()}Retrieval", ndcg_at_10=round(v, 5))
    _task_file(rev, "CQADupstackRetrieval", ndcg_at_10=0.355)
    ok = runner.invoke(app, ["verify", str(root), "--reference", str(rev)])
    assert ok.exit_code == 0, ok.output
    assert "ok    cqadupstack  d  nDCG@10  got 0.3550  expected 0.3550" in ok.output
    assert "ok    cqadupstack/wordpress  d  nDCG@10  got 0.4100  expected 0.4100" in ok.output
    assert "13 ok, 0 off" in ok.output
    _task_file(rev, "CQADupstackRetrieval", ndcg_at_10=0.356)
    off = runner.invoke(app, ["verify", str(root), "--reference", str(rev)])
    assert off.exit_code == 1 and "FAIL  cqadupstack  d  nDCG@10  got 0.3550  expected 0.3560" in off.output


@pytest.mark.unit
def test_show_with_mteb_reference(tmp_path: Path) -> None:
    root = _verify_results(tmp_path)
    rev = tmp_path / "m" / "org__name" / "r1"
    _task_file(rev, "SciFact", ndcg_at_10=0.61234)
    result = runner.invoke(app, ["show", str(root), "--reference", str(rev), "--format", "csv", "-m", "nDCG@10"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "mteb:org/name@r1" in lines[0]
    scifact = next(line for line in lines if line.startswith("scifact"))
    assert "0.6123" in scifact


def _two_retrievers(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "results"
    write_results(
        root,
        [
            make_result("scifact", "a", {"q1": 0.7, "q2": 0.5}),  # nDCG@10 0.6
            make_result("scifact", "b", {"q1": 0.65, "q2": 0.35}),  # 0.5
            make_result("nfcorpus", "a", {"q1": 0.3, "q2": 0.1}),
            make_result("nfcorpus", "b", {"q1": 0.2, "q2": 0.2}),
        ],
    )
    rev = tmp_path / "m" / "org__name" / "r1"
    _task_file(rev, "SciFact", ndcg_at_10=0.61)
    return root, rev.parent


@pytest.mark.unit
def test_compare_with_mteb_reference(tmp_path: Path) -> None:
    root, model = _two_retrievers(tmp_path)
    result = runner.invoke(app, ["compare", str(root), "--reference", str(model), "-f", "csv"])
    assert result.exit_code == 0, result.output
    assert "dataset (nDCG@10),mteb:org/name@r1,a,a delta,b,b delta" in result.output
    assert "scifact,0.6100,0.6000,-0.0100,0.5000,-0.1100" in result.output
    assert "note: scifact × a: MTEB's SciFact keeps hits whose doc id is the query id" in result.output
    doc = runner.invoke(app, ["compare", str(root), "--reference", str(model), "-f", "json"])
    ref = json.loads(doc.stdout)["reference"]
    assert ref["reference"] == {"name": "mteb:org/name@r1", "scores": {"scifact": 0.61}}
    assert ref["deltas"]["scifact"] == {"a": pytest.approx(-0.01), "b": pytest.approx(-0.11)}


@pytest.mark.unit
def test_report_with_mteb_reference(tmp_path: Path) -> None:
    root, model = _two_retrievers(tmp_path)
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["report", str(root), "--reference", str(model), "-o", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert "<h3>against mteb:org/name@r1</h3>" in page
    assert "<td>scifact</td><td>0.6100</td><td>0.6000 (-0.0100)</td><td>0.5000 (-0.1100)</td>" in page
    assert "MTEB&#x27;s SciFact keeps hits whose doc id is the query id" in page


@pytest.mark.unit
def test_reference_reads_older_layout_and_all_metrics(tmp_path: Path) -> None:
    rev = tmp_path / "org__name" / "r1"
    rev.mkdir(parents=True)
    # mteb < 1.11 wrote scores under the split, named the task mteb_dataset_name
    old = {"mteb_dataset_name": "NFCorpus", "mteb_version": "1.1.1", "test": {"ndcg_at_10": 0.31594, "map_at_100": 0.2}}
    (rev / "NFCorpus.json").write_text(json.dumps(old))
    _task_file(rev, "MSMARCO", split="dev", ndcg_at_10=0.4, mrr_at_10=0.35, hit_rate_at_5=0.6, precision_at_1=0.2)
    ref = load_mteb_reference(rev)
    assert ref.table == {
        "nfcorpus": {"nDCG@10": 0.3159, "AP@100": 0.2},
        "msmarco": {"nDCG@10": 0.4, "RR@10": 0.35, "Success@5": 0.6, "P@1": 0.2},
    }
    assert ref.name == "mteb:org/name@r1"


def _bad(tmp_path: Path, ref: Path, *extra: str) -> str:
    root = _verify_results(tmp_path)
    result = runner.invoke(app, ["verify", str(root), "--reference", str(ref), *extra])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.unit
def test_reference_bad_input(tmp_path: Path) -> None:
    rev = tmp_path / "m" / "org__name" / "r1"
    good = _task_file(rev, "SciFact", ndcg_at_10=0.6)
    # malformed JSON: file and line
    broken = rev / "FiQA2018.json"
    broken.write_text('{"task_name": "FiQA2018",\n  "scores": }')
    assert f"{broken}:2: not valid JSON" in _bad(tmp_path, rev)
    # not a TaskResult
    broken.write_text(json.dumps({"task_name": "FiQA2018", "scores": {"test": {"ndcg_at_10": 1}}}))
    assert f"{broken}: not an MTEB TaskResult: scores['test'] is not a list of objects" in _bad(tmp_path, rev)
    broken.write_text(json.dumps({"task_name": "FiQA2018", "scores": {"dev": []}}))
    assert f"{broken}: no scores for split 'test' (has: dev)" in _bad(tmp_path, rev)
    broken.write_text(json.dumps([1, 2]))
    assert f"{broken}: not an MTEB TaskResult (expected an object)" in _bad(tmp_path, rev)
    broken.unlink()
    # a task name like a BEIR task's but not MTEB's; a file named for another task
    near = rev / "Scifact.json"
    near.write_text(good.read_text().replace('"SciFact"', '"Scifact"'))
    assert f"{near}: unknown MTEB task 'Scifact' (did you mean 'SciFact'?)" in _bad(tmp_path, rev)
    near.write_text(near.read_text().replace('"Scifact"', '"NFCorpus"'))
    assert f"{near}: task_name 'NFCorpus' is not its file's name ('Scifact')" in _bad(tmp_path, rev)
    near.unlink()
    # revision mismatch: --revision vs the folder, model_meta.json vs the folder
    assert "is revision 'r1' of its model, not 'r2' (--revision)" in _bad(tmp_path, rev, "--revision", "r2")
    assert "has no revision 'r2' (--revision; it has: r1)" in _bad(tmp_path, rev.parent, "--revision", "r2")
    (rev / "model_meta.json").write_text(json.dumps({"name": "org/name", "revision": "r0"}))
    assert f"{rev / 'model_meta.json'}: revision 'r0' is not its folder's, 'r1'" in _bad(tmp_path, rev)
    (rev / "model_meta.json").unlink()
    # several revisions, none chosen
    shutil.copytree(rev, rev.parent / "r2")
    assert "holds several revisions (r1, r2): give one folder or --revision" in _bad(tmp_path, rev.parent)
    shutil.rmtree(rev.parent / "r2")
    # no task files; only non-BEIR tasks
    good.unlink()
    assert "no MTEB task files (<Task>.json) in it" in _bad(tmp_path, rev.parent)
    (rev / "Banking77Classification.json").write_text(json.dumps({"task_name": "Banking77Classification"}))
    assert "no BEIR task among its 1 task files (Banking77Classification; BEIR tasks: ArguAna," in _bad(tmp_path, rev)
    # --revision with a shipped table
    assert "--revision 'x' applies to an MTEB results folder" in _bad(
        tmp_path, Path("mteb-all-MiniLM-L6-v2"), "--revision", "x"
    )


# --- the mteb package itself (integration: skipped without it) ----------------------------------


@pytest.mark.integration
def test_task_table_is_the_installed_mtebs() -> None:
    mteb = pytest.importorskip("mteb")
    for task in TASKS.values():
        t = mteb.get_task(task.name)
        md = t.metadata
        assert md.dataset["revision"] == task.revision, task.name
        assert md.eval_splits == [task.split], task.name
        assert md.main_score == "ndcg_at_10"
        assert md.eval_langs == ["eng-Latn"]
        assert bool(getattr(t, "ignore_identical_ids", False)) is task.ignore_identical_ids, task.name
    agg = mteb.get_task("CQADupstackRetrieval")
    assert sorted(x.metadata.name for x in agg.tasks) == sorted(
        t.name for d, t in TASKS.items() if d.startswith("cqadupstack/")
    )


@pytest.mark.integration
def test_scores_match_mtebs_own_evaluator() -> None:
    pytest.importorskip("mteb")
    from mteb._evaluators.retrieval_metrics import calculate_retrieval_scores, make_score_dict

    run = {q: h for q, h in RUN.items() if q in QRELS}  # MTEB only scores judged queries
    r = calculate_retrieval_scores({q: dict(h) for q, h in run.items()}, QRELS, list(K_VALUES))
    theirs = make_score_dict(
        ndcg=r.ndcg,
        _map=r.map,
        recall=r.recall,
        precision=r.precision,
        mrr=r.mrr,
        naucs={},
        naucs_mrr={},
        hit_rate=r.hit_rate,
        task_scores={},
    )
    mine = mteb_scores(RUN, QRELS)
    assert {k: mine[k] for k in theirs} == theirs


@pytest.mark.integration
def test_export_round_trips_through_mtebs_loader(tmp_path: Path) -> None:
    mteb = pytest.importorskip("mteb")
    from mteb.models import ModelMeta
    from mteb.results import TaskResult

    runs = {"scifact": (RUN, QRELS), "arguana": ({"q1": [("d1", 1.0)]}, {"q1": {"d1": 1}})}
    root, data = _results(tmp_path, runs, params=DENSE)
    cache = tmp_path / "cache"
    assert _export(root, data, cache / "results").exit_code == 0
    folder = cache / "results" / "my-org__my-model" / "abc123"
    for path in sorted(folder.glob("*.json")):
        doc = json.loads(path.read_text())
        if path.name == "model_meta.json":
            meta = ModelMeta.model_validate({**doc, "loader": None})
            assert (meta.name, meta.revision, meta.max_tokens) == ("my-org/my-model", "abc123", 256)
            continue
        loaded = TaskResult.from_disk(path)
        assert loaded.task_name == doc["task_name"] == path.stem
        assert loaded.scores == doc["scores"]  # every score, exactly
        assert loaded.get_score() == doc["scores"]["test"][0]["main_score"]
    results = mteb.ResultCache(cache).load_results(require_model_meta=True)
    (model,) = results.model_results
    assert (model.model_name, model.model_revision) == ("my-org/my-model", "abc123")
    got = {t.task_name: t.get_score() for t in model.task_results}
    assert got == {"ArguAna": 1.0, "SciFact": mteb_scores(RUN, QRELS)["ndcg_at_10"]}


# --- real data ----------------------------------------------------------------------------------


@needs_shared
def test_scifact_bm25_export_matches_pyserini_and_mteb(tmp_path: Path) -> None:
    run = read_run(SHARED_REF / "runs" / "scifact.bm25-flat.anserini-0.22.1.trec.gz")
    qrels = read_qrels(SHARED_BEIR / "scifact" / "qrels" / "test.tsv")
    root = tmp_path / "results"
    result: PairResult = make_result("scifact", "bm25-flat", {q: 0.0 for q in qrels})
    write_results(root, [result])
    write_run(pair_dir(root, "scifact", "bm25-flat") / RUN_FILE, run, tag="bm25-flat")
    out = tmp_path / "out"
    done = runner.invoke(
        app,
        ["export", "mteb", str(root), "-o", str(out), "--model-name", "bm25/flat", "--revision", "anserini-0.22.1"]
        + ["--data-dir", str(SHARED_BEIR)],
    )
    assert done.exit_code == 0, done.output
    entry = json.loads((out / "bm25__flat" / "anserini-0.22.1" / "SciFact.json").read_text())["scores"]["test"][0]
    assert round(entry["ndcg_at_10"], 4) == 0.6789  # Pyserini's published BM25 flat SciFact nDCG@10
    assert round(entry["recall_at_100"], 4) == 0.9253  # and R@100
    for key, value in _pytrec_reference(run, qrels).items():
        assert entry[key] == value, key
    try:
        from mteb._evaluators.retrieval_metrics import calculate_retrieval_scores
    except ImportError:
        return
    r = calculate_retrieval_scores({q: dict(h) for q, h in run.items()}, qrels, list(K_VALUES))
    assert {k: entry[f"mrr_at_{k.split('@')[1]}"] for k in r.mrr} == {k: round(v, 6) for k, v in r.mrr.items()}
