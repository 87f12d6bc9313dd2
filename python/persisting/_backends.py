"""Backend names and backends written in Python (:func:`register_backend`)."""

from __future__ import annotations

import asyncio
import inspect
import re
import threading
import zlib
from typing import Any, Dict, Optional

from . import _native
from .errors import AlreadyExistsError, InvalidArgumentError, RecordTypeError

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
            full = f"{backend.__module__}.{backend.__qualname__}"
            base = re.sub(r"[^a-z0-9_-]", "-", f"py-{full}".lower())[:55]
            name = f"{base}-{zlib.crc32(full.encode()):08x}"
            try:
                register_backend(name, backend)
            except AlreadyExistsError:  # another thread registered it first
                pass
        return name
    raise InvalidArgumentError(f"backend must be a name or a class, got {type(backend).__name__}")


def register_backend(name: str, cls: Any, durable: Optional[bool] = None) -> None:
    """Registers a storage backend written in Python, for systems opened in this process.

    cls(bucket_id, storage_path, **options) is built once per bucket (storage_path is the
    bucket's directory, or None for a memory-only system; ``batch_size`` is passed too when the
    constructor takes it or ``**kwargs``; option values are strings). It has the seed's
    StorageBackend methods: async ``put(record)``, ``put_batch(records)``,
    ``get(limit, offset)`` (a list of dicts), ``get_stream(limit, offset, wait, timeout)``,
    ``flush()``, ``stats()`` (a dict) and a plain ``total_count()``. The engine calls
    ``put_batch``, ``get``, ``flush``, ``stats`` and ``total_count`` from its own threads; the
    coroutines run on a private event loop thread of this package. An exception raised there
    reaches the caller as a :class:`persisting.Error` naming the backend, bucket and method.

    Args:
        name: the registry name ([a-z0-9_-], 1-64 characters), unique in the process.
        cls: the backend class.
        durable: whether its records outlive the process (default: the class's ``durable``
            attribute, else False). A durable backend needs a system with a data dir.
    """
    if not isinstance(cls, type):
        raise RecordTypeError(f"register_backend: cls must be a class, got {type(cls).__name__}")
    if durable is None:
        durable = bool(getattr(cls, "durable", False))
    takes_batch_size = _accepts(cls, "batch_size")

    def factory(bucket_id: int, storage_path: Optional[str], batch_size: int,
                options: Dict[str, str]) -> Any:
        kwargs = dict(options)
        if takes_batch_size and "batch_size" not in kwargs:
            kwargs["batch_size"] = batch_size
        return cls(bucket_id, storage_path, **kwargs)

    _native.register_backend(name, factory, durable)
    with _lock:
        _CLASS_NAMES.setdefault(cls, name)


def _accepts(cls: Any, parameter: str) -> bool:
    """Whether cls's constructor takes the keyword parameter (or **kwargs)."""
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        return False
    return any(p.name == parameter or p.kind is inspect.Parameter.VAR_KEYWORD
               for p in sig.parameters.values())


_loop: Optional[asyncio.AbstractEventLoop] = None
_loop_thread: Optional[threading.Thread] = None


def _backend_loop() -> asyncio.AbstractEventLoop:
    """The private event loop that runs Python backends' coroutines (started on first use)."""
    global _loop, _loop_thread
    with _lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="persisting-backends",
                                      daemon=True)
            thread.start()
            _loop, _loop_thread = loop, thread
        return _loop


async def _await(awaitable: Any) -> Any:
    return await awaitable


def call(instance: Any, method: str, *args: Any) -> Any:
    """instance.method(*args) for the engine: a coroutine is run on the private loop and waited
    for (the GIL is free meanwhile)."""
    result = getattr(instance, method)(*args)
    if not inspect.isawaitable(result):
        return result
    loop = _backend_loop()
    if threading.current_thread() is _loop_thread:
        raise RuntimeError(f"{method}() was called from the backend loop itself")
    return asyncio.run_coroutine_threadsafe(_await(result), loop).result()


def backends() -> list:
    """The names of the backends this process can create."""
    return list(_native.backend_names())
