"""Consumer groups from Python (issue 16): read(group=...), commit, close."""

from __future__ import annotations

import asyncio

import pytest

import persisting


async def drain(reader, limit=100):
    """Every record the reader gets until a get waits 0.5 s for nothing."""
    out = []
    while True:
        got = await reader.get(limit=limit, wait=True, timeout=0.5)
        if not got:
            return out
        out += got


@pytest.fixture(params=["memory", "data_dir", "remote"])
def gsystem(request, tmp_path):
    """An embedded system (memory-only or with a data dir), or a client of persistingd."""
    if request.param == "remote":
        s = persisting.connect(request.getfixturevalue("persistingd"))
    else:
        s = persisting.open(tmp_path / "data" if request.param == "data_dir" else None)
    yield s
    s.close()


async def test_commit_then_a_new_reader_of_the_group_resumes_after_it(gsystem, topic):
    writer = await gsystem.queue.write(topic, num_buckets=3)
    await writer.put([{"id": i, "n": i} for i in range(30)])
    reader = await gsystem.queue.read(topic, group="g", auto_commit=False)
    first = await reader.get(limit=10)
    assert len(first) == 10
    await reader.commit()
    await reader.get(limit=5)  # read, never committed: comes again
    await reader.aclose()

    again = await gsystem.queue.read(topic, group="g", auto_commit=False)
    rest = await drain(again)
    assert sorted(r["n"] for r in first + rest) == list(range(30))
    # another group starts from the beginning
    other = await gsystem.queue.read(topic, group="other")
    assert len(await drain(other)) == 30


async def check_commits_survive(open_system, topic):
    """Commit, read more without committing, close the system; a reader of the group on a new
    system resumes after the commit (and its close commits the rest)."""
    with open_system() as system:
        writer = await system.queue.write(topic, num_buckets=2, backend="persisting")
        await writer.put([{"id": i, "n": i} for i in range(20)])
        reader = await system.queue.read(topic, group="g", auto_commit=False)
        first = await reader.get(limit=8)
        reader.sync().commit()
        await reader.get(limit=4)  # not committed
        reader.close()
    with open_system() as system:
        async with await system.queue.read(topic, group="g") as reader:
            rest = await drain(reader)
        assert sorted(r["n"] for r in first + rest) == list(range(20))
        # closing with auto_commit committed all of it
        async with await system.queue.read(topic, group="g") as reader:
            assert await reader.get(wait=True, timeout=0.3) == []


async def test_commits_survive_a_reopened_system(tmp_path, topic):
    await check_commits_survive(lambda: persisting.open(tmp_path), topic)


async def test_commits_survive_a_new_client(persistingd, topic):
    await check_commits_survive(lambda: persisting.connect(persistingd), topic)


async def test_commit_covers_only_records_handed_out_by_async_for(gsystem, topic):
    writer = await gsystem.queue.write(topic, num_buckets=1)
    await writer.put([{"id": 0, "n": i} for i in range(10)])
    reader = await gsystem.queue.read(topic, group="g", auto_commit=False)
    seen = []
    async for record in reader:  # fetches 10 at once, hands out 3
        seen.append(record["n"])
        if len(seen) == 3:
            break
    await reader.commit()
    await reader.aclose()
    again = await gsystem.queue.read(topic, group="g")
    assert [r["n"] for r in await drain(again)] == list(range(3, 10))


async def test_sync_iteration_then_commit(gsystem, topic):
    writer = await gsystem.queue.write(topic, num_buckets=1)
    await writer.put([{"id": 0, "n": i} for i in range(6)])
    reader = (await gsystem.queue.read(topic, group="g", auto_commit=False)).sync()
    it = iter(reader)
    assert [next(it)["n"] for _ in range(2)] == [0, 1]
    reader.commit()
    reader.close()
    with (await gsystem.queue.read(topic, group="g", auto_commit=False)).sync() as again:
        assert [r["n"] for r in again.get(limit=100)] == [2, 3, 4, 5]


async def test_start_latest_skips_what_is_there(gsystem, topic):
    writer = await gsystem.queue.write(topic, num_buckets=2)
    await writer.put([{"id": i, "old": True} for i in range(5)])
    latest = await gsystem.queue.read(topic, group="late", start="latest")
    earliest = await gsystem.queue.read(topic, group="early", start="earliest")
    assert await latest.get() == []
    await writer.put([{"id": i, "old": False} for i in range(3)])
    got = await drain(latest)
    assert len(got) == 3 and not any(r["old"] for r in got)
    assert len(await drain(earliest)) == 8


async def test_bad_group_arguments_raise_value_error(system, topic):
    for bad in ("", "a/b", "..x", ".hidden", "x" * 129):
        with pytest.raises(ValueError, match="group name"):
            await system.queue.read(topic, group=bad)  # checked before the topic exists
    with pytest.raises(ValueError, match="start must be .earliest. or .latest., got .middle."):
        await system.queue.read(topic, group="g", start="middle")
    with pytest.raises(ValueError, match="session_timeout"):
        await system.queue.read(topic, group="g", session_timeout=0)
    with pytest.raises(ValueError, match="auto_commit_interval"):
        await system.queue.read(topic, group="g", auto_commit_interval=-1)


async def test_commit_without_a_group_raises(system, topic):
    await system.queue.write(topic)
    reader = await system.queue.read(topic)
    with pytest.raises(persisting.FailedPreconditionError, match="has no group"):
        await reader.commit()
    with pytest.raises(persisting.FailedPreconditionError, match="has no group"):
        reader.sync().commit()
    reader.close()  # a plain reader closes too


async def test_closed_reader_raises_and_close_is_idempotent(gsystem, topic):
    writer = await gsystem.queue.write(topic)
    await writer.put({"id": 1})
    reader = await gsystem.queue.read(topic, group="g")
    async with reader:
        assert len(await reader.get()) == 1
    await reader.aclose()
    reader.close()
    with pytest.raises(persisting.ClosedError, match=f"reader of topic '{topic}' is closed"):
        await reader.get()
    with pytest.raises(persisting.ClosedError):
        await reader.commit()
    with pytest.raises(persisting.ClosedError):
        reader.sync().get()


async def test_group_reader_opened_before_the_topic(gsystem, topic):
    reader = await gsystem.queue.read(topic, group="g", auto_commit=False)
    task = asyncio.create_task(reader.get(wait=True, timeout=30))
    await asyncio.sleep(0.1)
    writer = await gsystem.queue.write(topic, num_buckets=2)
    await writer.put({"id": 1, "n": 1})
    assert await asyncio.wait_for(task, 60) == [{"id": 1, "n": 1}]
    await reader.commit()


async def test_two_dynamic_members_share_the_buckets(gsystem, topic):
    writer = await gsystem.queue.write(topic, num_buckets=4)
    # a short session: members heartbeat (and learn of new shares) every 0.5 s; not shorter, or a
    # loaded machine expires a member between two gets and the drains below overlap
    a = await gsystem.queue.read(topic, group="g", auto_commit=False, session_timeout=1.5)
    await a.get()  # joined: all four buckets
    assert set(a.offsets()) == {0, 1, 2, 3}
    b = await gsystem.queue.read(topic, group="g", auto_commit=False, session_timeout=1.5)
    for _ in range(100):  # each learns its share at a get after its next heartbeat
        await a.get(wait=True, timeout=0.05)
        await b.get(wait=True, timeout=0.05)
        if set(a.offsets()) | set(b.offsets()) == {0, 1, 2, 3} and \
                not set(a.offsets()) & set(b.offsets()):
            break
    assert len(a.offsets()) == len(b.offsets()) == 2
    assert set(a.offsets()) | set(b.offsets()) == {0, 1, 2, 3}
    await writer.put([{"id": i, "n": i} for i in range(40)])
    got = await drain(a) + await drain(b)
    assert sorted(r["n"] for r in got) == list(range(40))
    await b.aclose()  # b leaves: a gets every bucket again
    for _ in range(100):
        await a.get(wait=True, timeout=0.05)
        if len(a.offsets()) == 4:
            break
    assert set(a.offsets()) == {0, 1, 2, 3}
    await a.aclose()


@pytest.mark.parametrize("kind", ["data_dir", "remote"])
async def test_closing_the_system_commits_and_closes_its_group_readers(request, kind, tmp_path,
                                                                      topic):
    def open_system():
        if kind == "remote":
            return persisting.connect(request.getfixturevalue("persistingd"))
        return persisting.open(tmp_path)
    system = open_system()
    writer = await system.queue.write(topic, num_buckets=1, backend="persisting")
    await writer.put([{"id": 0, "n": i} for i in range(5)])
    reader = await system.queue.read(topic, group="g")
    assert [r["n"] for r in await reader.get(limit=3)] == [0, 1, 2]
    system.close()  # the reader commits (auto_commit) and leaves before the system closes
    with pytest.raises(persisting.ClosedError):
        await reader.get()
    with open_system() as system:
        async with await system.queue.read(topic, group="g") as again:
            assert [r["n"] for r in await drain(again)] == [3, 4]
