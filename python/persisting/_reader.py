"""Readers: ``await system.queue.read(...)`` returns a :class:`Reader`."""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional

from .errors import ClosedError, FailedPreconditionError, InvalidArgumentError, NotFoundError

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


class _GroupSettings:
    """A reader's consumer-group settings (group None: a plain reader)."""

    def __init__(self, group: Optional[str], start: str, auto_commit: bool,
                 auto_commit_interval: float, session_timeout: float) -> None:
        self.group = group
        self.start = start
        self.auto_commit = bool(auto_commit)
        self.auto_commit_interval = float(auto_commit_interval)
        self.session_timeout = float(session_timeout)


class _ReaderCore:
    """State shared by a reader's async and sync forms: the engine reader (opened when the
    topic exists), the records of the last get handed out by ``async for``/``for`` but not
    yet consumed, and the engine get of a cancelled asyncio get, collected by the next get."""

    def __init__(self, system: "System", topic: str, buckets: Optional[List[int]],
                 rank: Optional[int], world_size: int,
                 group: Optional[_GroupSettings] = None, read_ahead: int = 1000) -> None:
        self.system = system
        self.read_ahead = read_ahead
        self.topic = topic
        self.buckets = buckets
        self.rank = rank
        self.world_size = world_size
        self.group = group
        self.native: Any = None
        self.closed = False
        self.closing = False  # close() waits for a cancelled get's engine get to finish
        self.busy = 0  # blocking gets running now (System.close leaves such a reader alone)
        self.offsets_to_apply: List[Any] = []  # set_offset calls made before the topic existed
        self.buffer: Deque[Record] = collections.deque()
        # Where the buffer's records came from: the get's {bucket: first offset}, the bucket of
        # each of its records, and how many of them were handed out.
        self.batch_firsts: Dict[int, int] = {}
        self.batch_buckets: List[int] = []
        self.batch_taken = 0
        self.inflight: Optional[asyncio.Future] = None
        self.mutex = threading.Lock()

    def try_open(self) -> bool:
        """Opens the engine reader if the topic exists; False if it does not (yet)."""
        if self.native is not None:
            return True
        with self.mutex:
            if self.native is not None:
                return True
            if self.closed:
                raise self.closed_error()
            g = self.group
            for attempt in range(2):
                try:
                    if g is None:
                        native = self.system._native.reader(self.topic, self.buckets, self.rank,
                                                            self.world_size,
                                                            read_ahead=self.read_ahead)
                    else:
                        native = self.system._native.reader(
                            self.topic, self.buckets, self.rank, self.world_size, g.group,
                            g.start, g.auto_commit, g.auto_commit_interval, g.session_timeout,
                            read_ahead=self.read_ahead)
                    break
                except NotFoundError:
                    if self.system._native.topic(self.topic) is None:
                        return False
                    # Created between the two calls: open it now; a second NotFound is real.
                    if attempt == 1:
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

    def closed_error(self) -> ClosedError:
        return ClosedError(f"reader of topic '{self.topic}' is closed")

    def check_open(self) -> None:
        if self.closed or self.closing:
            raise self.closed_error()

    def fill(self, batch: Any) -> None:
        """Keeps a get's records (records, firsts, buckets) for ``for``/``async for``."""
        records, firsts, buckets = batch
        self.buffer.extend(records)
        self.batch_firsts, self.batch_buckets, self.batch_taken = firsts, buckets, 0

    def take_buffered(self, limit: int) -> List[Record]:
        n = min(limit, len(self.buffer))
        self.batch_taken += n
        return [self.buffer.popleft() for _ in range(n)]

    def pop_buffered(self) -> Record:
        self.batch_taken += 1
        return self.buffer.popleft()

    def clear_buffer(self) -> None:
        self.buffer.clear()
        self.batch_firsts, self.batch_buckets, self.batch_taken = {}, [], 0

    def give_back_buffer(self) -> None:
        """Puts the reader back before the buffered records nobody was handed (so a commit
        does not cover them and the next get returns them), and empties the buffer."""
        if self.buffer and self.native is not None:
            unread: Dict[int, int] = {}
            seen: Dict[int, int] = {}
            for i, bucket in enumerate(self.batch_buckets):
                if i >= self.batch_taken and bucket not in unread:
                    unread[bucket] = self.batch_firsts[bucket] + seen.get(bucket, 0)
                seen[bucket] = seen.get(bucket, 0) + 1
            self.rewind(unread)
        self.clear_buffer()

    def rewind(self, firsts: Dict[int, int]) -> None:
        """Puts the reader back before records it will not hand out."""
        for bucket, offset in firsts.items():
            self.native.set_offset(offset, bucket)

    def reset(self) -> None:
        self.clear_buffer()
        if self.native is not None:
            self.native.reset()
        else:
            self.offsets_to_apply = [(0, None)]

    def set_offset(self, offset: int, bucket_id: Optional[int]) -> None:
        offset = int(offset)
        if offset < 0:
            raise InvalidArgumentError(f"offset must be >= 0, got {offset}")
        self.clear_buffer()
        if self.native is not None:
            self.native.set_offset(offset, bucket_id)
        else:
            self.offsets_to_apply.append((offset, bucket_id))

    def offsets(self) -> Dict[int, int]:
        if self.native is None:
            return {}
        return self.native.offsets()

    def sync_get_batch(self, limit: int, wait: bool, timeout: Optional[float]) -> Any:
        """(records, firsts, buckets) of one engine get (the buffer must be empty)."""
        with self.mutex:
            self.check_open()
            self.busy += 1
        try:
            deadline = None if timeout is None else time.monotonic() + max(0.0, float(timeout))
            if not self.open_blocking(wait, deadline):
                return [], {}, []
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            return self.native.get(limit, wait, left)
        finally:
            with self.mutex:
                self.busy -= 1

    def sync_get(self, limit: int, wait: bool, timeout: Optional[float]) -> List[Record]:
        limit = _check_limit(limit)
        self.check_open()
        if self.buffer:
            return self.take_buffered(limit)
        if limit == 0:
            return []
        return self.sync_get_batch(limit, wait, timeout)[0]

    def settle_now(self) -> bool:
        """Collects the engine get of a cancelled asyncio get if it has finished, putting the
        reader back before its records; False while it still runs."""
        inflight = self.inflight
        if inflight is None:
            return True
        if not inflight.done():
            return False
        self.inflight = None
        if not inflight.cancelled() and inflight.exception() is None:
            records, firsts, _ = inflight.result()
            if records:
                self.rewind(firsts)
        return True

    def check_settled(self) -> None:
        if not self.settle_now():
            raise FailedPreconditionError(
                f"reader of topic '{self.topic}': a cancelled get is still finishing; "
                "await the reader's commit()/aclose() instead")

    def commit(self) -> None:
        """The engine's commit, after putting the reader back before unread buffered records.
        The caller keeps other gets out (the async reader holds its lock)."""
        self.check_open()
        if self.group is None:
            raise FailedPreconditionError(f"reader of topic '{self.topic}' has no group")
        self.check_settled()
        if not self.try_open():
            return  # no topic yet: nothing was read
        self.give_back_buffer()
        self.native.commit()

    def close(self, if_idle: bool = False) -> None:
        """Leaves the group (the engine commits first with auto_commit). Idempotent. if_idle:
        leaves a reader alone while a get runs (System.close: an engine reader serves one call
        at a time; that reader closes when it is dropped)."""
        if self.closed:
            return
        if if_idle and not self.settle_now():
            return
        self.check_settled()
        with self.mutex:
            if self.closed or (if_idle and self.busy):
                return
            self.closed = True
            native = self.native
        if native is not None:
            self.give_back_buffer()
            native.close()
        self.clear_buffer()


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

    def commit(self) -> None:
        """Makes the group's offsets of the records handed out so far durable; see
        :meth:`Reader.commit`."""
        self._core.commit()

    def close(self) -> None:
        """Closes the reader; see :meth:`Reader.close`."""
        self._core.close()

    def __enter__(self) -> "SyncReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> "SyncReader":
        return self

    def __next__(self) -> Record:
        """The next record, waiting as long as it takes."""
        core = self._core
        core.check_open()
        while not core.buffer:
            core.fill(core.sync_get_batch(100, True, None))
        return core.pop_buffered()


class Reader(_Positions):
    """Reads a topic's buckets, keeping one offset per bucket (starting at 0).

    One consumer at a time: gets of one reader are served one after the other.
    """

    def __init__(self, system: "System", topic: str, buckets: Optional[List[int]],
                 rank: Optional[int], world_size: int,
                 group: Optional[_GroupSettings] = None, read_ahead: int = 1000) -> None:
        self._core = _ReaderCore(system, topic, buckets, rank, world_size, group, read_ahead)
        self._lock: Optional[asyncio.Lock] = None

    def _try_open(self) -> bool:
        return self._core.try_open()

    @property
    def topic(self) -> str:
        """The topic's name."""
        return self._core.topic

    def _start_get(self, limit: int, wait: bool, timeout: float) -> "asyncio.Future[Any]":
        """One engine get as an asyncio future of (records, {bucket: first offset}, buckets)."""
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
            await asyncio.shield(inflight)
        except asyncio.CancelledError:
            if not inflight.done():
                raise  # this get is cancelled too; the next one collects it
        except Exception:  # the given-up get failed: it took nothing
            pass
        core.settle_now()

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

    def _locked(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

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
        async with self._locked():
            core.check_open()
            await self._settle()
            if core.buffer:
                return core.take_buffered(limit)
            if limit == 0:
                return []
            return (await self._get_batch(limit, wait, timeout))[0]

    async def _get_batch(self, limit: int, wait: bool, timeout: Optional[float]) -> Any:
        """(records, firsts, buckets) of engine gets (lock held, buffer empty, settled)."""
        core = self._core
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + max(0.0, float(timeout))
        if core.native is None and not await self._open(wait, deadline):
            return [], {}, []
        while True:
            left = _ASYNC_SLICE
            if deadline is not None:
                left = min(_ASYNC_SLICE, max(0.0, deadline - loop.time()))
            inflight = self._start_get(limit, wait and left > 0, left)
            core.inflight = inflight
            try:
                batch = await asyncio.shield(inflight)
            except asyncio.CancelledError:
                raise  # core.inflight stays: the next get puts the reader back
            except BaseException:
                core.inflight = None  # the engine get failed: it took nothing
                raise
            core.inflight = None
            if batch[0] or not wait or (deadline is not None and loop.time() >= deadline):
                return batch

    async def commit(self) -> None:
        """Makes the group's offsets of the records handed out so far durable (they survive a
        crash of this process and of the node). A reader that resumes the group (same group
        name) starts after them. Records fetched for ``async for`` but not handed out yet are
        not covered: the next get returns them.

        Raises FailedPreconditionError on a reader without a group, and naming "fenced" when
        the group gave some of this reader's buckets to another member meanwhile (the other
        buckets are committed; the new assignment is picked up on the next get).
        """
        core = self._core
        async with self._locked():
            core.check_open()
            await self._settle()
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(core.system.executor(), core.commit)

    async def aclose(self) -> None:
        """:meth:`close` without blocking the event loop."""
        core = self._core
        async with self._locked():
            if core.closed:
                return
            await self._settle()
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(core.system.executor(), core.close)

    def close(self) -> None:
        """Closes the reader. A group reader commits first (with ``auto_commit``) and leaves
        its group, whose other members take its buckets at once. Further gets raise
        ClosedError. Idempotent. Blocks while the commit is made durable: in a coroutine,
        prefer ``await reader.aclose()`` or ``async with reader``."""
        core = self._core
        inflight = core.inflight
        if inflight is not None and not inflight.done():
            # A cancelled get's engine get still runs: close when it has finished (on the loop),
            # after putting the reader back before what it took. Gets fail from now on.
            core.closing = True
            inflight.add_done_callback(lambda _: core.close())
            return
        core.close()

    async def __aenter__(self) -> "Reader":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def sync(self) -> SyncReader:
        """A blocking wrapper of this reader, for threads without an event loop."""
        return SyncReader(self._core)

    def __aiter__(self) -> "Reader":
        return self

    async def __anext__(self) -> Record:
        """The next record, waiting as long as it takes (``async for`` streams forever)."""
        core = self._core
        async with self._locked():
            core.check_open()
            await self._settle()
            while not core.buffer:
                core.fill(await self._get_batch(100, True, None))
            return core.pop_buffered()
