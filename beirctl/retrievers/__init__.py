"""Retrievers: one protocol (:class:`Retriever`), registered by name or named as module:Class."""

from beirctl.retrievers.base import IndexContext, Resources, Retriever, RetrieverParams, Run
from beirctl.retrievers.registry import available, get, register

__all__ = ["IndexContext", "Resources", "Retriever", "RetrieverParams", "Run", "available", "get", "register"]
