"""Build the optional compiled tokenizer, search, run loops and record checks; the rest is in pyproject.toml.

Four extensions. ``beirctl.lucene._scan``, from three C sources: ``_scan.c`` (the StandardTokenizer
scanner and the module), ``_porter.c`` (the Porter stemmer) and ``_postings.c`` (a chunk's
postings), which share ``_scan.h``.
``beirctl.lucene._search`` (``_search.c``): the pruned exact top-k BM25 search; without it
lucene-exact scores every document (same run files, slower search).
``beirctl.evaluation._runs`` (``_runs.c``): the per-hit loops over runs (building, rescoring,
writing them); without it the same loops run in Python. ``beirctl.datasets._records``
(``_records.c``): the corpus loader's checks of a block of records; without it, Python's.

``optional=True``: without a C compiler the install still succeeds and beirctl uses the
pure-Python tokenizer, which gives the same tokens (``beirctl doctor`` says which is in use;
``BEIRCTL_NATIVE=0`` picks the pure-Python path even where the extension is built).
"""

import sys

from setuptools import Extension, setup

_SCAN = Extension(
    "beirctl.lucene._scan",
    sources=["beirctl/lucene/_scan.c", "beirctl/lucene/_porter.c", "beirctl/lucene/_postings.c"],
    depends=["beirctl/lucene/_scan.h"],
    optional=True,
)

# No fused multiply-add: a * b + c must round twice, as numpy's float32 arithmetic does.
_STRICT_FLOAT = [] if sys.platform == "win32" else ["-ffp-contract=off"]

# Threads (pthreads) prepare the pruned search's term bounds in parallel.
_THREADS = [] if sys.platform == "win32" else ["-pthread"]

_SEARCH = Extension(
    "beirctl.lucene._search",
    sources=["beirctl/lucene/_search.c"],
    extra_compile_args=_STRICT_FLOAT + _THREADS,
    extra_link_args=_THREADS,
    optional=True,
)

_RUNS = Extension(
    "beirctl.evaluation._runs",
    sources=["beirctl/evaluation/_runs.c"],
    depends=["beirctl/_cbuf.h"],
    include_dirs=["beirctl"],
    optional=True,
)

_RECORDS = Extension(
    "beirctl.datasets._records",
    sources=["beirctl/datasets/_records.c"],
    depends=["beirctl/_cbuf.h"],
    include_dirs=["beirctl"],
    optional=True,
)

setup(ext_modules=[_SCAN, _SEARCH, _RUNS, _RECORDS])
