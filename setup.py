"""Build the optional compiled tokenizer; everything else is in pyproject.toml.

``optional=True``: without a C compiler the install still succeeds and beirctl uses the
pure-Python tokenizer, which gives the same tokens (``beirctl doctor`` says which is in use).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("beirctl.lucene._scan", ["beirctl/lucene/_scan.c"], optional=True)])
