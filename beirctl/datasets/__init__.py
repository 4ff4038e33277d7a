"""BEIR datasets: catalog, download, and loading (folder format or Hugging Face)."""

from beirctl.datasets.catalog import BENCHMARK, CQADUPSTACK, CQADUPSTACK_FORUMS, DATASETS, DatasetInfo
from beirctl.datasets.download import download
from beirctl.datasets.hub import load_hub
from beirctl.datasets.loader import load_folder
from beirctl.datasets.paths import data_dir, dataset_folder, is_cached
from beirctl.datasets.stream import StreamingCorpus, iter_chunks
from beirctl.types import Corpus, Dataset, Document, Qrels, Queries

__all__ = [
    "BENCHMARK",
    "CQADUPSTACK",
    "CQADUPSTACK_FORUMS",
    "DATASETS",
    "Corpus",
    "Dataset",
    "DatasetInfo",
    "Document",
    "Qrels",
    "Queries",
    "StreamingCorpus",
    "data_dir",
    "dataset_folder",
    "download",
    "is_cached",
    "iter_chunks",
    "load_folder",
    "load_hub",
]
