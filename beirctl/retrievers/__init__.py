"""Retrievers: one protocol (:class:`Retriever`), registered by name."""

from beirctl.retrievers.base import Retriever, RetrieverParams, Run
from beirctl.retrievers.registry import available, get, register

__all__ = ["Retriever", "RetrieverParams", "Run", "available", "get", "register"]
