import numpy as np

class Searcher:
    def __init__(
        self,
        fields: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
        id_rank: np.ndarray,
        n_docs: int,
        dense: int = 32,
    ) -> None: ...
    def prepare(self, fields: np.ndarray, terms: np.ndarray, threads: int, /) -> None: ...
    def search(self, fields: np.ndarray, terms: np.ndarray, weights: np.ndarray, k: int, /) -> tuple[bytes, bytes]: ...
