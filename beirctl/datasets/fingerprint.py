"""Content fingerprints that do not depend on file layout or loading route."""

from __future__ import annotations

import hashlib


class CorpusHasher:
    """Incremental SHA-256 over (id, title, text) triples, in corpus order."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def update(self, doc_id: str, title: str, text: str) -> None:
        for part in (doc_id, title, text):
            data = part.encode("utf-8")
            # Length-prefix each field so that field boundaries cannot collide.
            self._h.update(len(data).to_bytes(8, "little"))
            self._h.update(data)

    def hexdigest(self) -> str:
        return self._h.hexdigest()
