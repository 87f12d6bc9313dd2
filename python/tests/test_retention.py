"""Retention (docs/retention.md) from Python: set at creation, altered, OutOfRangeError below the
first offset, bad limits refused; over the network too."""

from __future__ import annotations

import pytest

import persisting


async def test_retention_at_creation_and_alter(tmp_path, topic):
    system = persisting.open(str(tmp_path))
    try:
        writer = await system.queue.write(topic, num_buckets=1, batch_size=10, backend="lance",
                                          backend_options={"flush_interval": 0}, retention_records=25)
        for i in range(0, 100, 10):
            await writer.put([{"id": "k", "i": k} for k in range(i, i + 10)])
            await writer.flush()
        info = system.queue.topic(topic)
        assert (info["retention_records"], info["retention_bytes"]) == (25, None)
        bucket = system.queue.stats(topic)["buckets"][0]
        assert bucket["first_offset"] == 70
        reader = await system.queue.read(topic)
        got = await reader.get(limit=100)
        assert [r["i"] for r in got] == list(range(70, 100))
        reader.set_offset(3, 0)
        with pytest.raises(persisting.OutOfRangeError, match="first available offset 70"):
            await reader.get(limit=10)

        system.queue.alter_topic(topic, retention_records=5)
        assert system.queue.stats(topic)["buckets"][0]["first_offset"] == 90
        assert system.queue.topic(topic)["retention_records"] == 5
        system.queue.alter_topic(topic)  # no limits from now on
        assert system.queue.topic(topic)["retention_records"] is None

        with pytest.raises(persisting.InvalidArgumentError, match="retention_records must be positive"):
            system.queue.alter_topic(topic, retention_records=0)
        with pytest.raises(persisting.InvalidArgumentError, match="retention_bytes must be positive"):
            system.queue.alter_topic(topic, retention_bytes=-1)
        with pytest.raises(persisting.NotFoundError, match="'never-made'"):
            system.queue.alter_topic("never-made", retention_records=5)
        with pytest.raises(persisting.InvalidArgumentError, match="'memory'"):
            await system.queue.write(topic + "-mem", retention_bytes=100)
    finally:
        system.close()


async def test_retention_over_the_network(persistingd, topic):
    system = persisting.connect(persistingd)
    try:
        writer = await system.queue.write(topic, num_buckets=1, batch_size=10, backend="persisting",
                                          retention_records=25)
        for i in range(0, 100, 10):
            await writer.put([{"id": "k", "i": k} for k in range(i, i + 10)])
            await writer.flush()
        info = system.queue.topic(topic)
        assert (info["retention_records"], info["retention_bytes"]) == (25, None)
        assert system.queue.stats(topic)["buckets"][0]["first_offset"] == 70
        system.queue.alter_topic(topic, retention_records=5)
        assert system.queue.stats(topic)["buckets"][0]["first_offset"] == 90
        assert system.queue.topic(topic)["retention_records"] == 5
        system.queue.alter_topic(topic, retention_records=5, retention_ms=86_400_000)
        assert system.queue.topic(topic)["retention_ms"] == 86_400_000  # age limits travel too
        with pytest.raises(persisting.InvalidArgumentError, match="retention_records must be positive"):
            system.queue.alter_topic(topic, retention_records=0)
        with pytest.raises(persisting.NotFoundError, match="'never-made'"):
            system.queue.alter_topic("never-made", retention_records=5)
        await system.queue.write(topic + "-mem")
        with pytest.raises(persisting.InvalidArgumentError, match="'memory'"):
            system.queue.alter_topic(topic + "-mem", retention_records=5)
    finally:
        system.close()


async def test_retention_ms_set_shown_altered_and_refused(tmp_path, topic):
    system = persisting.open(str(tmp_path))
    try:
        with pytest.raises(persisting.InvalidArgumentError, match="retention_ms must be positive"):
            await system.queue.write(topic, backend="lance", retention_ms=-5)
        assert system.queue.topic(topic) is None  # nothing made
        await system.queue.write(topic, num_buckets=1, backend="lance", retention_ms=86_400_000)
        assert system.queue.topic(topic)["retention_ms"] == 86_400_000
        with pytest.raises(persisting.InvalidArgumentError, match="retention_ms must be positive"):
            system.queue.alter_topic(topic, retention_ms=0)
        assert system.queue.topic(topic)["retention_ms"] == 86_400_000  # unchanged
        system.queue.alter_topic(topic, retention_ms=1000)
        assert system.queue.topic(topic)["retention_ms"] == 1000
        assert system.queue.topic(topic)["retention_records"] is None
    finally:
        system.close()


async def test_retention_policy_interest(tmp_path, topic):
    """retention_policy="interest": a group that has committed part way holds the fragments it
    has not consumed; once it commits past them, the next flush removes what the limit allows."""
    system = persisting.open(str(tmp_path))
    try:
        writer = await system.queue.write(topic, num_buckets=1, batch_size=10, backend="lance",
                                          backend_options={"flush_interval": 0}, retention_records=10,
                                          retention_policy="interest")
        assert system.queue.topic(topic)["retention_policy"] == "interest"
        reader = await system.queue.read(topic, group="g", auto_commit=False)
        for i in range(0, 50, 10):
            await writer.put([{"id": "k", "i": k} for k in range(i, i + 10)])
            await writer.flush()
        assert system.queue.stats(topic)["buckets"][0]["first_offset"] == 0  # g never committed
        got = await reader.get(limit=25)
        assert len(got) == 25
        await reader.commit()
        await writer.put([{"id": "k", "i": k} for k in range(50, 60)])
        await writer.flush()
        assert system.queue.stats(topic)["buckets"][0]["first_offset"] == 20
        while len(await reader.get(limit=100)) > 0:
            pass
        await reader.commit()
        await writer.put([{"id": "k", "i": k} for k in range(60, 70)])
        await writer.flush()
        assert system.queue.stats(topic)["buckets"][0]["first_offset"] == 60
        await reader.aclose()

        with pytest.raises(persisting.InvalidArgumentError,
                           match="retention_policy must be 'limits' or 'interest', got 'acked'"):
            system.queue.alter_topic(topic, retention_records=10, retention_policy="acked")
        assert system.queue.topic(topic)["retention_policy"] == "interest"  # unchanged
        system.queue.alter_topic(topic, retention_records=10)  # None: back to the limits alone
        assert system.queue.topic(topic)["retention_policy"] == "limits"
    finally:
        system.close()
