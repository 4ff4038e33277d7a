"""``beirctl verify`` compares a result with a preset's reference table only when the result was
made under that preset's condition (the preset itself, or an equivalent ``dense`` config), and
otherwise refuses in one line naming each setting that differs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from beirctl.cli import app
from beirctl.conditions import BGE_INSTRUCTION, CONDITIONS, condition_of_reference, setting_differences
from beirctl.errors import BeirctlError
from beirctl.results import PairResult
from beirctl.retrievers import registry
from beirctl.retrievers.dense import DenseParams
from beirctl.verify import verify
from tests.result_factory import make_result, write_results

pytestmark = pytest.mark.unit

BGE = "BAAI/bge-base-en-v1.5@a5beb1e3e68b9ab74eb54cfd186867f64f240e1a"
# Pyserini's published nDCG@10 (beirctl/references/pyserini-beir-v1.0.0.tsv).
BGE_SCIFACT, BGE_ARGUANA, CONTRIEVER_SCIFACT = 0.7408, 0.6362, 0.6493


def _result(dataset: str, kind: str, params: dict[str, Any], ndcg: float) -> PairResult:
    # Two queries whose mean is the figure.
    r = make_result(dataset, "mine", {"q1": ndcg - 0.1, "q2": ndcg + 0.1}, type=kind)
    r.retriever.params = params
    return r


def _dense(**kw: Any) -> dict[str, Any]:
    """A ``dense`` result's params as the runner records them (every field, serialised)."""
    return DenseParams(**kw).model_dump(mode="json")


def _bge_dense(**kw: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "model": BGE,
        "similarity": "cosine",
        "max_seq_length": 512,
        "query_prefix": BGE_INSTRUCTION + " ",
        "dataset_overrides": {"arguana": {"query_prefix": ""}},
    }
    return _dense(**{**settings, **kw})


def test_each_2cr_dense_table_belongs_to_its_preset() -> None:
    assert condition_of_reference("pyserini-bge-base-en-v1.5") is CONDITIONS["bge-base-en-v1.5"]
    assert condition_of_reference("pyserini-contriever-msmarco") is CONDITIONS["contriever-msmarco"]
    assert condition_of_reference("pyserini-bm25-flat") is None
    assert CONDITIONS["tas-b"].reference is None  # no TAS-B rows in Pyserini's BEIR 2CR


def test_preset_result_records_its_pinned_revision_and_verifies() -> None:
    params = registry.get("bge-base-en-v1.5").Params().model_dump(mode="json")
    assert params == {"model": BGE, "device": "auto", "batch_size": 32}
    report = verify([_result("scifact", "bge-base-en-v1.5", params, BGE_SCIFACT)], "pyserini-bge-base-en-v1.5")
    assert report.ok and [(c.dataset, c.metric, c.expected) for c in report.checks] == [
        ("scifact", "nDCG@10", BGE_SCIFACT)
    ]


def test_equivalent_dense_config_is_compared_as_today() -> None:
    # cosine = dot + L2 normalisation; ArguAna without the instruction, as 2CR runs it.
    entries = [
        _result("scifact", "dense", _bge_dense(), BGE_SCIFACT),
        _result("arguana", "dense", _bge_dense(), BGE_ARGUANA + 0.001),
    ]
    report = verify(entries, "pyserini-bge-base-en-v1.5")
    assert [(c.dataset, c.ok) for c in report.checks] == [("arguana", False), ("scifact", True)]
    assert report.checks[0].diff == pytest.approx(0.001)
    # facebook/contriever has no pinned revision: any commit of it is accepted.
    contriever = _dense(model="facebook/contriever@" + "1" * 40, similarity="dot", max_seq_length=512)
    assert verify([_result("scifact", "dense", contriever, CONTRIEVER_SCIFACT)], "pyserini-contriever").ok


@pytest.mark.parametrize(
    ("params", "dataset", "message"),
    [
        (_bge_dense(query_prefix=""), "scifact", "query_prefix '' (reference 'Represent this sentence"),
        (_bge_dense(similarity="dot"), "scifact", "normalize false (reference true)"),
        (_bge_dense(model="BAAI/bge-base-en-v1.5"), "scifact", "revision none (reference 'a5beb1e3e68b9ab7"),
        (_bge_dense(max_seq_length=None), "scifact", "max_seq_length none (reference 512)"),
        (
            _bge_dense(dataset_overrides={}),
            "arguana",
            "query_prefix 'Represent this sentence for searching relevant passages: ' (reference '')",
        ),
        (_bge_dense(index="faiss-hnsw"), "scifact", "exact_search false (reference true)"),
        (_bge_dense(model="/weights/bge"), "scifact", "model '/weights/bge' (reference 'BAAI/bge-base-en-v1.5')"),
    ],
)
def test_result_made_otherwise_is_refused(params: dict[str, Any], dataset: str, message: str) -> None:
    with pytest.raises(BeirctlError, match="^" + dataset + " × mine: not made as pyserini-bge-base-en-v1.5") as e:
        verify([_result(dataset, "dense", params, BGE_SCIFACT)], "pyserini-bge-base-en-v1.5")
    assert message in str(e.value)


def test_every_differing_setting_is_named() -> None:
    cond = CONDITIONS["bge-base-en-v1.5"]
    differ = setting_differences(cond, "dense", _dense(model="BAAI/bge-base-en-v1.5"), "scifact")
    assert [d.split(" ")[0] for d in differ] == ["revision", "max_seq_length", "query_prefix"]
    # cosine similarity of the default dense already normalises; a contriever preset is another model
    assert setting_differences(cond, "contriever", {"model": None}, "scifact")[0] == (
        "model 'facebook/contriever' (reference 'BAAI/bge-base-en-v1.5')"
    )
    assert setting_differences(cond, "bm25", {}, "scifact") == [
        "retriever type 'bm25' (reference: bge-base-en-v1.5 or an equivalent dense)"
    ]


def test_cli_refusal_is_one_line_exit_2(tmp_path: Path) -> None:
    folder = write_results(
        tmp_path / "res", [_result("scifact", "dense", _bge_dense(normalize=False, similarity="dot"), BGE_SCIFACT)]
    )
    out = CliRunner().invoke(app, ["verify", str(folder), "-r", "pyserini-bge-base-en-v1.5"])
    assert out.exit_code == 2
    lines = [ln for ln in out.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "normalize false (reference true)" in lines[0], out.output
    ok = write_results(tmp_path / "ok", [_result("scifact", "dense", _bge_dense(), BGE_SCIFACT)])
    good = CliRunner().invoke(app, ["verify", str(ok), "-r", "pyserini-bge-base-en-v1.5"])
    assert good.exit_code == 0 and "1 ok, 0 off" in good.output
