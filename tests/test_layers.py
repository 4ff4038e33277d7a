"""The layer contracts in pyproject.toml hold (what `make check` runs as `lint-imports`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    pytest.importorskip("importlinter")
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports())"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-1000:]
    assert "3 kept, 0 broken" in proc.stdout


def test_types_module_imports_nothing_of_beirctl() -> None:
    code = "import sys, beirctl.types; print(sorted(m for m in sys.modules if m.startswith('beirctl')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['beirctl', 'beirctl.types', 'beirctl.version']"


def test_top_level_api_is_lazy_and_complete() -> None:
    import beirctl

    code = "import sys, beirctl; print(sorted(m for m in sys.modules if m.startswith('beirctl')))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['beirctl', 'beirctl.version']"  # `import beirctl` loads no engine
    for name in beirctl.__all__:
        assert getattr(beirctl, name) is not None
    with pytest.raises(AttributeError):
        beirctl.no_such_name  # noqa: B018


def test_all_lists_every_lazy_name() -> None:
    import beirctl

    assert sorted(beirctl.__all__) == sorted(["__version__", *beirctl._WHERE])
