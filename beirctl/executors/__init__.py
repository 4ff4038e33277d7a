"""Where (dataset, retriever) pairs run: one after another in this process (``local``) or as
Ray tasks (``ray``). The runner picks an executor by name; an executor runs the pairs it is
given (:func:`beirctl.jobs.run_pair`) and returns one outcome per pair, in their order."""

from __future__ import annotations

from typing import Protocol

from beirctl.errors import BeirctlError
from beirctl.jobs import Context, Outcome, Reporter, Todo

__all__ = ["EXECUTORS", "Executor", "get_executor"]

EXECUTORS = ("local", "ray")


class Executor(Protocol):
    """Runs pairs; a failing pair is an outcome (its one-line error), never an exception."""

    name: str

    def run(self, todo: list[Todo], ctx: Context, report: Reporter) -> list[Outcome]: ...


def get_executor(name: str, ray_address: str | None = None) -> Executor:
    """The executor called ``name`` (``local`` or ``ray``; Ray is imported only when used)."""
    if name == "local":
        from beirctl.executors.local import LocalExecutor

        return LocalExecutor()
    if name == "ray":
        from beirctl.executors.ray import RayExecutor

        return RayExecutor(ray_address)
    raise BeirctlError(f"unknown executor {name!r} ({', '.join(EXECUTORS)})")
