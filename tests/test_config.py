"""Config validation: defaults, shorthand, and errors that name the key and its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from beirctl.config import load_config
from beirctl.errors import ConfigError

GOOD = """\
datasets:
  - scifact
  - name: nfcorpus
    split: test
  - path: ./my-data
retrievers:
  - type: bm25
    label: bm25-multi
    params:
      fields: multifield
"""


def write(tmp_path: Path, text: str, name: str = "cfg.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_defaults_and_shorthand(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, GOOD, "my-bench.yaml"))
    assert cfg.name == "my-bench"
    assert [d.label for d in cfg.datasets] == ["scifact", "nfcorpus", "my-data"]
    assert cfg.metrics == ["nDCG@10", "R@100"]
    assert cfg.top_k == 1000 and cfg.remove_query_id_hits is True
    assert cfg.results_dir() == Path("results/my-bench")
    assert cfg.retrievers[0].name == "bm25-multi"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace("    split: test", "    spilt: test"), r"cfg.yaml:4: datasets\[1\].spilt: unknown key"),
        (GOOD + "      k1: fast\n", r"cfg.yaml:11: retrievers\[0\].params.k1: Input should be a valid number"),
        (GOOD + "      colour: red\n", r"cfg.yaml:11: retrievers\[0\].params.colour: unknown key"),
        (GOOD + "top_k: 0\n", r"cfg.yaml:11: top_k: Input should be greater than 0"),
        (GOOD + "metrics: [nDCG@10, Bogus@3]\n", r"cfg.yaml:11: metrics: unknown metric 'Bogus@3'"),
        (GOOD.replace("type: bm25", "type: bm99"), r"cfg.yaml:7: retrievers\[0\].type: unknown retriever type 'bm99'"),
        (GOOD + "remove_query_id_hits: maybe\n", r"cfg.yaml:11: remove_query_id_hits: Input should be a valid boolean"),
        ("datasets: []\nretrievers: [{type: bm25}]\n", r"cfg.yaml:1: datasets: must list at least one entry"),
        ("datasets: [scifact]\n", r"cfg.yaml:1: retrievers: Field required"),
        ("datasets: [scifact\n", r"cfg.yaml:2: invalid YAML"),
        (GOOD + "retrievers:\n  - type: bm25\n", r"cfg.yaml:11: duplicate key 'retrievers'"),
    ],
)
def test_errors_name_key_and_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_config(write(tmp_path, text))
    assert "\n" not in str(info.value)


def test_duplicate_labels(tmp_path: Path) -> None:
    text = "datasets: [scifact]\nretrievers:\n  - type: bm25\n  - type: bm25\n"
    with pytest.raises(ConfigError, match="labels must be unique; repeated: bm25"):
        load_config(write(tmp_path, text))


def test_shipped_configs_are_valid() -> None:
    configs = sorted((Path(__file__).resolve().parents[1] / "configs").glob("*.yaml"))
    assert configs
    for path in configs:
        try:
            load_config(path)
        except ConfigError as exc:  # a config for an optional backend that is not installed
            assert "not installed" in str(exc), exc
