"""Property-based "trust" tests (issue 11): hostile inputs never crash beirctl.

Loaders, run/qrels readers and the config parser get random bytes, random JSON lines, random
TSV/TREC lines, random YAML structures, mutations of valid configs and hand-made nasties (alias
bomb, deep nesting, odd keys and tags, huge numbers). The property is always the same: the call
returns its result or raises :class:`~beirctl.errors.BeirctlError` with a one-line message, and
it does so quickly. Any other exception, or running past the time bound, is a bug.

Bounds: every call runs under :func:`bounded` (a CPU-time alarm, SIGPROF, so that it does not
clash with pytest-timeout's SIGALRM), each example under a hypothesis ``deadline``, and each test
under ``pytest.mark.timeout`` (thread method: ends even a hang inside C code).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beirctl.config import Config, load_config
from beirctl.datasets.loader import load_folder
from beirctl.errors import BeirctlError
from beirctl.evaluation import evaluate, read_qrels, read_run
from beirctl.types import Dataset
from tests.conftest import TINY_CORPUS, TINY_QRELS, TINY_QUERIES, write_dataset

T = TypeVar("T")

CALL_CPU_LIMIT_S = 3.0  # a single call past this much CPU time is stopped and reported as a hang
CONFIG_CPU_BUDGET_S = 1.0  # load_config of a small file must finish within this much CPU time
EXAMPLE_DEADLINE = timedelta(milliseconds=1500)  # hypothesis' wall-clock bound per example
TEST_TIMEOUT_S = 120  # pytest-timeout backstop per test

COMMON = {
    "deadline": EXAMPLE_DEADLINE,
    "database": None,  # no .hypothesis/ folder in the tree
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
}


# --------------------------------------------------------------------------------------------
# the property and its time bound


class Hang(Exception):  # noqa: N818 - the name says what it is
    """A call ran past its CPU-time bound."""


@contextlib.contextmanager
def bounded(seconds: float = CALL_CPU_LIMIT_S) -> Iterator[None]:
    """Raise :class:`Hang` inside the block once it has used ``seconds`` of CPU time."""

    def on_alarm(signum: int, frame: Any) -> None:
        raise Hang(f"still running after {seconds} s of CPU time")

    previous = signal.signal(signal.SIGPROF, on_alarm)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def returns_or_user_error(fn: Callable[[], T], budget_s: float | None = None) -> T | BeirctlError:
    """Call ``fn``: its result, or the BeirctlError it raised (one line). Anything else fails."""
    t0 = time.process_time()
    try:
        with bounded():
            result: T | BeirctlError = fn()
    except BeirctlError as exc:
        from beirctl.config import ConfigErrors

        # a config reports every problem at once: one line each, all named in the message
        lines = exc.problems if isinstance(exc, ConfigErrors) else [str(exc)]
        assert str(exc) == "\n".join(lines)
        for message in lines:
            assert message.strip(), "a BeirctlError with an empty message"
            assert "\n" not in message and "\r" not in message, f"error message is not one line: {message!r}"
        result = exc
    used = time.process_time() - t0
    if budget_s is not None:
        assert used <= budget_s, f"took {used:.2f} s of CPU time (budget {budget_s} s)"
    return result


# --------------------------------------------------------------------------------------------
# strategies

WHITESPACE = [" ", "\t", "  x ", "\u00a0", "\u2028", "\u2029", "\u0085", "\u3000", "\r", "\n", "\x0b", "\x1c", "\ufeff"]
lone_surrogates = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3)
strings = st.one_of(
    st.text(max_size=12),
    st.sampled_from(WHITESPACE + ["", "\x00", "d1", "q1", "0", "-1", "1.5", "null"]),
    lone_surrogates,
    st.tuples(st.text(max_size=3), lone_surrogates, st.text(max_size=3)).map("".join),
    st.integers(1_000, 300_000).map(lambda n: "x" * n),  # very long
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(2**80), 2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    strings,
)
json_values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=6), kids, max_size=4),
    max_leaves=12,
)

# JSON text that json.dumps never writes but a file may contain
RAW_JSON = [
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    "-0",
    "9" * 5000,  # past Python's int-from-string digit limit
    '"\\ud800"',
    '"\\udfff\\ud800"',
    '"a\\u0000b"',
    '"\\u2028"',
    "[" * 5000 + "]" * 5000,  # deeper than the recursion limit
    '{"a":' * 3000 + "1" + "}" * 3000,
    "true",
    "{}",
    "[]",
]


def json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True, allow_nan=True)


value_texts = st.one_of(json_values.map(json_text), st.sampled_from(RAW_JSON))
record_keys = st.one_of(st.sampled_from(["_id", "title", "text", "metadata"]), st.text(max_size=4))


@st.composite
def json_record_line(draw: st.DrawFn) -> str:
    """One line: mostly an object with corpus/query keys and random values, sometimes not."""
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(value_texts)  # not an object
    if kind == 1:
        return draw(st.sampled_from(["", "   ", "{", '{"_id": "d1"', "\x00"]))
    if kind <= 5:  # well-formed record, random field values
        fields = {"_id": draw(value_texts), "text": draw(value_texts)}
        if draw(st.booleans()):
            fields["title"] = draw(value_texts)
    else:  # random keys
        fields = {json.dumps(k): v for k, v in draw(st.dictionaries(record_keys, value_texts, max_size=4)).items()}
        return "{" + ", ".join(f"{k}: {v}" for k, v in fields.items()) + "}"
    return "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"


line_ends = st.sampled_from(["\n", "\r\n", "\r", "\n\n"])


@st.composite
def json_lines_file(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(json_record_line(), min_size=0, max_size=5))
    end = draw(line_ends)
    text = "".join(line + end for line in lines)
    return text.encode("utf-8", "surrogatepass")  # a raw lone surrogate is invalid UTF-8 on disk


tsv_fields = st.one_of(
    st.sampled_from(["q1", "q2", "q3", "d1", "d4", "1", "0", "-1", "2", "1.5", "", " ", "query-id", "score"]),
    st.sampled_from(["9" * 5000, "\u0663", "1_0", " 1 ", "+1", "0x1", "\u00a0q1"]),  # int() accepts some of these
    strings,
)


@st.composite
def tsv_file(draw: st.DrawFn) -> bytes:
    rows = draw(st.lists(st.lists(tsv_fields, max_size=5).map("\t".join), max_size=6))
    if draw(st.booleans()):
        rows.insert(0, "query-id\tcorpus-id\tscore")
    end = draw(line_ends)
    return "".join(r + end for r in rows).encode("utf-8", "surrogatepass")


@st.composite
def gzip_mangled(draw: st.DrawFn) -> bytes:
    """A gzip stream of random content, then truncated or with some bytes overwritten."""
    data = bytearray(gzip.compress(draw(st.binary(max_size=200)) + b'{"_id": "d1", "text": "x"}\n' * 3, mtime=0))
    action = draw(st.sampled_from(["truncate", "flip", "append", "none"]))
    if action == "truncate":
        del data[draw(st.integers(0, len(data) - 1)) :]
    elif action == "flip":
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    elif action == "append":
        data += draw(st.binary(min_size=1, max_size=20))
    return bytes(data)


random_bytes = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=200).map(lambda s: s.encode("utf-8")),
    st.lists(st.binary(max_size=40), max_size=6).map(b"\n".join),
)


# --------------------------------------------------------------------------------------------
# loaders: load_folder

DATA_FILES = {"corpus": "corpus.jsonl", "queries": "queries.jsonl", "qrels": "qrels/test.tsv"}


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def dataset_with(scratch: Path, file: str, content: bytes, name: str | None = None) -> Path:
    """A fresh copy of the tiny dataset with one file replaced by ``content``."""
    folder = Path(tempfile.mkdtemp(dir=scratch))
    write_dataset(folder, TINY_CORPUS, TINY_QUERIES, TINY_QRELS)
    target = folder / DATA_FILES[file]
    if name is not None:  # e.g. corpus.jsonl.gz
        target.unlink()
        target = folder / name
    target.write_bytes(content)
    return folder


def check_load(folder: Path) -> None:
    try:
        result = returns_or_user_error(lambda: load_folder(folder))
        assert isinstance(result, (Dataset, BeirctlError)), type(result)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.timeout(TEST_TIMEOUT_S, method="thread")
@pytest.mark.parametrize("file", sorted(DATA_FILES))
@settings(max_examples=60, **COMMON)
@given(content=random_bytes)
def test_load_folder_random_bytes(scratch: Path, file: str, content: bytes) -> None:
    check_load(dataset_with(scratch, file, content))


@pytest.mark.timeout(TEST_TIMEOUT_S, method="thread")
@pytest.mark.parametrize("file", ["corpus", "queries"])
@settings(max_examples=150, **COMMON)
@given(content=json_lines_file())
def test_load_folder_random_json_lines(scratch: Path, file: str, content: bytes) -> None:
    check_load(dataset_with(scratch, file, content))


@pytest.mark.timeout(TEST_TIMEOUT_S, method="thread")
@settings(max_examples=150, **COMMON)
@given(content=tsv_file())
def test_load_folder_random_tsv_lines(scratch: Path, content: bytes) -> None:
    check_load(dataset_with(scratch, "qrels", content))


@pytest.mark.timeout(TEST_TIMEOUT_S, method="thread")
@pytest.mark.parametrize("file", ["corpus", "queries"])
@settings(max_examples=60, **COMMON)
@given(content=gzip_mangled())
def test_load_folder_broken_gzip(scratch: Path, file: str, content: bytes) -> None:
    check_load(dataset_with(scratch, file, content, name=f"{file}.jsonl.gz"))


# --------------------------------------------------------------------------------------------
# evaluation: read_run, read_qrels (and evaluate, as `beirctl eval` does)

run_tokens = st.one_of(
    st.sampled_from(["q1", "q2", "Q0", "d1", "d2", "d3", "1", "2", "0", "-3", "0.5", "-0.5", "beirctl"]),
    st.sampled_from(["1e309", "nan", "inf", "-inf", "1_0", "\u0663", "0x10", "9" * 5000, "1e-400"]),
    strings.filter(lambda s: len(s) < 1000),
)
separators = st.sampled_from([" ", "\t", "  ", "\x0b", "\x1c", "\u3000", "\u00a0"])


@st.composite
def whitespace_lines(draw: st.DrawFn, width: int) -> bytes:
    """Lines of about ``width`` tokens (sometimes more or fewer)."""
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        n = draw(st.sampled_from([width, width, width, width - 1, width + 1, 0]))
        sep = draw(separators)
        lines.append(sep.join(draw(st.lists(run_tokens, min_size=n, max_size=n))))
    end = draw(line_ends)
    return "".join(line + end for line in lines).encode("utf-8", "surrogatepass")


def write_tmp(scratch: Path, name: str, content: bytes) -> Path:
    path = Path(tempfile.mkdtemp(dir=scratch)) / name
    path.write_bytes(content)
    return path


@pytest.mark.timeout(TEST_TIMEOUT_S, method="thread")
@pytest.mark.parametrize("name", ["run.trec", "run.trec.gz"])
@settings(max_examples=80, **COMMON)
@given(content=st.one_of(random_bytes, whitespace_lines(6), gzip_mangled()))
def test_read_run_random(scratch: Path, name: str, content: bytes) -> None:
    if name.endswith(".gz") and not content.startswith(b"\x1f\x8b"):
        content = gzip.compress(content, mtime=0)
    result = returns_or_user_error(lambda: read_run(write_tmp(scratch, name, content)))
    assert isinstance(result, (dict, BeirctlError))


@pytest.mark.timeout(TEST_TIMEOUT_S, method="thread")
@settings(max_examples=120, **COMMON)
@given(content=st.one_of(random_bytes, whitespace_lines(4), tsv_file()))
def test_read_qrels_random(scratch: Path, content: bytes) -> None:
    result = returns_or_user_error(lambda: read_qrels(write_tmp(scratch, "qrels.txt", content)))
    assert isinstance(result, (dict, BeirctlError))


@pytest.mark.timeout(TEST_TIMEOUT_S, method="thread")
@settings(max_examples=100, **COMMON)
@given(run_text=whitespace_lines(6), qrels_text=st.one_of(whitespace_lines(4), tsv_file()))
def test_eval_random_run_and_qrels(scratch: Path, run_text: bytes, qrels_text: bytes) -> None:
    """What `beirctl eval RUN QRELS` does: read both, then score."""
    run_path = write_tmp(scratch, "run.trec", run_text)
    qrels_path = write_tmp(scratch, "qrels.txt", qrels_text)
    returns_or_user_error(lambda: evaluate(read_run(run_path), read_qrels(qrels_path), ["nDCG@10", "R@100"]))


# --------------------------------------------------------------------------------------------
# config: load_config

GOOD = {
    "name": "bench",
    "datasets": ["scifact", {"name": "nfcorpus", "split": "test"}, {"path": "./my-data"}],
    "retrievers": [
        {"type": "bm25", "label": "bm25-multi", "params": {"fields": "multifield", "k1": 0.9, "b": 0.4}},
        {"type": "rank-bm25", "params": {"variant": "okapi"}},
        {"type": "lucene-bm25", "label": "lucene", "params": {"anserini_scores": False}},
    ],
    "metrics": ["nDCG@10", "R@100"],
    "top_k": 1000,
    "remove_query_id_hits": True,
    "output_dir": "results/x",
    "cache_dir": None,
}
CONFIG_KEYS = sorted(Config.model_fields)


def write_config(scratch: Path, content: bytes | str) -> Path:
    if isinstance(content, str):
        content = content.encode("utf-8", "surrogatepass")
    return write_tmp(scratch, "cfg.yaml", content)


def check_config(path: Path) -> None:
    def load() -> Config:
        config = load_config(path)
        config.sha256()  # what `beirctl run` does first with a config (results key): must not crash either
        return config

    result = returns_or_user_error(load, budget_s=CONFIG_CPU_BUDGET_S)
    assert isinstance(result, (Config, BeirctlError)), type(result)


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    """Import the retriever modules once, so that the first example's time is not import time."""
    path = Path(tempfile.mkdtemp()) / "warm.yaml"
    path.write_text(yaml.safe_dump(GOOD))
    load_config(path)
    shutil.rmtree(path.parent)


yaml_scalars = st.one_of(
    scalars.filter(lambda v: not isinstance(v, str) or len(v) < 2000),
    st.sampled_from(["yes", "no", "on", "off", "~", "2001-12-14", "12:30:00", "0o17", "0x1F", "1_000", ".inf"]),
)
yaml_values = st.recursive(
    yaml_scalars,
    lambda kids: (
        st.lists(kids, max_size=4)
        | st.dictionaries(st.one_of(st.sampled_from(CONFIG_KEYS), yaml_scalars), kids, max_size=4)
    ),
    max_leaves=15,
)


def dump(value: Any, flow: bool | None) -> str:
    return yaml.safe_dump(value, default_flow_style=flow, allow_unicode=True, sort_keys=False)


@pytest.mark.timeout(TEST_TIMEOUT_S, method="thread")
@settings(max_examples=100, **COMMON)
@given(content=st.one_of(random_bytes, st.text(max_size=300).map(lambda s: s.encode("utf-8", "surrogatepass"))))
def test_load_config_random_bytes(scratch: Path, content: bytes) -> None:
    check_config(write_config(scratch, content))


@pytest.mark.timeout(TEST_TIMEOUT_S, method="thread")
@settings(max_examples=150, **COMMON)
@given(
    value=st.one_of(yaml_values, st.dictionaries(st.sampled_from(CONFIG_KEYS), yaml_values, max_size=6)),
    flow=st.sampled_from([None, True, False]),
)
def test_load_config_random_yaml(scratch: Path, value: Any, flow: bool | None) -> None:
    check_config(write_config(scratch, dump(value, flow)))


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a nested dict/list (the root excluded)."""
    found = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, child in items:
        found.append((*prefix, key))
        found.extend(paths_of(child, (*prefix, key)))
    return found


GOOD_PATHS = paths_of(GOOD)


@st.composite
def mutated_config(draw: st.DrawFn) -> Any:
    """GOOD with one to three random edits: replace a value, delete a key, or add one."""
    config = json.loads(json.dumps(GOOD))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(GOOD_PATHS))
        parent: Any = config
        try:
            for part in path[:-1]:
                parent = parent[part]
            parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed it
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(yaml_values)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.one_of(st.text(max_size=6), st.sampled_from(CONFIG_KEYS)))] = draw(yaml_values)
        else:
            parent.insert(path[-1], draw(yaml_values))
    return config


@pytest.mark.timeout(TEST_TIMEOUT_S, method="thread")
@settings(max_examples=150, **COMMON)
@given(config=mutated_config(), flow=st.sampled_from([None, True, False]))
def test_load_config_mutations(scratch: Path, config: Any, flow: bool | None) -> None:
    check_config(write_config(scratch, dump(config, flow)))


def valid_config_text() -> str:
    return dump(GOOD, False)


BOMB = "".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n',
        *(f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi")),
    ]
)
NASTIES: dict[str, str] = {
    "alias-bomb": BOMB,  # billion laughs: 9**9 leaves from ~400 bytes
    "alias-bomb-in-datasets": BOMB.replace("i: &i", "datasets: &i") + "retrievers: [{type: bm25}]\n",
    "alias-bomb-in-params": BOMB + "datasets: [scifact]\nretrievers: [{type: bm25, params: {k1: *i}}]\n",
    "deep-flow-lists": "[" * 5000 + "]" * 5000 + "\n",
    "deep-flow-maps": "{a: " * 5000 + "1" + "}" * 5000 + "\n",
    "deep-in-datasets": "datasets: " + "[" * 5000 + "]" * 5000 + "\nretrievers: [{type: bm25}]\n",
    "deep-block-lists": "".join(" " * i + "-\n" for i in range(2000)),
    "non-scalar-key-top": "? [a, b]\n: c\n",
    "non-scalar-key-mapping": "? {a: 1}\n: c\ndatasets: [scifact]\nretrievers: [{type: bm25}]\n",
    "non-scalar-key-nested": "datasets: [scifact]\nretrievers:\n  - type: bm25\n    params:\n      ? [k1]\n      : 1\n",
    "set-key": "datasets: [scifact]\nretrievers: [{type: bm25}]\n? !!set {a}\n: 1\n",
    "python-object-tag": "datasets: !!python/object:os.system [echo]\nretrievers: [{type: bm25}]\n",
    "python-apply-tag": "!!python/object/apply:os.system ['echo pwned']\n",
    "python-name-tag": "datasets: [!!python/name:os.system '']\nretrievers: [{type: bm25}]\n",
    "unknown-tag": "datasets: !custom [scifact]\nretrievers: [{type: bm25}]\n",
    "binary-tag": "datasets: [scifact]\nretrievers: [{type: bm25}]\nname: !!binary aGVsbG8=\n",
    "timestamp-name": "name: 2001-12-14\ndatasets: [scifact]\nretrievers: [{type: bm25}]\n",
    "huge-int-top_k": f"datasets: [scifact]\nretrievers: [{{type: bm25}}]\ntop_k: {'9' * 5000}\n",
    "huge-int-key": f"datasets: [scifact]\nretrievers: [{{type: bm25}}]\n{'9' * 5000}: 1\n",
    "huge-int-param": f"datasets: [scifact]\nretrievers: [{{type: bm25, params: {{k1: {'9' * 5000}}}}}]\n",
    "big-int-top_k": f"datasets: [scifact]\nretrievers: [{{type: bm25}}]\ntop_k: {'9' * 400}\n",
    "nan-k1": "datasets: [scifact]\nretrievers: [{type: bm25, params: {k1: .nan}}]\n",
    "inf-top_k": "datasets: [scifact]\nretrievers: [{type: bm25}]\ntop_k: .inf\n",
    "duplicate-top": "datasets: [scifact]\nretrievers: [{type: bm25}]\ndatasets: [nfcorpus]\n",
    "duplicate-nested": "datasets: [scifact]\nretrievers:\n  - type: bm25\n    type: rank-bm25\n",
    "duplicate-int-float-key": "datasets: [scifact]\nretrievers: [{type: bm25}]\n1: a\n1.0: b\n",
    "merge-key": "base: &b {type: bm25}\ndatasets: [scifact]\nretrievers: [{<<: *b, label: x}]\n",
    "null-key": "datasets: [scifact]\nretrievers: [{type: bm25}]\n~: 1\n",
    "bool-key": "datasets: [scifact]\nretrievers: [{type: bm25}]\ntrue: 1\n",
    "empty": "",
    "only-comment": "# nothing\n",
    "multi-document": valid_config_text() + "---\n" + valid_config_text(),
    "bom": "\ufeff" + valid_config_text(),
    "nul-byte": valid_config_text() + "\x00\n",
    "lone-surrogate-escape": 'datasets: ["\\ud800"]\nretrievers: [{type: bm25}]\n',
    "lone-surrogate-name": 'name: "\\udc00"\ndatasets: [scifact]\nretrievers: [{type: bm25}]\n',
    "tab-indent": "datasets:\n\t- scifact\n",
    # an unknown key is quoted in the error: a line break in it must not break the one-line message
    "cr-in-unknown-key": '"\\r": 1\ndatasets: [scifact]\nretrievers: [{type: bm25}]\n',
    "newline-in-param-key": 'datasets: [scifact]\nretrievers: [{type: bm25, params: {"a\\nb": 1}}]\n',
    # long but honest inputs (PyYAML reads ~100 KB/s: 18 KB fits the 1 s budget with room to spare)
    "long-line": "datasets: [" + ", ".join(["scifact"] * 2000) + "]\nretrievers: [{type: bm25}]\n",
    "long-scalar": "name: " + "x" * 100_000 + "\ndatasets: [scifact]\nretrievers: [{type: bm25}]\n",
}


@pytest.mark.timeout(60, method="thread")
@pytest.mark.parametrize("name", sorted(NASTIES))
def test_load_config_nasties(scratch: Path, name: str) -> None:
    check_config(write_config(scratch, NASTIES[name]))


LOADER_NASTIES: dict[str, tuple[str, str]] = {
    "corpus-lone-surrogate-id": ("corpus", '{"_id": "\\ud800", "text": "x"}\n'),
    "corpus-lone-surrogate-text": ("corpus", '{"_id": "d1", "text": "\\udfff"}\n'),
    "corpus-lone-surrogate-title": ("corpus", '{"_id": "d1", "title": "\\ud800", "text": "x"}\n'),
    "queries-lone-surrogate-id": ("queries", '{"_id": "\\ud800", "text": "x"}\n'),
    "corpus-deep-json": ("corpus", '{"_id": ' + "[" * 5000 + "]" * 5000 + ', "text": "x"}\n'),
    "queries-deep-json": ("queries", "[" * 100_000 + "]" * 100_000 + "\n"),
    "corpus-huge-int-id": ("corpus", '{"_id": ' + "9" * 5000 + ', "text": "x"}\n'),
    "corpus-float-id": ("corpus", '{"_id": 1.0, "text": "x"}\n'),
    "corpus-inf-id": ("corpus", '{"_id": 1e400, "text": "x"}\n'),
    "corpus-nan-text": ("corpus", '{"_id": "d1", "text": NaN}\n'),
    "corpus-whitespace-id": ("corpus", '{"_id": "\\u2028", "text": "x"}\n'),
    "corpus-id-only-spaces": ("corpus", '{"_id": " \\t ", "text": "x"}\n'),
    "corpus-bom": ("corpus", '\ufeff{"_id": "d1", "text": "x"}\n'),
    "corpus-nul": ("corpus", '{"_id": "d\\u0000", "text": "x"}\n'),
    "qrels-huge-score": ("qrels", "query-id\tcorpus-id\tscore\nq1\td1\t" + "9" * 5000 + "\n"),
    "qrels-unicode-digit-score": ("qrels", "q1\td1\t\u0663\n"),
    "qrels-surrogate-escape-bytes": ("qrels", "q1\td\udc80\t1\n"),
}


@pytest.mark.timeout(60, method="thread")
@pytest.mark.parametrize("name", sorted(LOADER_NASTIES))
def test_load_folder_nasties(scratch: Path, name: str) -> None:
    file, text = LOADER_NASTIES[name]
    check_load(dataset_with(scratch, file, text.encode("utf-8", "surrogatepass")))


# --------------------------------------------------------------------------------------------
# the command line, as a subprocess

BEIRCTL = Path(sys.executable).with_name("beirctl")
CLI = [str(BEIRCTL)] if BEIRCTL.is_file() else [sys.executable, "-m", "beirctl"]
CLI_TIMEOUT_S = 30


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    try:
        return subprocess.run(
            [*CLI, *map(str, args)],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=CLI_TIMEOUT_S,
            env=env,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"beirctl {' '.join(map(str, args))} hung (killed after {CLI_TIMEOUT_S} s)")


def check_cli(proc: subprocess.CompletedProcess[str]) -> None:
    where = f"rc={proc.returncode}\nstderr:\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr, where
    assert proc.returncode in (0, 2), where
    if proc.returncode == 2:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), f"error is not one line: {where}"


def rng_bytes(seed: int, n: int) -> bytes:
    return random.Random(seed).randbytes(n)


CLI_CONFIGS = {
    "alias-bomb": NASTIES["alias-bomb-in-datasets"],
    "deep-flow-lists": NASTIES["deep-flow-lists"],
    "huge-int-top_k": NASTIES["huge-int-top_k"],
    "non-scalar-key-nested": NASTIES["non-scalar-key-nested"],
    "lone-surrogate-name": NASTIES["lone-surrogate-name"],
    "python-object-tag": NASTIES["python-object-tag"],
    "random-bytes": rng_bytes(11, 300),
    "newline-in-param-key": NASTIES["newline-in-param-key"],
}


@pytest.mark.timeout(CLI_TIMEOUT_S + 30, method="thread")
@pytest.mark.parametrize("name", sorted(CLI_CONFIGS))
def test_cli_run_bad_config(tmp_path: Path, name: str) -> None:
    content = CLI_CONFIGS[name]
    path = tmp_path / "BAD.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
    check_cli(cli("run", path))


TRUNCATED_GZ = gzip.compress(b"q1 Q0 d1 1 1.0 x\n" * 200, mtime=0)[:60]
CLI_EVAL = {
    "random-bytes-run": (rng_bytes(1, 300), "q1\t0\td1\t1\n", "run.trec"),
    "truncated-gzip-run": (TRUNCATED_GZ, "q1\t0\td1\t1\n", "run.trec.gz"),
    "bad-utf8-trec-qrels": (b"q1 Q0 d1 1 1.0 x\n", b"q1 0 d1 1\nq1 0 \xff\xfe 1\n", "run.trec"),
    "random-bytes-qrels": (b"q1 Q0 d1 1 1.0 x\n", rng_bytes(2, 300), "run.trec"),
    "nan-score-run": (b"q1 Q0 d1 1 nan x\n", "q1\t0\td1\t1\n", "run.trec"),
}


@pytest.mark.timeout(CLI_TIMEOUT_S + 30, method="thread")
@pytest.mark.parametrize("name", sorted(CLI_EVAL))
def test_cli_eval_bad_files(tmp_path: Path, name: str) -> None:
    run_content, qrels_content, run_name = CLI_EVAL[name]
    run_path, qrels_path = tmp_path / run_name, tmp_path / "qrels.txt"
    for path, content in ((run_path, run_content), (qrels_path, qrels_content)):
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    check_cli(cli("eval", run_path, qrels_path))
