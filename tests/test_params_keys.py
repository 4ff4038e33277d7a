"""Parameters added after results were stored (``omit_at_default``) stay out of the dump, so of
retrieval keys, at their default, and join it otherwise."""

from __future__ import annotations

import pytest

from beirctl.retrievers import RetrieverParams
from beirctl.retrievers.bm25 import BM25Params
from beirctl.retrievers.dense import DenseParams
from beirctl.retrievers.lucene_bm25 import LuceneBM25Params


@pytest.mark.parametrize(
    "params, changed, left_out",
    [
        (BM25Params(), {"exhaustive": True}, {"exhaustive"}),
        (LuceneBM25Params(), {"exhaustive": True}, {"exhaustive"}),
        (DenseParams(model="m"), {"pooling": "cls"}, {"encoder", "encoder_params", "pooling"}),
        (DenseParams(model="m"), {"encoder": "pkg.mod:Encoder"}, {"encoder", "encoder_params", "pooling"}),
    ],
)
def test_new_parameters_stay_out_of_keys_at_their_default(
    params: RetrieverParams, changed: dict[str, object], left_out: set[str]
) -> None:
    dumped = params.model_dump()
    assert not left_out & set(dumped) and set(dumped) | left_out == set(type(params).model_fields)
    other = type(params).model_validate({**dumped, **changed})
    assert all(other.model_dump()[k] == v for k, v in changed.items())
    assert other.model_dump_json() != params.model_dump_json()
    assert type(params).model_validate(dumped) == params  # the dump reads back to the same params


def test_encoder_params_are_kept_with_an_encoder() -> None:
    dumped = DenseParams(model="m", encoder="pkg.mod:Encoder").model_dump()
    assert dumped["encoder_params"] == {} and "pooling" not in dumped
