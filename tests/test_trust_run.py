"""Issue 11, the run side: results are never stale, bad input is one line (exit 2) before any
work, environment failures name the path, and one failing pair does not stop the others."""

from __future__ import annotations

import errno
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from beirctl.cli import app
from beirctl.config import load_config, parse_config
from beirctl.datasets import load_folder
from beirctl.errors import BeirctlError, ConfigError, DataError
from beirctl.evaluation import evaluate, read_qrels, read_run
from beirctl.evaluation.metrics import parse_metrics
from tests.conftest import SHARED_BEIR, TINY_CORPUS, TINY_QRELS, TINY_QUERIES, needs_shared, write_dataset

runner = CliRunner()


def _config(tmp_path: Path, datasets: str, retrievers: str = "  - type: bm25\n", extra: str = "") -> Path:
    path = tmp_path / "bench.yaml"
    path.write_text(
        f"name: bench\ndatasets:\n{datasets}retrievers:\n{retrievers}"
        f"output_dir: {tmp_path / 'results'}\ncache_dir: {tmp_path / 'cache'}\n{extra}"
    )
    return path


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _scifact_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "sf"
    shutil.copytree(SHARED_BEIR / "scifact", folder)
    for p in [folder, *folder.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return folder


# 1. stale results -------------------------------------------------------------------------


@needs_shared
def test_changed_qrels_reevaluate_and_changed_corpus_reruns(tmp_path: Path) -> None:
    from beirctl.runner import run_config

    folder = _scifact_copy(tmp_path)
    cfg = load_config(_config(tmp_path, f"  - path: {folder}\n"))
    events: list[tuple[str, str]] = []

    def report(event: str, info: dict) -> None:
        events.append((event, info.get("stage", "")))

    first = run_config(cfg, reporter=report)
    metrics_path = tmp_path / "results" / "sf" / "bm25" / "metrics.json"
    run_path = metrics_path.with_name("run.trec.gz")
    assert round(json.loads(metrics_path.read_text())["aggregate"]["nDCG@10"], 4) == 0.6789
    assert first.done == [("sf", "bm25")]
    # nothing changed: skipped
    assert run_config(cfg).skipped == [("sf", "bm25")]

    # cut the qrels in half: re-evaluated from the stored run (not searched again), new score
    qrels = folder / "qrels" / "test.tsv"
    lines = qrels.read_text().splitlines(keepends=True)
    qrels.write_text("".join(lines[: len(lines) // 2]))
    run_bytes = run_path.read_bytes()
    events.clear()
    second = run_config(cfg, reporter=report)
    assert second.done == [("sf", "bm25")] and ("stage", "search") not in events
    assert run_path.read_bytes() == run_bytes
    expected = evaluate(read_run(run_path), read_qrels(qrels)).aggregate["nDCG@10"]
    got = json.loads(metrics_path.read_text())["aggregate"]["nDCG@10"]
    assert got == expected and round(got, 4) != 0.6789

    # edit judged documents: searched again, score changes
    judged = {line.split("\t")[1] for line in lines[1:]}
    docs = (folder / "corpus.jsonl").read_text().splitlines()
    edited = []
    for line in docs:
        doc = json.loads(line)
        if doc["_id"] in judged:
            doc["text"] = "nothing to see here"
        edited.append(json.dumps(doc))
    (folder / "corpus.jsonl").write_text("\n".join(edited) + "\n")
    events.clear()
    third = run_config(cfg, reporter=report)
    assert third.done == [("sf", "bm25")] and ("stage", "search") in events
    assert json.loads(metrics_path.read_text())["aggregate"]["nDCG@10"] < got - 0.1


def test_new_judged_queries_search_again(tiny: Path, tmp_path: Path) -> None:
    from beirctl.runner import run_config

    write_dataset(tiny, qrels=[r for r in TINY_QRELS if r[0] != "q3"])
    cfg = load_config(_config(tmp_path, f"  - path: {tiny}\n"))
    run_config(cfg)
    write_dataset(tiny)  # q3 now judged: the stored run never searched it
    events: list[str] = []
    run_config(cfg, reporter=lambda e, i: events.append(i.get("stage", "")))
    assert "search" in events
    run = read_run(tmp_path / "results" / "tiny" / "bm25" / "run.trec.gz")
    assert "q3" in run


def test_show_warns_when_the_data_changed(tiny: Path, tmp_path: Path) -> None:
    from beirctl.runner import run_config

    run_config(load_config(_config(tmp_path, f"  - path: {tiny}\n")))
    result = runner.invoke(app, ["show", str(tmp_path / "results")])
    assert result.exit_code == 0 and "changed since" not in result.output
    with open(tiny / "qrels" / "test.tsv", "a") as fh:
        fh.write("q2\td1\t1\n")
    result = runner.invoke(app, ["show", str(tmp_path / "results")])
    assert result.exit_code == 0
    assert "tiny × bm25: qrels/test.tsv in" in result.output and "changed since" in result.output


# 2, 6. labels and ids ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "problem"),
    [
        ("my bm25", "contains whitespace"),
        ("./../victim", "contains the path separator '/'"),
        ("..", "contains '..'"),
        ("a\\tb", "contains whitespace"),
        ("a\\x01b", "contains the control character U+0001"),
        (".hidden", "starts with '.'"),
    ],
)
def test_bad_labels_rejected_at_load(tmp_path: Path, label: str, problem: str) -> None:
    text = f'datasets: [scifact]\nretrievers:\n  - type: bm25\n    label: "{label}"\n'
    with pytest.raises(ConfigError) as info:
        parse_config(text, "c.yaml")
    assert str(info.value).startswith("c.yaml:3: retrievers[0]: label") and problem in str(info.value)


@pytest.mark.parametrize(
    ("file", "record", "line"),
    [
        ("corpus", {"_id": "d 9", "text": "x"}, 6),
        ("corpus", {"_id": " d9", "text": "x"}, 6),
        ("corpus", {"_id": "d9\n", "text": "x"}, 6),
        ("queries", {"_id": "q\t9", "text": "x"}, 5),
    ],
)
def test_ids_that_cannot_round_trip(tmp_path: Path, file: str, record: dict, line: int) -> None:
    corpus = [*TINY_CORPUS, record] if file == "corpus" else None
    queries = [*TINY_QUERIES, record] if file == "queries" else None
    folder = write_dataset(tmp_path / "ds", corpus=corpus, queries=queries)
    with pytest.raises(DataError, match=rf"{file}.jsonl:{line}: '_id' .* contains whitespace") as info:
        load_folder(folder)
    assert "\n" not in str(info.value)


def test_qrels_id_with_a_space(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "ds", qrels=[("q1", "d1", 1), ("q2", "d 4", 1)])
    with pytest.raises(DataError, match=r"test.tsv:3: corpus-id 'd 4' contains whitespace"):
        load_folder(folder)


@needs_shared
def test_in_process_score_equals_run_file_score(tmp_path: Path) -> None:
    """The score in metrics.json is the score of the written run file, read back."""
    from beirctl.runner import run_config

    ds = f"  - path: {SHARED_BEIR / 'scifact'}\n  - path: {SHARED_BEIR / 'nfcorpus'}\n"
    retrievers = "  - type: bm25\n  - type: bm25\n    label: multifield\n    params: {fields: multifield}\n"
    cfg = load_config(_config(tmp_path, ds, retrievers, "metrics: [nDCG@10, R@100, AP, RR@10]\n"))
    run_config(cfg)
    for metrics_path in (tmp_path / "results").rglob("metrics.json"):
        metrics = json.loads(metrics_path.read_text())
        name = metrics["dataset"]["name"]
        qrels = read_qrels(SHARED_BEIR / name / "qrels" / "test.tsv")
        again = evaluate(read_run(metrics_path.with_name("run.trec.gz")), qrels, metrics["settings"]["metrics"])
        assert again.aggregate == metrics["aggregate"], metrics_path
        assert again.per_query == metrics["per_query"]


# 5b, 11. configs that would hang or crash --------------------------------------------------

BOMB = "\n".join(
    [f"a0: &a0 [{','.join(['lol'] * 9)}]"]
    + [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    + ["datasets: [scifact]", "retrievers: [{type: bm25}]"]
)


def test_yaml_alias_bomb_is_refused_in_milliseconds() -> None:
    assert len(BOMB) < 500
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match=r"c.yaml:\d+: the config expands to more than 100,000 values"):
        parse_config(BOMB, "c.yaml")
    assert time.perf_counter() - t0 < 0.5


def test_aliases_within_bounds_still_work() -> None:
    text = "common: &p {k1: 1.2}\ndatasets: [scifact]\nretrievers:\n  - {type: bm25, params: *p}\n"
    with pytest.raises(ConfigError, match="common: unknown key"):  # aliases resolve; the key is unknown
        parse_config(text, "c.yaml")
    cfg = parse_config("datasets: &d [scifact]\nretrievers: [{type: bm25, params: {k1: 1.2}}]\n", "c.yaml")
    assert cfg.retrievers[0].params == {"k1": 1.2}


def test_deep_nesting_is_one_line() -> None:
    text = "a: " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(ConfigError, match=r"^c.yaml:1: nested more than 64 levels deep$"):
        parse_config(text, "c.yaml")


def test_non_scalar_key() -> None:
    with pytest.raises(ConfigError, match=r"^c.yaml:1: a key must be a plain value$"):
        parse_config("? [a, b]\n: c\ndatasets: [scifact]\n", "c.yaml")


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ('{"_id": "d9", "text": "bad \\ud800 text"}', r"corpus.jsonl:6: a text holds an unpaired surrogate U\+D800"),
        ('{"_id": "d\\udc00", "text": "x"}', r"corpus.jsonl:6: '_id' .* contains an unpaired surrogate \(U\+DC00\)"),
    ],
)
def test_lone_surrogates_in_corpus(tmp_path: Path, record: str, message: str) -> None:
    folder = write_dataset(tmp_path / "ds")
    with open(folder / "corpus.jsonl", "a") as fh:
        fh.write(record + "\n")
    with pytest.raises(DataError, match=message):
        load_folder(folder)


def test_lone_surrogate_in_query(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "ds")
    with open(folder / "queries.jsonl", "a") as fh:
        fh.write('{"_id": "q1x", "text": "\\ud83d"}\n')
    with pytest.raises(DataError, match=r"queries.jsonl:5: 'text' holds an unpaired surrogate U\+D83D"):
        load_folder(folder)


# 8. metrics validated before any work ------------------------------------------------------


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ("[P@0]", "metric 'P@0': the cutoff must be a whole number of at least 1"),
        ("[ERR@10]", "metric 'ERR@10' cannot be computed by the evaluator on BEIR qrels"),
        ("[alpha_nDCG@10]", "metric 'alpha_nDCG@10' cannot be computed by the evaluator on BEIR qrels"),
        ("[]", "no metrics: list at least one"),
        ("[nDCG@10, nDCG@10]", "metric 'nDCG@10' is listed twice"),
    ],
)
def test_bad_metrics_fail_at_load(tmp_path: Path, metrics: str, message: str) -> None:
    text = f"datasets: [scifact]\nretrievers: [{{type: bm25}}]\nmetrics: {metrics}\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, "c.yaml")
    assert str(info.value).startswith("c.yaml:3: metrics:") and message in str(info.value)


def test_p_at_0_does_not_abort_the_cli(tiny: Path, tmp_path: Path) -> None:
    """P@0 made pytrec_eval abort Python (SIGABRT, exit 134) after the run file was written."""
    path = _config(tmp_path, f"  - path: {tiny}\n", extra="metrics: [P@0]\n")
    done = subprocess.run([sys.executable, "-m", "beirctl", "run", str(path)], capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert "metrics: metric 'P@0'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "results").exists()  # refused before any work
    qrels = tiny / "qrels" / "test.tsv"
    run = tmp_path / "r.trec"
    run.write_text("q1 Q0 d1 1 1.0 x\n")
    done = subprocess.run(
        [sys.executable, "-m", "beirctl", "eval", str(run), str(qrels), "-m", "P@0"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "the cutoff must be a whole number" in done.stderr


def test_metric_check_is_cached_and_fast() -> None:
    t0 = time.perf_counter()
    for _ in range(100):
        parse_metrics(["nDCG@10", "R@100", "AP", "RR@10"])
    assert time.perf_counter() - t0 < 1.0


# 9. silent wrong answers -------------------------------------------------------------------


def test_run_and_qrels_sharing_no_query(tmp_path: Path) -> None:
    run = tmp_path / "r.trec"
    run.write_text("x1 Q0 d1 1 1.0 t\nx2 Q0 d1 1 1.0 t\n")
    folder = write_dataset(tmp_path / "ds")
    result = runner.invoke(app, ["eval", str(run), str(folder / "qrels" / "test.tsv")])
    assert result.exit_code == 2
    assert "the run and the qrels share no query id (run: 2 queries" in result.output


def test_qrels_of_another_corpus(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "ds", qrels=[("q1", "zz1", 1), ("q2", "zz2", 1)])
    with pytest.raises(DataError, match=r"test.tsv: none of the 2 judged documents is in the corpus"):
        load_folder(folder)
    folder = write_dataset(tmp_path / "ds2", qrels=[("q1", "d1", 1), ("q2", "zz2", 1)])
    assert load_folder(folder).notes == [
        f"{folder / 'qrels' / 'test.tsv'}: 1 of 2 judged documents are not in the corpus"
    ]


def test_duplicate_judgment_with_another_grade(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "ds", qrels=[("q1", "d1", 1), ("q2", "d4", 1), ("q1", "d1", 2)])
    with pytest.raises(
        DataError, match=r"test.tsv:4: \('q1', 'd1'\) is judged twice with different grades \(1 and 2\)"
    ):
        load_folder(folder)
    same = write_dataset(tmp_path / "ds2", qrels=[("q1", "d1", 1), ("q1", "d1", 1)])
    assert load_folder(same).qrels == {"q1": {"d1": 1}}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("params: {k1: .nan}", "params.k1: Input should be a finite number"),
        ("params: {k1: -3}", "params.k1: Input should be greater than 0"),
        ("params: {b: 7}", "params.b: Input should be less than or equal to 1"),
        ("params: {k1: true}", "params.k1: Input should be a valid number"),
    ],
)
@pytest.mark.parametrize("kind", ["bm25", "rank-bm25", "lucene-bm25"])
def test_bad_bm25_parameters(kind: str, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"c.yaml:4: retrievers\[0\].{message}"):
        parse_config(f"datasets: [scifact]\nretrievers:\n  - type: {kind}\n    {text}\n", "c.yaml")


def test_top_k_must_be_a_number() -> None:
    with pytest.raises(ConfigError, match=r"c.yaml:3: top_k: Input should be a valid integer"):
        parse_config("datasets: [scifact]\nretrievers: [{type: bm25}]\ntop_k: true\n", "c.yaml")


# 10. collisions ----------------------------------------------------------------------------


def test_two_folders_with_one_name(tmp_path: Path) -> None:
    text = "datasets:\n  - path: a/scifact\n  - path: b/scifact\nretrievers: [{type: bm25}]\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, "c.yaml")
    assert str(info.value) == (
        "c.yaml:3: datasets[1]: results name 'scifact' is also that of datasets[0] (line 2); "
        "give the folders different names"
    )


def test_two_processes_on_one_output_dir_do_the_work_once(tiny: Path, tmp_path: Path) -> None:
    path = _config(tmp_path, f"  - path: {tiny}\n", "  - type: bm25\n  - type: rank-bm25\n")
    cmd = [sys.executable, "-m", "beirctl", "run", str(path)]
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    stderr = "".join(err for _, err in outs)
    # each pair was searched exactly once; the other process reused it
    assert stderr.count("tiny × bm25: search") == 1 and stderr.count("tiny × rank-bm25: search") == 1
    assert stderr.count("skipped") == 2


# 7. environment failures -------------------------------------------------------------------


def test_output_dir_that_is_a_file(tiny: Path, tmp_path: Path) -> None:
    path = _config(tmp_path, f"  - path: {tiny}\n")
    (tmp_path / "results").write_text("not a folder")
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 2
    assert f"{tmp_path / 'results'}: is a file, not a folder" in result.output


@pytest.mark.parametrize(
    ("code", "advice"),
    [(errno.ENOSPC, "no space left on the device"), (errno.EROFS, "cannot write here (read-only")],
)
def test_disk_full_or_read_only_fails_the_pair_not_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, advice: str
) -> None:
    from beirctl import atomic
    from beirctl.runner import run_config

    good = write_dataset(tmp_path / "good")
    full = write_dataset(tmp_path / "full")
    real_replace = os.replace

    def replace(src: str, dst: str) -> None:
        if "/full/" in str(dst) and str(dst).endswith("run.trec.gz"):
            raise OSError(code, os.strerror(code), str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", replace)
    cfg = load_config(_config(tmp_path, f"  - path: {full}\n  - path: {good}\n"))
    summary = run_config(cfg)
    assert summary.done == [("good", "bm25")]
    [(ds, label, text)] = summary.failed
    assert (ds, label) == ("full", "bm25")
    assert text.startswith(str(tmp_path / "results" / "full" / "bm25" / "run.trec.gz")) and advice in text
    assert not list((tmp_path / "results" / "full" / "bm25").glob(".*.tmp"))  # the temp file is gone


def test_a_crashing_retriever_does_not_stop_the_others(tiny: Path, tmp_path: Path) -> None:
    from beirctl.retrievers import Retriever, register
    from beirctl.runner import run_config

    class Buggy(Retriever):
        name = "test-buggy"

        def index(self, corpus, ctx):  # type: ignore[no-untyped-def]
            raise ZeroDivisionError("division by zero")

        def search(self, queries, k):  # type: ignore[no-untyped-def]
            return {}

    register(Buggy)
    cfg = load_config(_config(tmp_path, f"  - path: {tiny}\n", "  - type: test-buggy\n  - type: bm25\n"))
    summary = run_config(cfg)
    assert summary.done == [("tiny", "bm25")]
    assert summary.failed == [
        ("tiny", "test-buggy", "ZeroDivisionError: division by zero (BEIRCTL_DEBUG=1 for the traceback)")
    ]


def test_temp_files_of_a_killed_run_are_swept(tiny: Path, tmp_path: Path) -> None:
    from beirctl.runner import run_config

    cfg = load_config(_config(tmp_path, f"  - path: {tiny}\n"))
    run_config(cfg)
    pair = tmp_path / "results" / "tiny" / "bm25"
    leftover = pair / ".run.trec.gz.ab12cd_9.tmp"
    leftover.write_bytes(b"half a run")
    keep = pair / "notes.tmp"  # not a name beirctl gives its temp files: never touched
    keep.write_text("mine")
    run_config(cfg, force=True)
    assert not leftover.exists() and keep.read_text() == "mine"
    with gzip.open(pair / "run.trec.gz", "rt") as fh:
        assert fh.readline().startswith("q1 Q0 ")


def test_config_errors_do_not_touch_files(tiny: Path, tmp_path: Path) -> None:
    from beirctl.runner import run_config

    run_config(load_config(_config(tmp_path, f"  - path: {tiny}\n")))
    files = {p: _md5(p) for p in (tmp_path / "results").rglob("*") if p.is_file()}
    bad = _config(tmp_path, f"  - path: {tiny}\n", extra="metrics: [P@0]\n")
    assert runner.invoke(app, ["run", str(bad)]).exit_code == 2
    assert {p: _md5(p) for p in (tmp_path / "results").rglob("*") if p.is_file()} == files


def test_errors_are_beirctl_errors() -> None:
    assert issubclass(ConfigError, BeirctlError) and issubclass(DataError, BeirctlError)
