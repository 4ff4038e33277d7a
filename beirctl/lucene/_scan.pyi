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
