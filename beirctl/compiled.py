"""Whether beirctl may use its compiled extensions: the ``BEIRCTL_NATIVE`` switch.

``BEIRCTL_NATIVE=0`` (also ``false``, ``no``, ``off``; any case) makes beirctl ignore every compiled
extension (``beirctl.lucene._scan``, ``beirctl.lucene._search``, ``beirctl.evaluation._runs``,
``beirctl.datasets._records``) even where it is built, so the pure-Python paths run; they give the
same results. It is read once, when this module is first imported; unset or any other value uses an
extension where it is built.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from types import ModuleType

ENV_SWITCH = "BEIRCTL_NATIVE"
_OFF_VALUES = frozenset({"0", "false", "no", "off"})


def enabled_by_env(environ: Mapping[str, str] = os.environ) -> bool:
    """False where ``BEIRCTL_NATIVE`` turns the compiled extensions off (``0``, ``false``, ``no``, ``off``)."""
    return environ.get(ENV_SWITCH, "").strip().lower() not in _OFF_VALUES


DISABLED_BY_ENV = not enabled_by_env()


def load_extension(name: str) -> ModuleType | None:
    """The compiled extension module ``name``; None where ``BEIRCTL_NATIVE`` turns the extensions
    off or it is not built (no C compiler at install): its Python path then gives the same results."""
    if DISABLED_BY_ENV:
        return None
    try:
        return importlib.import_module(name)
    except ImportError:
        return None
