"""Lucene/Anserini BM25 reproduced exactly.

``analyzer`` (the English analyzer chain, ``ENGLISH_STOP_WORDS``), ``tokenizer`` (StandardTokenizer),
``porter`` (Porter stemmer), ``native`` (the optional compiled extension ``_scan``; ``BEIRCTL_NATIVE=0``
turns it off), ``index`` and ``bm25`` (the index and its scoring).
"""
