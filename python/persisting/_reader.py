"""Readers: ``await system.queue.read(...)`` returns a :class:`Reader`."""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional

from .errors import InvalidArgumentError, NotFoundError

if TYPE_CHECKING:
    from ._system import System

Record = Dict[str, Any]

#: An asyncio get waits in the engine this long at most per call; a longer wait is a series of
#: them. It bounds how long a get cancelled in the middle of a wait keeps the reader busy.
_ASYNC_SLICE = 0.25
#: How often a reader whose topic does not exist yet looks for it.
_TOPIC_POLL = 0.05


def _check_limit(limit: int) -> int:
    limit = int(limit)
    if limit < 0:
        raise InvalidArgumentError(f"limit must be >= 0, got {limit}")
    return limit


class _ReaderCore:
    """State shared by a reader's async and sync forms: the engine reader (opened when the
    topic exists), the records handed out by ``async for`` but not yet consumed, and the
    engine get of a cancelled asyncio get, collected by the next get."""

    def __init__(self, system: "System", topic: str, buckets: Optional[List[int]],
                 rank: Optional[int], world_size: int) -> None:
        self.system = system
        self.topic = topic
        self.buckets = buckets
        self.rank = rank
        self.world_size = world_size
        self.native: Any = None
        self.offsets_to_apply: List[Any] = []  # set_offset calls made before the topic existed
        self.buffer: Deque[Record] = collections.deque()
        self.inflight: Optional[asyncio.Future] = None
        self.mutex = threading.Lock()

    def try_open(self) -> bool:
        """Opens the engine reader if the topic exists; False if it does not (yet)."""
        if self.native is not None:
            return True
        with self.mutex:
            if self.native is not None:
                return True
            try:
                native = self.system._native.reader(self.topic, self.buckets, self.rank,
                                                    self.world_size)
            except NotFoundError:
                if self.system._native.topic(self.topic) is None:
                    return False
                raise
            for offset, bucket in self.offsets_to_apply:
                native.set_offset(offset, bucket)
            self.offsets_to_apply.clear()
            self.native = native
            return True

    def open_blocking(self, wait: bool, deadline: Optional[float]) -> bool:
        """try_open, waiting for the topic to appear until deadline (monotonic) when wait."""
        while not self.try_open():
            if not wait or (deadline is not None and time.monotonic() >= deadline):
                return False
            time.sleep(_TOPIC_POLL)
        return True

    def take_buffered(self, limit: int) -> List[Record]:
        n = min(limit, len(self.buffer))
        return [self.buffer.popleft() for _ in range(n)]

    def rewind(self, firsts: Dict[int, int]) -> None:
        """Puts the reader back before records it will not hand out."""
        for bucket, offset in firsts.items():
            self.native.set_offset(offset, bucket)

    def reset(self) -> None:
        self.buffer.clear()
        if self.native is not None:
            self.native.reset()
        else:
            self.offsets_to_apply = [(0, None)]

    def set_offset(self, offset: int, bucket_id: Optional[int]) -> None:
        offset = int(offset)
        if offset < 0:
            raise InvalidArgumentError(f"offset must be >= 0, got {offset}")
        self.buffer.clear()
        if self.native is not None:
            self.native.set_offset(offset, bucket_id)
        else:
            self.offsets_to_apply.append((offset, bucket_id))

    def offsets(self) -> Dict[int, int]:
        if self.native is None:
            return {}
        return self.native.offsets()

    def sync_get(self, limit: int, wait: bool, timeout: Optional[float]) -> List[Record]:
        limit = _check_limit(limit)
        if self.buffer:
            return self.take_buffered(limit)
        if limit == 0:
            return []
        deadline = None if timeout is None else time.monotonic() + max(0.0, float(timeout))
        if not self.open_blocking(wait, deadline):
            return []
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        records, _ = self.native.get(limit, wait, left)
        return records


class _Positions:
    """The offset calls shared by the blocking and the asyncio reader (both over a _ReaderCore)."""

    _core: _ReaderCore

    def reset(self) -> None:
        """Back to offset 0 in every covered bucket."""
        self._core.reset()

    def set_offset(self, offset: int, bucket_id: Optional[int] = None) -> None:
        """Sets the next offset of one covered bucket, or of all when bucket_id is None."""
        self._core.set_offset(offset, bucket_id)

    def offsets(self) -> Dict[int, int]:
        """``{bucket_id: next offset}`` of the covered buckets (empty before the topic exists)."""
        return self._core.offsets()


class SyncReader(_Positions):
    """Blocking form of a :class:`Reader` (same reader, same offsets), usable from a thread
    without an event loop. Ctrl-C interrupts a waiting get; it takes no record."""

    def __init__(self, core: _ReaderCore) -> None:
        self._core = core

    def get(self, limit: int = 100, wait: bool = False,
            timeout: Optional[float] = None) -> List[Record]:
        """Up to limit records; see :meth:`Reader.get`."""
        return self._core.sync_get(limit, wait, timeout)

    def __iter__(self) -> "SyncReader":
        return self

    def __next__(self) -> Record:
        """The next record, waiting as long as it takes."""
        while not self._core.buffer:
            self._core.buffer.extend(self._core.sync_get(100, True, None))
        return self._core.buffer.popleft()


class Reader(_Positions):
    """Reads a topic's buckets, keeping one offset per bucket (starting at 0).

    One consumer at a time: gets of one reader are served one after the other.
    """

    def __init__(self, system: "System", topic: str, buckets: Optional[List[int]],
                 rank: Optional[int], world_size: int) -> None:
        self._core = _ReaderCore(system, topic, buckets, rank, world_size)
        self._lock: Optional[asyncio.Lock] = None

    def _try_open(self) -> bool:
        return self._core.try_open()

    @property
    def topic(self) -> str:
        """The topic's name."""
        return self._core.topic

    def _start_get(self, limit: int, wait: bool, timeout: float) -> "asyncio.Future[Any]":
        """One engine get as an asyncio future of (records, {bucket: first offset})."""
        core = self._core
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        core.native.get_async(limit, wait, timeout, loop, future)
        return future

    async def _settle(self) -> None:
        """Collects the engine get of a get that was cancelled, and puts the reader back before
        its records so this get returns them."""
        core = self._core
        inflight = core.inflight
        if inflight is None:
            return
        try:
            records, firsts = await asyncio.shield(inflight)
        except asyncio.CancelledError:
            if not inflight.done():
                raise  # this get is cancelled too; the next one collects it
            records, firsts = [], {}
        except Exception:  # the given-up get failed: it took nothing
            records, firsts = [], {}
        core.inflight = None
        if records:
            core.rewind(firsts)

    async def _open(self, wait: bool, deadline: Optional[float]) -> bool:
        loop = asyncio.get_running_loop()
        core = self._core
        while True:
            opened = await loop.run_in_executor(core.system.executor(), core.try_open)
            if opened:
                return True
            if not wait or (deadline is not None and loop.time() >= deadline):
                return False
            await asyncio.sleep(_TOPIC_POLL)

    async def get(self, limit: int = 100, wait: bool = False,
                  timeout: Optional[float] = None) -> List[Record]:
        """Up to limit records, fairly from every covered bucket that has some.

        With ``wait=False`` returns what is there now (possibly nothing). With ``wait=True`` and
        nothing there, waits until a record arrives or timeout seconds pass (None: no limit),
        then returns what arrived or ``[]``. A reader opened before its topic exists waits for
        the topic the same way. Cancelling a get loses no record: the next get returns it.
        """
        limit = _check_limit(limit)
        core = self._core
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            await self._settle()
            if core.buffer:
                return core.take_buffered(limit)
            if limit == 0:
                return []
            loop = asyncio.get_running_loop()
            deadline = None if timeout is None else loop.time() + max(0.0, float(timeout))
            if core.native is None and not await self._open(wait, deadline):
                return []
            while True:
                left = _ASYNC_SLICE
                if deadline is not None:
                    left = min(_ASYNC_SLICE, max(0.0, deadline - loop.time()))
                inflight = self._start_get(limit, wait and left > 0, left)
                core.inflight = inflight
                try:
                    records, _ = await asyncio.shield(inflight)
                except asyncio.CancelledError:
                    raise  # core.inflight stays: the next get puts the reader back
                except BaseException:
                    core.inflight = None  # the engine get failed: it took nothing
                    raise
                core.inflight = None
                if records or not wait or (deadline is not None and loop.time() >= deadline):
                    return records

    def sync(self) -> SyncReader:
        """A blocking wrapper of this reader, for threads without an event loop."""
        return SyncReader(self._core)

    def __aiter__(self) -> "Reader":
        return self

    async def __anext__(self) -> Record:
        """The next record, waiting as long as it takes (``async for`` streams forever)."""
        core = self._core
        while not core.buffer:
            core.buffer.extend(await self.get(100, wait=True, timeout=None))
        return core.buffer.popleft()
