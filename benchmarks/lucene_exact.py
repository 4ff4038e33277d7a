"""How exactly ``lucene-bm25`` reproduces Anserini/Pyserini BM25 on BEIR, and how fast it is.

    python benchmarks/lucene_exact.py [--shared ../shared] [--datasets scifact nfcorpus]

For each dataset and field layout (flat, multifield): total indexed terms and nDCG@10,
R@100, R@1000 against the official Pyserini table, top-10 agreement with the Lucene run
files (flat), index time, and queries/second against bm25s with the same k1/b (both times
include query analysis; top 1000 per query, hits equal to the query id removed).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_runs import compare  # noqa: E402

from beirctl.datasets import load_folder  # noqa: E402
from beirctl.evaluation import evaluate, read_run  # noqa: E402
from beirctl.lucene.analyzer import ENGLISH_STOP_WORDS  # noqa: E402
from beirctl.retrievers import IndexContext  # noqa: E402
from beirctl.retrievers.lucene_bm25 import LuceneBM25Params, LuceneBM25Retriever  # noqa: E402
from beirctl.types import Dataset, Run  # noqa: E402

SHARED = Path(os.environ.get("BEIRCTL_SHARED", Path(__file__).resolve().parents[2] / "shared"))
METRICS = ("nDCG@10", "R@100", "R@1000")
K = 1000


def official(shared: Path) -> dict[tuple[str, str], dict[str, str]]:
    with open(shared / "reference" / "pyserini-beir-v1.0.0-bm25.tsv", encoding="utf-8") as fh:
        return {(r["dataset"], r["variant"]): r for r in csv.DictReader(fh, delimiter="\t")}


def drop_self(run: Run, k: int = K) -> Run:
    return {q: [h for h in hits if h[0] != q][:k] for q, hits in run.items()}


def bm25s_qps(data: Dataset, fields: str, k1: float, b: float) -> float:
    """Queries/second of bm25s (method "lucene", Lucene's stop words, Snowball porter)."""
    import bm25s
    import Stemmer

    stemmer = Stemmer.Stemmer("porter")
    stop = sorted(ENGLISH_STOP_WORDS)
    ids = list(data.corpus)
    docs = data.corpus
    if fields == "flat":
        field_texts = [[f"{docs[i].title}\n{docs[i].text}" for i in ids]]
    else:
        field_texts = [[docs[i].text for i in ids], [docs[i].title for i in ids]]
    models = []
    for texts in field_texts:
        model = bm25s.BM25(k1=k1, b=b, method="lucene")
        model.index(bm25s.tokenize(texts, stopwords=stop, stemmer=stemmer, show_progress=False), show_progress=False)
        models.append(model)
    queries = list(data.queries.values())
    k = min(K + 1, len(ids))
    t0 = time.perf_counter()
    if len(models) == 1:
        tokens = bm25s.tokenize(queries, stopwords=stop, stemmer=stemmer, show_progress=False)
        models[0].retrieve(tokens, k=k, show_progress=False, n_threads=1)
    else:
        for q in queries:
            toks = bm25s.tokenize([q], stopwords=stop, stemmer=stemmer, show_progress=False, return_ids=False)[0]
            scores = sum(m.get_scores(toks) for m in models)
            top = np.argpartition(-scores, k - 1)[:k]
            top[np.argsort(-scores[top])]
    return len(queries) / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--datasets", nargs="+", default=["scifact", "nfcorpus"])
    args = parser.parse_args(argv)
    table = official(args.shared)
    for name in args.datasets:
        data = load_folder(args.shared / "beir" / name)
        for fields in ("flat", "multifield"):
            params = LuceneBM25Params.model_validate({"fields": fields})
            retriever = LuceneBM25Retriever(params)
            t0 = time.perf_counter()
            retriever.index(data.corpus, IndexContext(data.fingerprint, dataset=name))
            index_s = time.perf_counter() - t0
            assert retriever.searcher is not None
            stats = {n: f.sum_ttf for n, f in retriever.searcher.index.fields.items()}
            retriever.search(dict(list(data.queries.items())[:5]), K)  # warm-up (first-call caches)
            t0 = time.perf_counter()
            run = retriever.search(data.queries, K)
            qps = len(data.queries) / (time.perf_counter() - t0)
            run = drop_self(run)
            result = evaluate(run, data.qrels, METRICS).aggregate
            ref = table[(name, fields)]
            n_docs = len(retriever.searcher.index.doc_ids)
            print(f"== {name} {fields}: {n_docs} docs, {len(data.queries)} queries")
            extra = f" (+ title {stats['title']:,})" if "title" in stats else ""
            print(
                f"total terms (contents): {stats['contents']:,}{extra}; official {int(ref['total_terms']):,}"
                f" -> {'EQUAL' if stats['contents'] == int(ref['total_terms']) else 'DIFFERENT'}"
            )
            for m in METRICS:
                mine, off = result[m], float(ref[m])
                verdict = "EQUAL" if round(mine, 4) == off else "DIFFERENT"
                diff = mine - off
                print(f"  {m:8s} {mine:.6f} (4 dp {mine:.4f}) official {off:.4f} diff {diff:+.6f} {verdict}")
            ref_run = args.shared / "reference" / "runs" / f"{name}.bm25-{fields}.anserini-0.22.1.trec.gz"
            if ref_run.is_file():
                cmp = compare(read_run(ref_run), run)
                print(
                    "  vs Lucene run file: "
                    + "; ".join(
                        line.split(":")[0].strip() + ": " + line.split(":", 1)[1].strip() for line in cmp.lines()
                    )
                )
            base = bm25s_qps(data, fields, params.k1, params.b)
            print(f"  index {index_s:.2f} s; search {qps:,.0f} q/s vs bm25s {base:,.0f} q/s ({qps / base:.2f}x)")


if __name__ == "__main__":
    main()
