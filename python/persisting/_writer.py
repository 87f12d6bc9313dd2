"""Writers: ``await system.queue.write(...)`` returns a :class:`Writer`."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Dict, List, Union

if TYPE_CHECKING:
    from ._system import System

Record = Dict[str, Any]
PutResult = Dict[str, Any]


class SyncWriter:
    """Blocking form of a :class:`Writer`, usable from any thread without an event loop."""

    def __init__(self, native: Any) -> None:
        self._native = native

    def put(self, record: Union[Record, List[Record]]) -> Union[PutResult, List[PutResult]]:
        """Appends one record (a dict) or a list of them; see :meth:`Writer.put`."""
        return self._native.put(record)

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
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        # Converted and checked here; written on the extension's threads, with the GIL released;
        # the future is completed on this loop (a cancelled put is still written).
        self._native.put_async(record, loop, future)
        return await future

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
