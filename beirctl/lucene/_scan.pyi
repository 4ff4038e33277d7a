from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet

def scan(
    texts: Sequence[str], table: bytearray, max_len: int, fallback: Callable[[str], list[str]], /
) -> tuple[list[str], bytes, bytes]: ...
def unknown(texts: Sequence[str], table: bytearray, /) -> set[int]: ...
def porter(word: str, /) -> str: ...
def term_ids(
    tokens: Sequence[str],
    stop_words: AbstractSet[str],
    term_ids: dict[str, int],
    fallback: Callable[[str], str],
    /,
) -> bytes: ...
def postings(
    ids: bytes | memoryview, counts: bytes | memoryview, n_terms: int, /
) -> tuple[bytes, bytes, bytes, bytes]: ...
def scatter(
    docs: memoryview,
    tfs: memoryview,
    fill: memoryview,
    remap: bytes | memoryview,
    per_term: bytes | memoryview,
    part_docs: bytes | memoryview,
    part_tfs: bytes | memoryview,
    base: int,
    /,
) -> None: ...
