"""Build the optional compiled tokenizer; everything else is in pyproject.toml.

One extension, ``beirctl.lucene._scan``, from two C sources: ``_scan.c`` (the StandardTokenizer
scanner and the module) and ``_porter.c`` (the Porter stemmer), which share ``_scan.h``.

``optional=True``: without a C compiler the install still succeeds and beirctl uses the
pure-Python tokenizer, which gives the same tokens (``beirctl doctor`` says which is in use;
``BEIRCTL_NATIVE=0`` picks the pure-Python path even where the extension is built).
"""

from setuptools import Extension, setup

_SCAN = Extension(
    "beirctl.lucene._scan",
    sources=["beirctl/lucene/_scan.c", "beirctl/lucene/_porter.c"],
    depends=["beirctl/lucene/_scan.h"],
    optional=True,
)

setup(ext_modules=[_SCAN])
