"""Fixtures of the persisting pytest suite: a system of each kind (embedded, and a client of a
persistingd this suite starts on a free loopback port) and a fresh topic name per test."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

import persisting

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port nobody listens on now (loopback)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def persistingd(tmp_path_factory: pytest.TempPathFactory):
    """The address of a one-node persistingd (killed at the end of the session)."""
    binary = os.environ.get("PERSISTINGD") or str(REPO / "build" / "apps" / "persistingd")
    assert os.access(binary, os.X_OK), f"persistingd not found at {binary} (set PERSISTINGD)"
    root = tmp_path_factory.mktemp("persistingd")
    port = free_port()
    address = f"127.0.0.1:{port}"
    log = open(root / "node.log", "wb")
    proc = subprocess.Popen(
        [binary, "--id", "n1", "--listen", address, "--data-dir", str(root / "data"),
         "--members", f"n1={address}"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(400):
            if port_open(port):
                break
            assert proc.poll() is None, (root / "node.log").read_text()
            time.sleep(0.05)
        else:
            raise AssertionError("persistingd did not start listening in 20 s")
        yield address
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


@pytest.fixture(params=["embedded", "remote"])
def system(request: pytest.FixtureRequest):
    """An embedded memory-only node, or a client of the suite's persistingd."""
    if request.param == "embedded":
        s = persisting.open()
    else:
        s = persisting.connect(request.getfixturevalue("persistingd"))
    yield s
    s.close()


@pytest.fixture
def topic() -> str:
    """A topic name no other test uses (the remote node is shared by the session)."""
    return "t-" + uuid.uuid4().hex[:12]
