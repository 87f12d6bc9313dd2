"""Systems: an embedded node in this process, or a client of a persistingd cluster."""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import threading
import warnings
import weakref
from typing import Any, Dict, List, Optional, Sequence, Union

from . import _native
from ._backends import backend_name
from ._reader import Reader, _GroupSettings
from ._writer import Writer
from .errors import Error, InvalidArgumentError

#: A remote reader's largest read_ahead: a node's largest get (ReaderOptions::read_ahead).
_MAX_READ_AHEAD = 100_000
#: Every open system, closed at interpreter exit (engine threads must stop before Python does).
_OPEN: "weakref.WeakSet[System]" = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    _native._stop_work_pool()  # asyncio calls in flight finish first, on open systems
    for system in list(_OPEN):
        system.close()


def open(data_dir: Optional[str] = None, threads: int = 0,  # noqa: A001
         flush_on_close: bool = True) -> "System":
    """Opens an embedded Persisting node in this process.

    Args:
        data_dir: where topics are kept; None keeps everything in memory (only the memory
            backend can be used then).
        threads: actor threads; 0 picks the number of hardware threads (at least 2).
        flush_on_close: whether closing the system flushes every durable bucket to Lance, so
            LanceDB sees every record at once. False leaves the records of ``persisting``
            topics in the data dir's write-ahead log (they are acknowledged and kept): closing
            many buckets is then much faster, and the next process that opens the topic
            flushes them.
    """
    return System(_native.System.open(os.fspath(data_dir) if data_dir else "", int(threads),
                                      bool(flush_on_close)))


def connect(address: str, token: Optional[str] = None, tls_ca: Optional[str] = None,
            tls_server_name: Optional[str] = None) -> "System":
    """A client of a persistingd cluster at ``"host:port"`` (``"h1:p1,h2:p2"`` tries each).

    Args:
        address: any node of the cluster.
        token: the access token, when the cluster requires one.
        tls_ca: a PEM file of the roots that sign the nodes' certificates; connects with TLS.
        tls_server_name: the name the nodes' certificates must carry, when it is not the host
            of ``address`` (with ``tls_ca`` only).
    """
    if tls_server_name and not tls_ca:
        raise InvalidArgumentError("tls_server_name needs tls_ca (it names the certificate of a TLS node)")
    ca = os.fspath(tls_ca) if tls_ca else ""
    return System(_native.System.connect(address, token or "", ca, tls_server_name or ""))


class System:
    """An embedded node or a cluster client; ``system.queue`` opens writers and readers.

    Use it as a context manager (``with`` or ``async with``) or call :meth:`close`.
    """

    def __init__(self, native: Any) -> None:
        self._native = native
        self._executor: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._lock = threading.Lock()
        self._readers: "weakref.WeakSet[Any]" = weakref.WeakSet()  # closed before the system
        self.queue = QueueApi(self)
        _OPEN.add(self)

    @property
    def remote(self) -> bool:
        """True for a client of a cluster, False for an embedded node."""
        return self._native.remote

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._native.closed

    def executor(self) -> concurrent.futures.ThreadPoolExecutor:
        """The thread pool that runs this system's blocking calls for asyncio callers."""
        with self._lock:
            if self._executor is None:
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=32, thread_name_prefix="persisting")
            return self._executor

    def flush(self) -> None:
        """Flushes every bucket (of every topic) of this system."""
        self._native.flush()

    def close(self) -> None:
        """Closes the system: its readers first (a group reader commits, with auto_commit, and
        leaves its group; one in the middle of a get closes when it is dropped), then an
        embedded node flushes and closes its buckets. Idempotent."""
        for core in list(self._readers):
            try:
                core.close(if_idle=True)
            except Error as e:  # the system closes anyway; the reader's failure is reported
                warnings.warn(f"closing a reader of topic '{core.topic}': {e}", RuntimeWarning,
                              stacklevel=2)
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        self._native.close()
        _OPEN.discard(self)

    def __enter__(self) -> "System":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> "System":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    def __repr__(self) -> str:
        kind = "remote" if not self.closed and self.remote else "embedded"
        return f"<persisting.System {kind}{' closed' if self.closed else ''}>"


def _check_storage_path(system: System, topic: str, backend: str,
                        storage_path: Optional[Union[str, "os.PathLike[str]"]]) -> None:
    """Pulsing's storage_path: accepted and unused with the memory backend; with a file backend
    it must be where this system keeps the topic."""
    if storage_path is None:
        return
    if system.remote:
        if backend != "memory":
            raise InvalidArgumentError(
                f"storage_path {os.fspath(storage_path)!r}: topic '{topic}' is kept in the data "
                "dirs of the cluster's nodes; leave storage_path out")
        return
    if not _native.backend_is_durable(backend):
        return
    data_dir = system._native.data_dir
    wanted = os.path.realpath(os.fspath(storage_path))
    if not data_dir:
        raise InvalidArgumentError(
            f"storage_path {os.fspath(storage_path)!r}: this system has no data dir, so the "
            f"'{backend}' backend cannot keep files; use persisting.open(data_dir=...)")
    allowed = {os.path.realpath(data_dir), os.path.realpath(os.path.join(data_dir, topic))}
    if wanted not in allowed:
        raise InvalidArgumentError(
            f"storage_path {os.fspath(storage_path)!r} conflicts with where this system keeps "
            f"topic '{topic}' ({os.path.join(data_dir, topic)})")


class QueueApi:
    """``system.queue``: Pulsing's queue entry points."""

    def __init__(self, system: System) -> None:
        self._system = system

    def _open_writer(self, topic: str, bucket_column: str = "id", num_buckets: int = 4,
                     batch_size: int = 100, storage_path: Optional[str] = None,
                     backend: Any = None,
                     backend_options: Optional[Dict[str, Any]] = None,
                     retention_records: Optional[int] = None,
                     retention_bytes: Optional[int] = None,
                     replication_factor: Optional[int] = None,
                     retention_ms: Optional[int] = None,
                     acks: Optional[str] = None,
                     retention_policy: Optional[str] = None) -> Writer:
        name = backend_name(backend)
        _check_storage_path(self._system, topic, name, storage_path)
        options = {str(k): _option_text(v) for k, v in (backend_options or {}).items()}
        native = self._system._native.writer(topic, bucket_column, int(num_buckets),
                                             int(batch_size), name, options,
                                             retention_records, retention_bytes,
                                             replication_factor, retention_ms, acks,
                                             retention_policy)
        return Writer(self._system, native)

    async def write(self, topic: str, bucket_column: str = "id", num_buckets: int = 4,
                    batch_size: int = 100, storage_path: Optional[str] = None, backend: Any = None,
                    backend_options: Optional[Dict[str, Any]] = None,
                    retention_records: Optional[int] = None,
                    retention_bytes: Optional[int] = None,
                    replication_factor: Optional[int] = None,
                    retention_ms: Optional[int] = None,
                    acks: Optional[str] = None,
                    retention_policy: Optional[str] = None) -> Writer:
        """Creates the topic (or opens it with the same settings) and returns its writer.

        Args:
            topic: the topic's name ([A-Za-z0-9._-], 1-128 characters).
            bucket_column: the field whose value picks a record's bucket.
            num_buckets: the topic's bucket count.
            batch_size: records a durable backend buffers before it flushes.
            storage_path: Pulsing's; unused with the memory backend, else it must be where the
                system keeps the topic.
            backend: a backend name ("memory", the default; "lance", "persisting") or a class
                (registered with :func:`persisting.register_backend` on first use).
            backend_options: the backend's options (values are turned into strings).
            retention_records, retention_bytes: a new topic's retention per bucket
                (docs/retention.md; lance and persisting backends; None: no limit).
            retention_ms: a new topic's age limit: a whole fragment goes once its newest
                record was appended more than this many milliseconds ago (None: no limit).
            retention_policy: "limits" (None, the default) or "interest": a fragment is also
                kept until every consumer group has committed past it (docs/retention.md,
                "Interest"; with no group, the limits alone). Embedded only.
            replication_factor: a new topic's copies of each bucket in a cluster: 1, 3 or 5
                (docs/cluster.md, "Replication"; None: 1, or an existing topic's). More than 1
                needs that many nodes: an embedded system raises InvalidArgumentError.
            acks: this writer's puts to a replicated topic are acknowledged once the leader
                ("leader") or every in-sync replica ("all"; None: "all" for a factor above 1)
                has the records. Under "all" a put raises UnavailableError ("not enough
                in-sync replicas") while fewer than min_insync_replicas are in sync.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._system.executor(),
            lambda: self._open_writer(topic, bucket_column, num_buckets, batch_size, storage_path,
                                      backend, backend_options, retention_records, retention_bytes,
                                      replication_factor, retention_ms, acks, retention_policy))

    def _open_reader(self, topic: str, bucket_id: Optional[int] = None,
                     bucket_ids: Optional[Sequence[int]] = None, rank: Optional[int] = None,
                     world_size: Optional[int] = None, num_buckets: int = 4,
                     storage_path: Optional[str] = None, backend: Any = None,
                     backend_options: Optional[Dict[str, Any]] = None,
                     group: Optional[str] = None, start: str = "earliest",
                     auto_commit: bool = True, auto_commit_interval: float = 5.0,
                     session_timeout: float = 10.0, read_ahead: int = 1000) -> Reader:
        if bucket_id is not None and bucket_ids is not None:
            raise InvalidArgumentError("give bucket_id or bucket_ids, not both")
        if (rank is None) != (world_size is None):
            raise InvalidArgumentError("rank and world_size go together")
        if (rank is not None) and (bucket_id is not None or bucket_ids is not None):
            raise InvalidArgumentError("give buckets or rank/world_size, not both")
        if start not in ("earliest", "latest"):
            raise InvalidArgumentError(f"start must be 'earliest' or 'latest', got {start!r}")
        if isinstance(read_ahead, bool) or not isinstance(read_ahead, int) \
                or not 0 <= read_ahead <= _MAX_READ_AHEAD:
            raise InvalidArgumentError(
                f"read_ahead must be an int in [0, {_MAX_READ_AHEAD}], got {read_ahead!r}")
        settings = None
        if group is not None:
            if not isinstance(group, str):
                raise InvalidArgumentError(f"group must be a str, got {type(group).__name__}")
            for name, value in (("auto_commit_interval", auto_commit_interval),
                                ("session_timeout", session_timeout)):
                if not float(value) > 0:
                    raise InvalidArgumentError(
                        f"{name} must be a positive number of seconds, got {value!r}")
            _native.check_group_name(group)
            settings = _GroupSettings(group, str(start), auto_commit, auto_commit_interval,
                                      session_timeout)
        buckets: Optional[List[int]] = None
        if bucket_id is not None:
            buckets = [int(bucket_id)]
        elif bucket_ids is not None:
            buckets = [int(b) for b in bucket_ids]
        reader = Reader(self._system, topic, buckets, None if rank is None else int(rank),
                        1 if world_size is None else int(world_size), settings, read_ahead)
        self._system._readers.add(reader._core)
        reader._try_open()
        return reader

    async def read(self, topic: str, bucket_id: Optional[int] = None,
                   bucket_ids: Optional[Sequence[int]] = None, rank: Optional[int] = None,
                   world_size: Optional[int] = None, num_buckets: int = 4,
                   storage_path: Optional[str] = None, backend: Any = None,
                   backend_options: Optional[Dict[str, Any]] = None,
                   group: Optional[str] = None, start: str = "earliest",
                   auto_commit: bool = True, auto_commit_interval: float = 5.0,
                   session_timeout: float = 10.0, read_ahead: int = 1000) -> Reader:
        """Opens a reader of a topic, of all its buckets or of some.

        Args:
            topic: the topic. It may not exist yet: the reader then waits for it in its gets
                (bounded by their timeout).
            bucket_id: read this bucket only.
            bucket_ids: read these buckets.
            rank, world_size: read the buckets b with ``b % world_size == rank``.
            num_buckets, storage_path, backend, backend_options: Pulsing's; accepted and
                unused (a reader takes the topic's settings).
            group: a consumer group (docs/groups.md): the reader's offsets are the group's,
                kept by the system; it starts each bucket after the group's last commit and
                :meth:`Reader.commit` makes its progress durable. With buckets or rank it
                reads exactly those (a static member); with neither it shares the topic's
                buckets with the group's other dynamic members. Names follow the topic-name
                rule (a bad one raises ValueError). None: a plain reader (offsets in memory).
            start: where a group reader starts a bucket with no commit: "earliest" (its first
                record) or "latest" (only records put from then on).
            auto_commit: commit every auto_commit_interval seconds (checked on get) and on
                close.
            auto_commit_interval: seconds between automatic commits.
            session_timeout: seconds without a get after which a dynamic member is dropped
                from the group and its buckets go to the others.
            read_ahead: with a remote system, records each round trip to a node may bring
                beyond a get's limit, kept for the next gets (0 to 100,000; 0 fetches exactly
                what each get asks for). An embedded system ignores it.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._system.executor(),
            lambda: self._open_reader(topic, bucket_id, bucket_ids, rank, world_size,
                                      group=group, start=start, auto_commit=auto_commit,
                                      auto_commit_interval=auto_commit_interval,
                                      session_timeout=session_timeout, read_ahead=read_ahead))

    def get_bucket_id(self, topic: str, value: Any) -> int:
        """The bucket a record whose bucket column holds value goes to (the topic must exist)."""
        return self._system._native.bucket_of(topic, value)

    def topic(self, topic: str) -> Optional[Dict[str, Any]]:
        """The topic's settings as a dict, or None when it does not exist."""
        return self._system._native.topic(topic)

    def stats(self, topic: str) -> Dict[str, Any]:
        """The topic's statistics: total_count, per-bucket counters."""
        return self._system._native.stats(topic)

    def delete_topic(self, topic: str) -> None:
        """Deletes the topic with its records, files and consumer groups (blocks until done).

        Writers and readers open on it raise NotFoundError from then on, also after a topic of
        the same name is created again (that one is new and starts empty). An unknown topic
        raises NotFoundError naming it and changes nothing.
        """
        self._system._native.delete_topic(topic)

    def alter_topic(self, topic: str, retention_records: Optional[int] = None,
                    retention_bytes: Optional[int] = None,
                    retention_ms: Optional[int] = None,
                    retention_policy: Optional[str] = None) -> None:
        """Replaces the topic's retention limits per bucket (None: no limit), applied at once.

        Whole flushed fragments at the front of each bucket go once the newer ones hold the
        limit; offsets never change and a read below a bucket's first offset raises
        OutOfRangeError (docs/retention.md). retention_policy "interest" also keeps what a
        consumer group has not committed; None is "limits". An unknown topic raises
        NotFoundError, a limit below 1 or another policy InvalidArgumentError; nothing changes
        then. Embedded only for now.
        """
        self._system._native.alter_topic(topic, retention_records, retention_bytes, retention_ms,
                                         retention_policy)


def _option_text(value: Any) -> str:
    """A backend option as the engine takes it (a string; booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
