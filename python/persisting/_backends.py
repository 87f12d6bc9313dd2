"""Backend names and backends written in Python (:func:`register_backend`)."""

from __future__ import annotations

import re
import threading
from typing import Any, Dict

from . import _native
from .errors import InvalidArgumentError

_lock = threading.Lock()
#: Classes given as ``backend=`` and the names they were registered under.
_CLASS_NAMES: Dict[Any, str] = {}


def backend_name(backend: Any) -> str:
    """The registry name for a ``backend=`` argument: a name, a class, or None (memory)."""
    if backend is None:
        return "memory"
    if isinstance(backend, str):
        return backend
    if isinstance(backend, type):
        with _lock:
            name = _CLASS_NAMES.get(backend)
        if name is None:
            base = re.sub(r"[^a-z0-9_-]", "-", f"py-{backend.__module__}-{backend.__qualname__}".lower())
            name = base[:64]
            register_backend(name, backend)
        return name
    raise InvalidArgumentError(f"backend must be a name or a class, got {type(backend).__name__}")


def register_backend(name: str, cls: Any) -> None:
    """Registers a backend written in Python (see docs/python.md, "Custom backends")."""
    raise NotImplementedError("backends in Python are not available yet")


def backends() -> list:
    """The names of the backends this process can create."""
    return list(_native.backend_names())
