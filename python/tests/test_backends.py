"""Backends written in Python (persisting.register_backend)."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

import persisting


class ListBackend:
    """The seed's protocol over a list; counts the calls it gets."""

    instances: list = []

    def __init__(self, bucket_id, storage_path, batch_size=100, **options):
        self.bucket_id = bucket_id
        self.storage_path = storage_path
        self.batch_size = batch_size
        self.options = options
        self.rows = []
        self.flushes = 0
        self.loop_threads = set()
        ListBackend.instances.append(self)

    async def put(self, record):
        await self.put_batch([record])

    async def put_batch(self, records):
        self.loop_threads.add(threading.current_thread().name)
        await asyncio.sleep(0)  # a real coroutine
        if any(r.get("poison") for r in records):
            raise RuntimeError("poisoned record refused")
        self.rows.extend(records)

    async def get(self, limit, offset):
        return self.rows[offset:offset + limit]

    async def get_stream(self, limit, offset, wait=False, timeout=None):
        yield self.rows[offset:offset + limit]

    async def flush(self):
        self.flushes += 1

    async def stats(self):
        return {"rows": len(self.rows), "flushes": self.flushes}

    def total_count(self):
        return len(self.rows)


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_python_backend_put_get_flush_round_trip(topic):
    name = unique("pylist")
    persisting.register_backend(name, ListBackend)
    async with persisting.open() as system:
        writer = await system.queue.write(topic, num_buckets=2, batch_size=7, backend=name,
                                          backend_options={"colour": "blue"})
        assert (await writer.put({"id": "a", "n": 0}))["offset"] == 0
        await writer.put([{"id": "a", "n": i} for i in range(1, 5)])
        assert (await writer.put({"id": "a", "n": 5}))["offset"] == 5
        await writer.flush()
        reader = await system.queue.read(topic)
        assert [r["n"] for r in await reader.get(limit=100)] == list(range(6))
        stats = await writer.stats()
        assert stats["total_count"] == 6
        ours = [b for b in ListBackend.instances if b.rows and b.rows[0].get("id") == "a"][-1]
        assert ours.flushes >= 1 and ours.batch_size == 7 and ours.options == {"colour": "blue"}
        assert ours.storage_path is None
        assert ours.loop_threads == {"persisting-backends"}
        bucket = stats["buckets"][system.queue.get_bucket_id(topic, "a")]
        assert bucket["rows"] == 6 and bucket["backend"] == name

        # a parked reader is woken by a put through the Python backend
        task = asyncio.create_task(reader.get(wait=True, timeout=30))
        await asyncio.sleep(0.2)
        await writer.put({"id": "a", "n": 6})
        assert await asyncio.wait_for(task, 30) == [{"id": "a", "n": 6}]


async def test_python_backend_exception_reaches_the_caller(topic):
    name = unique("pylist")
    persisting.register_backend(name, ListBackend)
    async with persisting.open() as system:
        writer = await system.queue.write(topic, backend=name)
        message = r"put_batch\(\) raised RuntimeError: poisoned record refused"
        with pytest.raises(persisting.Error, match=message):
            await writer.put({"id": 1, "poison": True})
        assert (await writer.put({"id": 1}))["offset"] == 0  # the backend still works
        with pytest.raises(persisting.Error, match=name):
            writer.sync().put({"id": 1, "poison": True})


async def test_backend_class_given_directly(topic):
    class Fresh(ListBackend):
        """A class nobody registered."""

    async with persisting.open() as system:
        writer = await system.queue.write(topic, backend=Fresh)
        await writer.put({"id": 1})
        assert writer.topic["backend"].startswith("py-")
        writer2 = await system.queue.write(topic + "2", backend=Fresh)
        assert writer2.topic["backend"] == writer.topic["backend"]
        reader = await system.queue.read(topic)
        assert await reader.get() == [{"id": 1}]


async def test_a_sync_call_from_the_loop_thread_does_not_deadlock(topic):
    """The user's loop thread blocks in a sync put while the backend's coroutine runs."""
    name = unique("pylist")
    persisting.register_backend(name, ListBackend)
    async with persisting.open() as system:
        writer = await system.queue.write(topic, backend=name)
        sync = writer.sync()
        for i in range(20):
            sync.put({"id": i})  # blocks this (the loop's) thread
        assert (await writer.stats())["total_count"] == 20


def test_register_backend_checks_its_arguments():
    with pytest.raises(TypeError):
        persisting.register_backend("notaclass", object())
    name = unique("pylist")
    persisting.register_backend(name, ListBackend)
    with pytest.raises(persisting.AlreadyExistsError):
        persisting.register_backend(name, ListBackend)
    with pytest.raises(persisting.InvalidArgumentError):
        persisting.register_backend("Bad Name!", ListBackend)
    assert name in persisting.backends()


async def test_remote_system_does_not_know_local_python_backends(persistingd, topic):
    name = unique("pylist")
    persisting.register_backend(name, ListBackend)
    with persisting.connect(persistingd) as system:
        with pytest.raises(persisting.Error, match=name):
            await system.queue.write(topic, backend=name)
