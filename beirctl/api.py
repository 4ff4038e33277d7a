"""The Python API in a few calls: load a dataset, make a retriever, search, evaluate.

>>> import beirctl
>>> ds = beirctl.load_dataset("scifact")                # downloaded to the data dir if missing
>>> bm25 = beirctl.retriever("bm25", k1=0.9, b=0.4)
>>> run = beirctl.search(bm25, ds, k=1000)              # the query's own document removed
>>> beirctl.evaluate(run, ds.qrels, ["nDCG@10", "R@100"]).aggregate
{'nDCG@10': 0.6789..., 'R@100': 0.9253...}

Each call is what ``beirctl run`` does for one pair, without writing results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from beirctl.datasets import catalog
from beirctl.datasets.paths import data_dir as resolve_data_dir
from beirctl.errors import ConfigError, did_you_mean
from beirctl.jobs import Target, drop_query_hits, load_target
from beirctl.retrievers import IndexContext, Retriever, registry
from beirctl.types import Dataset, Run


def load_dataset(
    name: str,
    split: str | None = None,
    *,
    data_dir: str | Path | None = None,
    source: str = "folder",
    download: bool = True,
) -> Dataset:
    """A BEIR dataset by catalog name (``scifact``, ``cqadupstack/android``) from the data dir
    (``BEIRCTL_DATA_DIR``; a missing public dataset is downloaded unless ``download=False``), a
    folder in the BEIR format by path, or ``source="hf"`` for the Hugging Face hub. ``split``
    defaults to the dataset's evaluation split (``dev`` for MS MARCO, else ``test``)."""
    path = Path(name).expanduser()
    if source == "folder" and (path.is_dir() or name.startswith((".", "/", "~"))):
        target = Target(path.name, split or "test", "folder", str(path))
    else:
        info = catalog.DATASETS.get(name)
        target = Target(name, split or (info.split if info else "test"), source)
    return load_target(target, resolve_data_dir(data_dir), auto_download=download)


def retriever(type: str, **params: Any) -> Retriever[Any]:
    """A retriever by registered name (``bm25``, ``dense``, ...) or ``module:Class``, with its
    parameters as in a config's ``params`` (checked: an unknown or bad parameter is an error)."""
    cls = registry.get(type)
    try:
        return cls(cls.Params.model_validate(params))
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or type
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown parameter" + did_you_mean(str(err["loc"][-1]), cls.Params.model_fields)
            problems.append(f"{type}: {where}: {message}")
        raise ConfigError("; ".join(problems)) from None


def search(
    retriever: Retriever[Any],
    dataset: Dataset,
    k: int = 1000,
    *,
    cache_dir: str | Path | None = None,
    remove_query_id_hits: bool = True,
) -> Run:
    """Index ``dataset``'s corpus (cached in ``cache_dir`` when given) and search its queries for
    the top ``k``; as ``beirctl run``, a hit whose id is the query's is dropped unless
    ``remove_query_id_hits=False``."""
    ctx = IndexContext(
        corpus_id=dataset.fingerprint, dataset=dataset.name, cache_dir=Path(cache_dir) if cache_dir else None
    )
    retriever.index(dataset.corpus, ctx)
    return drop_query_hits(retriever.search(dataset.queries, k), k, remove_query_id_hits)
