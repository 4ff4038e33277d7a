"""beirctl: a command-line benchmark runner for zero-shot retrieval on BEIR."""

__version__ = "0.1.0"
