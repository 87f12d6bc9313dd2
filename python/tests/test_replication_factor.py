"""replication_factor (docs/cluster.md, "Replication") from Python: set at creation, shown by
topic(); bad values and replicas on an embedded system or a one-node cluster are refused and
create nothing."""

from __future__ import annotations

import pytest

import persisting


async def test_factor_one_by_default_and_when_given(system, topic):
    await system.queue.write(topic)
    assert system.queue.topic(topic)["replication_factor"] == 1
    await system.queue.write(topic + "-1", replication_factor=1)
    assert system.queue.topic(topic + "-1")["replication_factor"] == 1


async def test_bad_factors_are_refused(system, topic):
    for bad in (0, 2, 4, -1):
        with pytest.raises(persisting.InvalidArgumentError, match="replication_factor must be 1, 3 or 5"):
            await system.queue.write(topic, replication_factor=bad)
    assert system.queue.topic(topic) is None


async def test_more_replicas_than_nodes_are_refused(system, topic):
    # The embedded system is one node, and so is the test's single persistingd.
    with pytest.raises(persisting.InvalidArgumentError, match="replication_factor 3 needs at least 3 nodes"):
        await system.queue.write(topic, replication_factor=3)
    assert system.queue.topic(topic) is None


async def test_acks_is_checked_and_a_factor_one_topic_takes_either(system, topic):
    with pytest.raises(persisting.InvalidArgumentError, match="acks must be 'leader' or 'all', got 'two'"):
        await system.queue.write(topic, acks="two")
    assert system.queue.topic(topic) is None
    for acks in ("leader", "all"):
        w = await system.queue.write(topic, acks=acks)
        await w.put({"id": 1})
    r = await system.queue.read(topic)
    got = await r.get(10)
    assert len(got) == 2
