"""Pulsing's free functions and its ``Queue`` class, so code written for ``pulsing.queue`` runs
after changing its imports."""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Union

from ._reader import Reader
from ._writer import PutResult, Record, Writer

if TYPE_CHECKING:
    from ._system import System


async def write_queue(system: "System", topic: str, **kw: Any) -> Writer:
    """``system.queue.write(topic, **kw)`` as a free function."""
    return await system.queue.write(topic, **kw)


async def read_queue(system: "System", topic: str, **kw: Any) -> Reader:
    """``system.queue.read(topic, **kw)`` as a free function."""
    return await system.queue.read(topic, **kw)


class _QueueCore:
    """What a Queue and its sync form share: the settings, a writer and readers opened on
    first use (one reader per bucket choice)."""

    def __init__(self, system: "System", topic: str, settings: Dict[str, Any]) -> None:
        self.system = system
        self.topic = topic
        self.settings = settings
        self.writer: Optional[Writer] = None
        self.readers: Dict[Optional[int], Reader] = {}
        self.lock = threading.Lock()

    def get_writer(self) -> Writer:
        with self.lock:
            if self.writer is None:
                self.writer = self.system.queue._open_writer(self.topic, **self.settings)
            return self.writer

    def get_reader(self, bucket_id: Optional[int]) -> Reader:
        with self.lock:
            reader = self.readers.get(bucket_id)
            if reader is None:
                reader = self.system.queue._open_reader(self.topic, bucket_id=bucket_id)
                self.readers[bucket_id] = reader
            return reader


class SyncQueue:
    """Blocking form of a :class:`Queue`."""

    def __init__(self, core: _QueueCore) -> None:
        self._core = core

    def put(self, record: Union[Record, List[Record]]) -> Union[PutResult, List[PutResult]]:
        """Appends one record or a list of them."""
        return self._core.get_writer().sync().put(record)

    def get(self, bucket_id: Optional[int] = None, limit: int = 100, offset: int = 0,
            wait: bool = False, timeout: Optional[float] = None) -> List[Record]:
        """Up to limit records from offset on (of one bucket, or of every bucket)."""
        reader = self._core.get_reader(bucket_id).sync()
        reader.set_offset(offset)
        return reader.get(limit, wait, timeout)

    def flush(self) -> None:
        """Makes buffered records durable."""
        self._core.get_writer().sync().flush()

    def stats(self) -> Dict[str, Any]:
        """The topic's statistics."""
        return self._core.get_writer().sync().stats()

    def get_bucket_id(self, value: Any) -> int:
        """The bucket a record whose bucket column holds value goes to."""
        self._core.get_writer()
        return self._core.system.queue.get_bucket_id(self._core.topic, value)


class Queue:
    """Pulsing's Queue: one topic, written and read through one object.

    Args:
        system: a system from :func:`persisting.open` or :func:`persisting.connect`.
        topic: the topic, created on the first put with the settings below.
        bucket_column, num_buckets, batch_size, storage_path, backend, backend_options: as
            ``system.queue.write``.
    """

    def __init__(self, system: "System", topic: str, bucket_column: str = "id",
                 num_buckets: int = 4, batch_size: int = 100, storage_path: Optional[str] = None,
                 backend: Any = None, backend_options: Optional[Dict[str, Any]] = None) -> None:
        settings = dict(bucket_column=bucket_column, num_buckets=num_buckets,
                        batch_size=batch_size, storage_path=storage_path, backend=backend,
                        backend_options=backend_options)
        self._core = _QueueCore(system, topic, settings)
        self._sync = SyncQueue(self._core)

    @property
    def topic(self) -> str:
        """The topic's name."""
        return self._core.topic

    async def _run(self, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._core.system.executor(), fn, *args)

    async def put(self, record: Union[Record, List[Record]]) -> Union[PutResult, List[PutResult]]:
        """Appends one record or a list of them (see :meth:`Writer.put`)."""
        writer = self._core.writer
        if writer is None:  # the first put opens (or creates) the topic
            writer = await self._run(self._core.get_writer)
        return await writer.put(record)

    async def get(self, bucket_id: Optional[int] = None, limit: int = 100, offset: int = 0,
                  wait: bool = False, timeout: Optional[float] = None) -> List[Record]:
        """Up to limit records from offset on, of bucket_id or of every bucket."""
        reader = await self._run(self._core.get_reader, bucket_id)
        reader.set_offset(offset)
        return await reader.get(limit, wait, timeout)

    async def flush(self) -> None:
        """Makes buffered records durable."""
        await self._run(self._sync.flush)

    async def stats(self) -> Dict[str, Any]:
        """The topic's statistics."""
        return await self._run(self._sync.stats)

    def get_bucket_id(self, value: Any) -> int:
        """The bucket a record whose bucket column holds value goes to."""
        return self._sync.get_bucket_id(value)

    def sync(self) -> SyncQueue:
        """A blocking wrapper with the same methods."""
        return self._sync
