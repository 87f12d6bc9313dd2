"""asyncio calls completed from the extension's threads: many at once, cancelled, failing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

import persisting
from conftest import start_persistingd, stop_persistingd


async def test_many_concurrent_puts_all_complete(system, topic):
    writer = await system.queue.write(topic, num_buckets=4)
    results = await asyncio.wait_for(
        asyncio.gather(*(writer.put({"id": i, "i": i}) for i in range(300))), 60)
    # Each bucket's offsets are 0..n-1, each given once, whatever order the puts ran in.
    per_bucket = {}
    for i, r in enumerate(results):
        assert r["status"] == "ok" and r["bucket_id"] == system.queue.get_bucket_id(topic, i)
        per_bucket.setdefault(r["bucket_id"], []).append(r["offset"])
    for offsets in per_bucket.values():
        assert sorted(offsets) == list(range(len(offsets)))
    batches = await asyncio.wait_for(asyncio.gather(
        *(writer.put([{"id": i, "i": 1000 + i}, {"id": i + 1, "i": 2000 + i}]) for i in range(50))), 60)
    assert all(len(b) == 2 and all(r["status"] == "ok" for r in b) for b in batches)
    assert (await writer.stats())["total_count"] == 400


async def test_more_waiting_gets_than_pool_threads_all_wake(system, topic):
    # A waiting remote get holds a pool thread for up to its slice; 80 of them (more than the
    # pool's 64 threads) must still all be served once data comes.
    writer = await system.queue.write(topic, num_buckets=1)
    readers = [await system.queue.read(topic) for _ in range(80)]
    tasks = [asyncio.create_task(r.get(wait=True, timeout=60)) for r in readers]
    await asyncio.sleep(0.3)
    await writer.put({"id": 0, "n": 1})
    got = await asyncio.wait_for(asyncio.gather(*tasks), 60)
    assert got == [[{"id": 0, "n": 1}]] * 80


async def test_cancelled_put_is_still_written(system, topic):
    writer = await system.queue.write(topic)
    task = asyncio.create_task(writer.put({"id": "a", "n": 1}))
    await asyncio.sleep(0)  # the put has started
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    reader = await system.queue.read(topic)
    assert await reader.get(wait=True, timeout=10) == [{"id": "a", "n": 1}]


async def test_put_after_close_raises_the_engine_error():
    system = persisting.open()
    writer = await system.queue.write("t")
    system.close()
    with pytest.raises(persisting.UnavailableError, match="topic 't' bucket .* closed"):
        await writer.put({"id": 1})
    with pytest.raises(persisting.UnavailableError, match="closed"):
        await writer.put([{"id": 1}, {"id": 2}])


async def test_remote_put_and_get_errors_reach_the_caller(tmp_path):
    proc, address, log = start_persistingd(tmp_path, [])
    try:
        system = persisting.connect(address)
        writer = await system.queue.write("t", num_buckets=1)
        reader = await system.queue.read("t")
    finally:
        stop_persistingd(proc, log)
    try:
        with pytest.raises(persisting.UnavailableError, match="topic 't' bucket 0"):
            await asyncio.wait_for(writer.put({"id": 1}), 60)
        with pytest.raises(persisting.UnavailableError):
            await asyncio.wait_for(reader.get(wait=True, timeout=1), 60)
    finally:
        system.close()


async def test_puts_and_gets_do_not_use_the_executor(system, topic):
    writer = await system.queue.write(topic, num_buckets=2)
    reader = await system.queue.read(topic)

    def no_executor():
        raise AssertionError("an asyncio put or get went through run_in_executor")
    system.executor = no_executor
    await writer.put({"id": 1, "n": 1})
    await writer.put([{"id": 2, "n": 2}, {"id": 3, "n": 3}])
    got = []
    while len(got) < 3:
        batch = await asyncio.wait_for(reader.get(wait=True, timeout=10), 30)
        assert batch
        got += batch
    assert sorted(r["n"] for r in got) == [1, 2, 3]


EXIT_SCRIPT = r"""
import asyncio, sys
import persisting
system = persisting.open() if sys.argv[1] == "embedded" else persisting.connect(sys.argv[1])
loop = asyncio.new_event_loop()
async def start():
    writer = await system.queue.write("exit-t", num_buckets=1)
    reader = await system.queue.read("exit-t")
    await writer.put({"id": 0, "n": 0})
    # in flight at exit: waiting gets (one per reader), and puts
    for _ in range(3):
        r = await system.queue.read("exit-t", bucket_id=0)
        r.set_offset(1)
        asyncio.ensure_future(r.get(wait=True, timeout=30))
    for n in range(1, 20):
        asyncio.ensure_future(writer.put({"id": 0, "n": n}))
    return reader
reader = loop.run_until_complete(start())
if sys.argv[2] == "stop-pool":  # later calls run on the caller's thread, and still complete
    persisting._native._stop_work_pool()
    async def after():
        await asyncio.sleep(0.5)
        w = await system.queue.write("exit-t", num_buckets=1)
        await w.put({"id": 0, "n": 99})
        got = []
        while True:
            batch = await reader.get(wait=True, timeout=0.5)
            if not batch:
                return got
            got += [r["n"] for r in batch]
    got = loop.run_until_complete(after())
    assert got[0] == 0 and got[-1] == 99 and len(got) == 21, got
print("exiting")
"""


@pytest.mark.parametrize("kind", ["embedded", "remote"])
@pytest.mark.parametrize("mode", ["exit", "stop-pool"])
def test_interpreter_exit_with_calls_in_flight(request, kind, mode, topic, tmp_path):
    script = tmp_path / "exit.py"
    script.write_text(EXIT_SCRIPT.replace("exit-t", topic))
    where = "embedded" if kind == "embedded" else request.getfixturevalue("persistingd")
    out = subprocess.run([sys.executable, str(script), where, mode], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "exiting"


class NoReaderLoop(asyncio.SelectorEventLoop):
    """A loop that cannot watch file descriptors (as Windows' proactor loop)."""

    def add_reader(self, fd, callback, *args):
        raise NotImplementedError


async def _put_and_read(system, topic):
    writer = await system.queue.write(topic, num_buckets=2)
    reader = await system.queue.read(topic)
    one = await writer.put({"id": 1, "n": 1})
    many = await writer.put([{"id": 2, "n": 2}, {"id": 3, "n": 3}])
    got = []
    while len(got) < 3:
        batch = await asyncio.wait_for(reader.get(wait=True, timeout=10), 30)
        assert batch
        got += batch
    return one, many, got


def _check_put_and_read(system, topic, one, many, got):
    assert one["status"] == "ok" and one["bucket_id"] == system.queue.get_bucket_id(topic, 1)
    assert [r["bucket_id"] for r in many] == [system.queue.get_bucket_id(topic, i) for i in (2, 3)]
    assert sorted(r["n"] for r in got) == [1, 2, 3]


def test_calls_complete_on_a_loop_without_add_reader(system, topic):
    # Such a loop gets its completions through call_soon_threadsafe.
    loop = NoReaderLoop()
    try:
        _check_put_and_read(system, topic, *loop.run_until_complete(_put_and_read(system, topic)))
    finally:
        loop.close()


def test_calls_complete_on_several_loops_one_after_the_other(system, topic):
    for i in range(3):
        _check_put_and_read(system, f"{topic}-{i}", *asyncio.run(_put_and_read(system, f"{topic}-{i}")))


def test_a_closed_loop_leaves_no_file_descriptor_behind(system, topic):
    # Each loop that ran asyncio calls has a completion channel; closing the loop closes it,
    # even while the loop object lives on.
    def open_fds():
        return len(os.listdir("/proc/self/fd"))

    async def put_and_get():
        writer = await system.queue.write(topic)
        reader = await system.queue.read(topic)
        await writer.put({"id": 1, "n": 1})
        await reader.get(wait=True, timeout=10)

    asyncio.run(put_and_get())  # the system's own descriptors are open from here on
    before = open_fds()
    loops = []
    for _ in range(30):
        loop = asyncio.new_event_loop()
        loop.run_until_complete(put_and_get())
        loop.close()
        loops.append(loop)
    # A channel kept open per loop would be 30 more; the slack is for descriptors the client's
    # transport may open meanwhile (a reconnection).
    assert open_fds() < before + 5


def test_a_put_completing_after_its_loop_closed_is_still_written(system, topic):
    loop = asyncio.new_event_loop()

    async def start():
        writer = await system.queue.write(topic)
        await writer.put({"id": 0, "n": 0})  # the loop's channel exists
        task = asyncio.ensure_future(writer.put({"id": 1, "n": 1}))
        await asyncio.sleep(0)  # the put has started
        return task

    task = loop.run_until_complete(start())
    loop.close()  # the put completes into a closed loop: dropped, nothing touched

    async def read_all():
        reader = await system.queue.read(topic)
        got = []
        while len(got) < 2:
            batch = await asyncio.wait_for(reader.get(wait=True, timeout=10), 30)
            assert batch
            got += batch
        return got

    assert sorted(r["n"] for r in asyncio.run(read_all())) == [0, 1]
    del task
