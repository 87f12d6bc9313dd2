"""Writers: ``await system.queue.write(...)`` returns a :class:`Writer`."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Dict, List, Union

from .errors import RecordTypeError

if TYPE_CHECKING:
    from ._system import System

Record = Dict[str, Any]
PutResult = Dict[str, Any]


def _result(position: Any) -> PutResult:
    """Pulsing's put answer from the engine's (bucket, offset)."""
    bucket, offset = position
    return {"bucket_id": bucket, "offset": offset, "status": "ok"}


def _put(native: Any, record: Union[Record, List[Record]]) -> Union[PutResult, List[PutResult]]:
    """One record or a list of them, through the engine (the GIL is released while it works)."""
    if isinstance(record, dict):
        return _result(native.put(record))
    if isinstance(record, (list, tuple)):
        return [_result(p) for p in native.put_many(record)]
    raise RecordTypeError(
        f"a record must be a dict (or a list of dicts), got {type(record).__name__}")


class SyncWriter:
    """Blocking form of a :class:`Writer`, usable from any thread without an event loop."""

    def __init__(self, native: Any) -> None:
        self._native = native

    def put(self, record: Union[Record, List[Record]]) -> Union[PutResult, List[PutResult]]:
        """Appends one record (a dict) or a list of them; see :meth:`Writer.put`."""
        return _put(self._native, record)

    def flush(self) -> None:
        """Asks every bucket's backend to make buffered records durable."""
        self._native.flush()

    def stats(self) -> Dict[str, Any]:
        """The topic's statistics."""
        return self._native.stats()

    @property
    def topic(self) -> Dict[str, Any]:
        """The topic's settings."""
        return self._native.topic


class Writer:
    """Writes records into a topic. Safe to share between tasks and threads."""

    def __init__(self, system: "System", native: Any) -> None:
        self._system = system
        self._native = native

    async def _run(self, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._system.executor(), fn, *args)

    async def put(self, record: Union[Record, List[Record]]) -> Union[PutResult, List[PutResult]]:
        """Appends a record, or a list of records.

        Returns ``{"bucket_id": b, "offset": o, "status": "ok"}`` for one record, a list of
        those for a list, in the list's order. A record without the bucket column raises
        ``ValueError("Missing partition column 'id'")``; a non-dict raises TypeError. A bad
        record in a list fails the whole list before anything is written.
        """
        return await self._run(_put, self._native, record)

    async def flush(self) -> None:
        """Asks every bucket's backend to make buffered records durable."""
        await self._run(self._native.flush)

    async def stats(self) -> Dict[str, Any]:
        """The topic's statistics: ``{"topic", "total_count", "buckets": [...], ...}``."""
        return await self._run(self._native.stats)

    @property
    def topic(self) -> Dict[str, Any]:
        """The topic's settings (bucket_column, num_buckets, backend, ...)."""
        return self._native.topic

    def sync(self) -> SyncWriter:
        """A blocking wrapper with the same methods, for threads without an event loop."""
        return SyncWriter(self._native)
