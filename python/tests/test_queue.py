"""The queue API (Pulsing's names and defaults), on an embedded node and against persistingd."""

from __future__ import annotations

import asyncio
import threading

import pytest

import persisting


async def test_put_one_returns_bucket_offset_status(system, topic):
    writer = await system.queue.write(topic)
    first = await writer.put({"id": "a", "n": 1})
    second = await writer.put({"id": "a", "n": 2})
    assert first["status"] == "ok" and second["status"] == "ok"
    assert first["bucket_id"] == second["bucket_id"] == system.queue.get_bucket_id(topic, "a")
    assert (first["offset"], second["offset"]) == (0, 1)


async def test_put_many_returns_one_result_per_record(system, topic):
    writer = await system.queue.write(topic, num_buckets=4)
    results = await writer.put([{"id": f"k{i}", "i": i} for i in range(10)])
    assert len(results) == 10
    next_offset = {}
    for i, r in enumerate(results):
        assert r["status"] == "ok"
        assert r["bucket_id"] == system.queue.get_bucket_id(topic, f"k{i}")
        # Each bucket's records land at consecutive offsets from 0, in list order.
        assert r["offset"] == next_offset.get(r["bucket_id"], 0)
        next_offset[r["bucket_id"]] = r["offset"] + 1
    reader = await system.queue.read(topic)
    got = await reader.get(limit=100)
    assert sorted(r["i"] for r in got) == list(range(10))


async def test_missing_bucket_column_raises_and_writes_nothing(system, topic):
    writer = await system.queue.write(topic)
    with pytest.raises(ValueError, match=r"^Missing partition column 'id'$"):
        await writer.put({"name": "x"})
    with pytest.raises(ValueError, match="Missing partition column 'id'"):
        await writer.put([{"id": 1}, {"name": "x"}])
    assert (await writer.stats())["total_count"] == 0


async def test_non_dict_raises_type_error(system, topic):
    writer = await system.queue.write(topic)
    for bad in (5, "text", None):
        with pytest.raises(TypeError):
            await writer.put(bad)
    with pytest.raises(TypeError, match="record 1"):
        await writer.put([{"id": 1}, 7])
    with pytest.raises(TypeError, match="field 'x'"):
        await writer.put({"id": 1, "x": object()})


async def test_int_beyond_int64_names_the_field(system, topic):
    writer = await system.queue.write(topic)
    with pytest.raises(ValueError, match=r"field 'a\.b\[1\]'.*int64"):
        await writer.put({"id": 1, "a": {"b": [1, 2**63]}})
    await writer.put({"id": 1, "min": -2**63, "max": 2**63 - 1})
    reader = await system.queue.read(topic)
    assert await reader.get() == [{"id": 1, "min": -2**63, "max": 2**63 - 1}]


async def test_every_value_type_round_trips(system, topic):
    record = {"id": "k", "none": None, "t": True, "f": False, "i": -42, "d": 2.5, "s": "héllo",
              "b": b"\x00\xff", "l": [1, "two", [3.0], {"x": None}], "o": {"p": {"q": [b"r"]}}}
    writer = await system.queue.write(topic)
    await writer.put(record)
    reader = await system.queue.read(topic)
    assert await reader.get() == [record]


async def test_read_all_one_bucket_and_bucket_ids(system, topic):
    writer = await system.queue.write(topic, num_buckets=4)
    records = [{"id": i} for i in range(40)]
    await writer.put(records)
    by_bucket = {}
    for r in records:
        by_bucket.setdefault(system.queue.get_bucket_id(topic, r["id"]), []).append(r)

    everything = await system.queue.read(topic)
    assert sorted(r["id"] for r in await everything.get(limit=100)) == list(range(40))

    for b in range(4):
        one = await system.queue.read(topic, bucket_id=b)
        assert await one.get(limit=100) == by_bucket.get(b, [])

    some = await system.queue.read(topic, bucket_ids=[1, 3])
    want = sorted(r["id"] for b in (1, 3) for r in by_bucket.get(b, []))
    assert sorted(r["id"] for r in await some.get(limit=100)) == want


async def test_rank_world_size_covers_every_record_once(system, topic):
    writer = await system.queue.write(topic, num_buckets=6)
    await writer.put([{"id": i} for i in range(120)])
    seen = []
    for rank in range(3):
        reader = await system.queue.read(topic, rank=rank, world_size=3)
        got = await reader.get(limit=1000)
        for r in got:
            assert system.queue.get_bucket_id(topic, r["id"]) % 3 == rank
        seen.extend(r["id"] for r in got)
    assert sorted(seen) == list(range(120))


async def test_bad_reader_arguments_raise_value_error(system, topic):
    await system.queue.write(topic, num_buckets=2)
    with pytest.raises(ValueError):
        await system.queue.read(topic, bucket_id=0, bucket_ids=[1])
    with pytest.raises(ValueError):
        await system.queue.read(topic, rank=0)
    with pytest.raises(ValueError):
        await system.queue.read(topic, bucket_id=5)


async def test_put_is_visible_at_once(system, topic):
    writer = await system.queue.write(topic)
    reader = await system.queue.read(topic)
    assert await reader.get() == []
    for i in range(5):
        await writer.put({"id": "same", "i": i})
        assert await reader.get(wait=False) == [{"id": "same", "i": i}]


async def test_offsets_reset_and_set_offset(system, topic):
    writer = await system.queue.write(topic, num_buckets=2)
    await writer.put([{"id": "a", "i": i} for i in range(5)])
    b = system.queue.get_bucket_id(topic, "a")
    reader = await system.queue.read(topic)
    assert reader.offsets() == {0: 0, 1: 0}
    assert len(await reader.get(limit=3)) == 3
    assert reader.offsets()[b] == 3
    reader.set_offset(1, bucket_id=b)
    assert [r["i"] for r in await reader.get()] == [1, 2, 3, 4]
    reader.reset()
    assert reader.offsets() == {0: 0, 1: 0}
    assert [r["i"] for r in await reader.get()] == [0, 1, 2, 3, 4]
    reader.set_offset(4)
    assert [r["i"] for r in await reader.get()] == [4]


async def test_blocking_get_wakes_on_data(system, topic):
    writer = await system.queue.write(topic)
    reader = await system.queue.read(topic)
    task = asyncio.create_task(reader.get(wait=True, timeout=30))
    await asyncio.sleep(0.3)
    assert not task.done()
    await writer.put({"id": 1, "v": "late"})
    assert await asyncio.wait_for(task, 30) == [{"id": 1, "v": "late"}]


async def test_blocking_get_returns_empty_at_its_timeout(system, topic):
    await system.queue.write(topic)
    reader = await system.queue.read(topic)
    assert await asyncio.wait_for(reader.get(wait=True, timeout=0.3), 30) == []
    assert reader.sync().get(wait=True, timeout=0.3) == []


async def test_cancelled_get_loses_nothing(system, topic):
    writer = await system.queue.write(topic)
    reader = await system.queue.read(topic)
    # cancelled while parked, before any data
    task = asyncio.create_task(reader.get(wait=True, timeout=None))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await writer.put({"id": 1, "n": 0})
    assert await reader.get(wait=True, timeout=10) == [{"id": 1, "n": 0}]

    # cancelled while its records are on their way: whatever it took comes back
    received = []
    for n in range(1, 30):
        task = asyncio.create_task(reader.get(wait=True, timeout=None))
        await asyncio.sleep(0.01)
        await writer.put({"id": 1, "n": n})
        task.cancel()
        try:
            received.extend(r["n"] for r in await task)
        except asyncio.CancelledError:
            pass
    while True:
        got = await reader.get(limit=7, wait=True, timeout=0.5)
        if not got:
            break
        received.extend(r["n"] for r in got)
    assert received == list(range(1, 30))


async def test_async_for_streams_records(system, topic):
    writer = await system.queue.write(topic, num_buckets=1)
    reader = await system.queue.read(topic)

    async def produce():
        for i in range(10):
            await writer.put({"id": 0, "i": i})
            await asyncio.sleep(0.01)

    producer = asyncio.create_task(produce())
    got = []
    async for record in reader:
        got.append(record["i"])
        if len(got) == 10:
            break
    await producer
    assert got == list(range(10))


async def test_sync_writers_in_threads_while_async_tasks_read(system, topic):
    threads, per_thread = 4, 250
    writer = await system.queue.write(topic, num_buckets=8)
    readers = [await system.queue.read(topic, rank=r, world_size=2) for r in range(2)]
    sync_writer = writer.sync()

    def produce(t):
        """Producer t: its records share a bucket (id p<t>); singles and batches of 25."""
        for start in range(0, per_thread, 25):
            batch = [{"id": f"p{t}", "seq": s} for s in range(start, start + 25)]
            if start % 50:
                sync_writer.put(batch)
            else:
                for r in batch:
                    sync_writer.put(r)

    async def consume(reader, out):
        while len(out) < threads * per_thread:
            got = await reader.get(limit=50, wait=True, timeout=0.5)
            if not got and all(not th.is_alive() for th in producers):
                got = await reader.get(limit=50)
                if not got:
                    return
            out.extend(got)

    producers = [threading.Thread(target=produce, args=(t,)) for t in range(threads)]
    outs = [[], []]
    consumers = [asyncio.create_task(consume(readers[i], outs[i])) for i in range(2)]
    for th in producers:
        th.start()
    while any(th.is_alive() for th in producers):
        await asyncio.sleep(0.05)
    await asyncio.wait_for(asyncio.gather(*consumers), 60)

    seen = outs[0] + outs[1]
    keys = [(r["id"], r["seq"]) for r in seen]
    assert len(keys) == len(set(keys)) == threads * per_thread
    for t in range(threads):  # one producer's records share a bucket: its order is kept
        seqs = [r["seq"] for r in seen if r["id"] == f"p{t}"]
        assert seqs == list(range(per_thread))


async def test_large_records(system, topic):
    writer = await system.queue.write(topic)
    big = {"id": "big", "payload": bytes(range(256)) * 4096}  # 1 MiB
    await writer.put(big)
    await writer.put([{"id": i, "payload": "x" * 65536} for i in range(20)])
    reader = await system.queue.read(topic)
    got = []
    while len(got) < 21:
        more = await reader.get(limit=100, wait=True, timeout=5)
        assert more
        got.extend(more)
    assert big in got
    assert sum(1 for r in got if r["payload"] == "x" * 65536) == 20


async def test_many_buckets(system, topic):
    writer = await system.queue.write(topic, num_buckets=128)
    await writer.put([{"id": i} for i in range(1000)])
    reader = await system.queue.read(topic)
    assert len(reader.offsets()) == 128
    got = []
    while True:
        more = await reader.get(limit=300)
        if not more:
            break
        got.extend(r["id"] for r in more)
    assert sorted(got) == list(range(1000))
    assert (await writer.stats())["total_count"] == 1000


async def test_memory_is_the_default_backend(system, topic):
    writer = await system.queue.write(topic)
    assert writer.topic["backend"] == "memory"
    assert (await writer.stats())["backend"] == "memory"


async def test_unknown_backend_raises(system, topic):
    with pytest.raises(persisting.Error, match="no-such-backend"):
        await system.queue.write(topic, backend="no-such-backend")


async def test_reopening_with_other_settings_fails(system, topic):
    await system.queue.write(topic, num_buckets=4)
    with pytest.raises(persisting.FailedPreconditionError):
        await system.queue.write(topic, num_buckets=8)


async def test_reader_opened_before_the_writer_waits_for_the_topic(system, topic):
    reader = await system.queue.read(topic)
    assert await reader.get(wait=False) == []
    assert await reader.get(wait=True, timeout=0.2) == []
    task = asyncio.create_task(reader.get(wait=True, timeout=30))
    await asyncio.sleep(0.3)
    writer = await system.queue.write(topic)
    await writer.put({"id": 7})
    assert await asyncio.wait_for(task, 30) == [{"id": 7}]


async def test_sync_reader_opened_before_the_writer(system, topic):
    reader = (await system.queue.read(topic, bucket_id=0)).sync()
    assert reader.get(wait=True, timeout=0.1) == []
    reader.set_offset(1)
    writer = (await system.queue.write(topic, num_buckets=1)).sync()
    writer.put([{"id": 1, "i": 0}, {"id": 1, "i": 1}])
    assert reader.get(wait=True, timeout=10) == [{"id": 1, "i": 1}]
    assert reader.offsets() == {0: 2}
    writer.put({"id": 1, "i": 2})
    assert next(iter(reader)) == {"id": 1, "i": 2}
    with pytest.raises(ValueError):
        reader.set_offset(0, bucket_id=5)
    with pytest.raises(ValueError):
        reader.get(limit=-1)


async def test_free_functions_and_stats(system, topic):
    writer = await persisting.write_queue(system, topic, bucket_column="user", num_buckets=2,
                                          batch_size=10, storage_path="/unused/with/memory")
    await writer.put({"user": "u", "x": 1})
    await writer.flush()
    reader = await persisting.read_queue(system, topic, num_buckets=2, storage_path=None)
    assert await reader.get() == [{"user": "u", "x": 1}]
    stats = system.queue.stats(topic)
    assert stats["total_count"] == 1 and stats["num_buckets"] == 2
    assert system.queue.topic(topic)["bucket_column"] == "user"
    assert system.queue.topic(topic + "-none") is None


async def test_queue_compat_class(system, topic):
    q = persisting.Queue(system, topic, bucket_column="id", num_buckets=2)
    await q.put({"id": "a", "i": 0})
    await q.put([{"id": "a", "i": 1}, {"id": "a", "i": 2}])
    b = q.get_bucket_id("a")
    assert [r["i"] for r in await q.get(bucket_id=b)] == [0, 1, 2]
    assert [r["i"] for r in await q.get(bucket_id=b, offset=1, limit=1)] == [1]
    assert await q.get(bucket_id=1 - b) == []
    assert [r["i"] for r in await q.get()] == [0, 1, 2]
    await q.flush()
    assert (await q.stats())["total_count"] == 3
    s = q.sync()
    s.put({"id": "a", "i": 3})
    assert [r["i"] for r in s.get(bucket_id=b, offset=3)] == [3]


async def test_closed_system_raises(topic):
    system = persisting.open()
    system.close()
    system.close()
    with pytest.raises(persisting.ClosedError):
        await system.queue.write(topic)


async def test_async_context_manager(topic):
    async with persisting.open() as system:
        writer = await system.queue.write(topic)
        await writer.put({"id": 1})
    assert system.closed


def test_sync_api_without_event_loop(system, topic):
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()
    q = persisting.Queue(system, topic).sync()
    assert q.put({"id": 3})["status"] == "ok"
    assert q.get() == [{"id": 3}]


async def test_delete_topic_then_recreate_is_a_new_topic(system, topic):
    writer = await system.queue.write(topic, num_buckets=2)
    await writer.put([{"id": f"k{i}", "old": True} for i in range(5)])
    reader = await system.queue.read(topic)
    system.queue.delete_topic(topic)
    assert system.queue.topic(topic) is None
    with pytest.raises(persisting.NotFoundError, match=topic):
        await writer.put({"id": "k1"})
    with pytest.raises(persisting.NotFoundError):
        await reader.get(limit=10)
    fresh = await system.queue.write(topic, num_buckets=2)
    first = await fresh.put({"id": "k1", "old": False})
    assert first["offset"] == 0
    with pytest.raises(persisting.NotFoundError):  # the old writer never reaches the new topic
        await writer.put({"id": "k1"})
    got = await (await system.queue.read(topic)).get(limit=100)
    assert [r["old"] for r in got] == [False]
    with pytest.raises(persisting.NotFoundError, match="'never-made'"):
        system.queue.delete_topic("never-made")


async def read_in_a_new_process(path, topic, n):
    """Opens path afresh and reads topic until n records came (at most 20 gets).

    Returns their "i" fields, sorted."""
    system = persisting.open(str(path))
    try:
        reader = await system.queue.read(topic)
        got = []
        for _ in range(20):
            got += await reader.get(limit=100)
            if len(got) >= n:
                break
        return sorted(r["i"] for r in got)
    finally:
        system.close()


async def test_close_without_flush_keeps_records_in_the_log(tmp_path, topic):
    """flush_on_close=False: close writes no Lance fragment; the next open has every record.

    A process that only reads serves them from the log in memory and flushes nothing, even at
    its flushing close; the next writer's close puts them in Lance."""
    system = persisting.open(str(tmp_path), flush_on_close=False)
    try:
        writer = await system.queue.write(topic, num_buckets=4, backend="persisting")
        await writer.put([{"id": f"k{i}", "i": i} for i in range(40)])
    finally:
        system.close()
    topic_dir = tmp_path / topic
    assert not list(topic_dir.glob("bucket_*/data.lance"))
    assert await read_in_a_new_process(tmp_path, topic, 40) == list(range(40))
    assert not list(topic_dir.glob("bucket_*/data.lance"))
    system = persisting.open(str(tmp_path))
    try:
        writer = await system.queue.write(topic, num_buckets=4, backend="persisting")
        await writer.put([{"id": f"k{i}", "i": i} for i in range(40, 80)])
    finally:
        system.close()
    assert list(topic_dir.glob("bucket_*/data.lance/_versions"))
    assert await read_in_a_new_process(tmp_path, topic, 80) == list(range(80))


@pytest.mark.parametrize("read_ahead", [0, 7, 1000])
async def test_small_gets_with_read_ahead_return_every_record_once_in_order(system, topic, read_ahead):
    writer = await system.queue.write(topic, num_buckets=4)
    await writer.put([{"id": f"k{i}", "i": i} for i in range(300)])
    reader = await system.queue.read(topic, read_ahead=read_ahead)
    got = []
    for _ in range(200):
        batch = await reader.get(limit=10, wait=False)
        assert len(batch) <= 10
        if not batch:
            break
        got.extend(r["i"] for r in batch)
    assert sorted(got) == list(range(300))  # each once
    per_bucket = {}
    for i in got:  # in put order within each bucket
        per_bucket.setdefault(system.queue.get_bucket_id(topic, f"k{i}"), []).append(i)
    assert all(v == sorted(v) for v in per_bucket.values())
    assert sum(reader.offsets().values()) == 300
    await writer.put({"id": "late", "i": 300})
    assert await reader.get(wait=True, timeout=30) == [{"id": "late", "i": 300}]


@pytest.mark.parametrize("bad", [-1, 100_001, 1.5, "10", True])
async def test_a_bad_read_ahead_is_refused(system, topic, bad):
    await system.queue.write(topic)
    with pytest.raises(persisting.InvalidArgumentError, match="read_ahead"):
        await system.queue.read(topic, read_ahead=bad)
