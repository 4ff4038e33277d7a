"""What produced a result: package versions, machine, time."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version

from beirctl.version import __version__

# Bump when a change of beirctl alters run files or metrics for the same data and parameters:
# results recorded under another value are recomputed, not reused.
RESULTS_VERSION = 1

PACKAGES = (
    "bm25s",
    "rank-bm25",
    "PyStemmer",
    "ir-measures",
    "pytrec-eval-terrier",
    "numpy",
    "scipy",
    "pydantic",
    "datasets",
    "pyserini",
    "sentence-transformers",
    "torch",
    "transformers",
)


def package_versions() -> dict[str, str]:
    """Versions of beirctl and of the installed packages that can change a score."""
    versions = {"beirctl": __version__, "python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            continue
    return versions


def machine() -> dict[str, object]:
    """The hardware and OS a result was computed on."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = None
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "memory_bytes": memory,
        "python": sys.version.split()[0],
    }


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
