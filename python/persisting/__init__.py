"""Persisting from Python: Pulsing's queue API over the Persisting engine.

    import persisting

    async with persisting.open() as system:          # or persisting.connect("host:port")
        writer = await system.queue.write("events", bucket_column="id", num_buckets=4)
        await writer.put({"id": "u1", "n": 1})
        reader = await system.queue.read("events")
        records = await reader.get(limit=100, wait=True, timeout=1.0)

Every call has a blocking twin through ``.sync()``. docs/python.md describes the whole API.
"""

from __future__ import annotations

from . import errors
from ._backends import backends, register_backend
from ._compat import Queue, SyncQueue, read_queue, write_queue
from ._reader import Reader, SyncReader
from ._system import QueueApi, System, connect, open
from ._writer import SyncWriter, Writer
from .errors import (
    AlreadyExistsError,
    BackendError,
    ClosedError,
    CorruptionError,
    DeadlineExceededError,
    Error,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    NotSupportedError,
    OutOfRangeError,
    RecordTypeError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
)

__version__ = "0.1.0"

__all__ = [
    "open", "connect", "System", "QueueApi", "Writer", "SyncWriter", "Reader", "SyncReader",
    "Queue", "SyncQueue", "write_queue", "read_queue", "register_backend", "backends", "errors",
    "Error", "InvalidArgumentError", "RecordTypeError", "NotFoundError", "AlreadyExistsError",
    "FailedPreconditionError", "OutOfRangeError", "CorruptionError", "NotSupportedError",
    "UnavailableError", "DeadlineExceededError", "ResourceExhaustedError", "UnauthenticatedError",
    "InternalError", "ClosedError", "BackendError",
]
