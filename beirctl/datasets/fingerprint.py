"""Content fingerprints that do not depend on file layout or loading route."""

from __future__ import annotations

import hashlib
import struct

_LENGTH = struct.Struct("<Q").pack


def fingerprint_bytes(doc_id: bytes, title: bytes, text: bytes) -> bytes:
    """What one document adds to the fingerprint: each UTF-8 field after its 8-byte little-endian
    length, so that field boundaries cannot collide."""
    return b"".join((_LENGTH(len(doc_id)), doc_id, _LENGTH(len(title)), title, _LENGTH(len(text)), text))


def fingerprint_columns(ids: list[bytes], titles: list[bytes], texts: list[bytes]) -> bytes:
    """:func:`fingerprint_bytes` of many documents, concatenated (built column-wise, without a
    Python loop per document)."""
    parts: list[bytes] = [b""] * (6 * len(ids))
    for i, column in enumerate((ids, titles, texts)):
        parts[2 * i :: 6] = list(map(_LENGTH, map(len, column)))
        parts[2 * i + 1 :: 6] = column
    return b"".join(parts)


class CorpusHasher:
    """Incremental SHA-256 over (id, title, text) triples, in corpus order."""

    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def update(self, doc_id: str, title: str, text: str) -> None:
        self._h.update(fingerprint_bytes(doc_id.encode("utf-8"), title.encode("utf-8"), text.encode("utf-8")))

    def update_bytes(self, data: bytes) -> None:
        """Feed :func:`fingerprint_bytes` of one or more documents, in corpus order."""
        self._h.update(data)

    def hexdigest(self) -> str:
        return self._h.hexdigest()
