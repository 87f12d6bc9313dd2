"""numpy vectors, storage_path, errors and Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import threading

import numpy as np
import pytest

import persisting


async def test_numpy_float32_vectors_round_trip(system, topic):
    writer = await system.queue.write(topic)
    vectors = [np.arange(8, dtype=np.float32) * i for i in range(3)]
    await writer.put([{"id": i, "vec": v, "nested": {"v": v[:2]}} for i, v in enumerate(vectors)])
    strided = np.arange(16, dtype=np.float32)[::2]  # not contiguous
    await writer.put({"id": 9, "vec": strided})
    reader = await system.queue.read(topic)
    got = {r["id"]: r for r in await reader.get(limit=10)}
    for i, v in enumerate(vectors):
        assert isinstance(got[i]["vec"], np.ndarray) and got[i]["vec"].dtype == np.float32
        np.testing.assert_array_equal(got[i]["vec"], v)
        np.testing.assert_array_equal(got[i]["nested"]["v"], v[:2])
    np.testing.assert_array_equal(got[9]["vec"], strided)


async def test_other_numpy_arrays_raise_type_error(system, topic):
    writer = await system.queue.write(topic)
    with pytest.raises(TypeError, match=r"field 'v'.*float64"):
        await writer.put({"id": 1, "v": np.zeros(4)})
    with pytest.raises(TypeError, match=r"field 'v'.*2-D"):
        await writer.put({"id": 1, "v": np.zeros((2, 2), dtype=np.float32)})
    assert (await writer.stats())["total_count"] == 0


async def test_numpy_scalars_become_numbers(system, topic):
    writer = await system.queue.write(topic)
    await writer.put({"id": np.int64(3), "f": np.float32(0.5), "b": np.bool_(True)})
    reader = await system.queue.read(topic)
    assert await reader.get() == [{"id": 3, "f": 0.5, "b": True}]


async def test_storage_path_must_match_a_file_backend(tmp_path, topic):
    data = tmp_path / "data"
    with persisting.open(data_dir=str(data)) as system:
        writer = await system.queue.write(topic, storage_path="/ignored", backend="memory")
        await writer.put({"id": 1})
        with pytest.raises(ValueError, match="conflicts"):
            await system.queue.write(topic + "x", backend="lance",
                                     storage_path=str(tmp_path / "elsewhere"))
        writer = await system.queue.write(topic + "y", backend="lance", storage_path=str(data))
        await writer.put({"id": 1})
        await writer.flush()
    assert (data / (topic + "y")).is_dir()


async def test_remote_storage_path_with_a_file_backend_raises(persistingd, topic):
    with persisting.connect(persistingd) as system:
        with pytest.raises(ValueError, match="data dirs"):
            await system.queue.write(topic, backend="lance", storage_path="/somewhere")


def test_error_classes_follow_status_codes():
    e = persisting.errors.from_status("NotFound", "topic 'x' not found")
    assert isinstance(e, persisting.NotFoundError) and isinstance(e, persisting.Error)
    assert str(e) == "topic 'x' not found" and e.code == "NotFound"
    assert isinstance(persisting.errors.from_status("InvalidArgument", "m"), ValueError)
    unavailable = persisting.errors.from_status("Unavailable", "m")
    assert isinstance(unavailable, persisting.UnavailableError)
    assert type(persisting.errors.from_status("Whatever", "m")) is persisting.Error


async def test_engine_errors_keep_their_message(system, topic):
    with pytest.raises(persisting.InvalidArgumentError, match="num_buckets"):
        await system.queue.write(topic, num_buckets=0)
    with pytest.raises(persisting.InvalidArgumentError, match="topic"):
        await system.queue.write("bad/name")


def test_ctrl_c_interrupts_a_blocking_sync_get(system, topic):
    writer = persisting.Queue(system, topic).sync()
    writer.put({"id": 1})
    reader = persisting.Queue(system, topic).sync()
    assert reader.get() == [{"id": 1}]

    import asyncio

    async def open_reader():
        return await system.queue.read(topic)

    sync_reader = asyncio.run(open_reader()).sync()
    sync_reader.set_offset(1)
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            sync_reader.get(wait=True, timeout=None)
    finally:
        timer.cancel()
    writer.put({"id": 1, "after": True})
    assert sync_reader.get(wait=True, timeout=10) == [{"id": 1, "after": True}]


async def test_connect_with_a_token(persistingd_with_token, topic):
    address, token = persistingd_with_token
    with persisting.connect(address) as anonymous:
        with pytest.raises(persisting.UnauthenticatedError):
            await anonymous.queue.write(topic)
    with persisting.connect(address, token="wrong") as wrong:
        with pytest.raises(persisting.UnauthenticatedError):
            await wrong.queue.write(topic)
    with persisting.connect(address, token=token) as system:
        writer = await system.queue.write(topic)
        await writer.put({"id": 1})
        reader = await system.queue.read(topic)
        assert await reader.get() == [{"id": 1}]


async def test_unreachable_node_is_unavailable(topic):
    from conftest import free_port
    with persisting.connect(f"127.0.0.1:{free_port()}") as system:
        with pytest.raises(persisting.UnavailableError):
            await system.queue.write(topic)


def test_connect_with_tls(tmp_path, topic):
    """A persistingd serving TLS with a throwaway CA: tls_ca and token reach it, plaintext not."""
    from conftest import start_persistingd, stop_persistingd
    pki = tmp_path / "pki"
    pki.mkdir()

    def sh(cmd):
        subprocess.run(cmd, shell=True, cwd=pki, check=True, capture_output=True, timeout=60)

    sh("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca "
       "-keyout ca.key -out ca.pem")
    sh("openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout node.key -out node.csr")
    sh("printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext && openssl x509 -req "
       "-in node.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 -extfile ext -out node.pem")
    proc, address, log = start_persistingd(tmp_path, [
        "--tls-cert", str(pki / "node.pem"), "--tls-key", str(pki / "node.key"),
        "--tls-ca", str(pki / "ca.pem"), "--token", "tok"])
    try:
        with persisting.connect(address, token="tok", tls_ca=str(pki / "ca.pem")) as system:
            q = persisting.Queue(system, topic).sync()
            q.put({"id": 1, "secret": b"\x01"})
            assert q.get() == [{"id": 1, "secret": b"\x01"}]
        with persisting.connect(address, token="tok") as plain:
            with pytest.raises(persisting.UnavailableError):
                persisting.Queue(plain, topic).sync().put({"id": 2})
        # The certificate names 127.0.0.1 and localhost: another expected name is refused.
        ca = str(pki / "ca.pem")
        with persisting.connect(address, token="tok", tls_ca=ca, tls_server_name="localhost") as named:
            assert persisting.Queue(named, topic).sync().get() == [{"id": 1, "secret": b"\x01"}]
        with persisting.connect(address, token="tok", tls_ca=ca, tls_server_name="other.example") as wrong:
            with pytest.raises(persisting.UnavailableError):
                persisting.Queue(wrong, topic).sync().put({"id": 3})
        with pytest.raises(ValueError):
            persisting.connect(address, tls_server_name="localhost")
    finally:
        stop_persistingd(proc, log)
