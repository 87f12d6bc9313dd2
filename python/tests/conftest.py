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


def start_persistingd(root: Path, extra: list):
    """Starts a one-node persistingd in root; returns (process, address, log file)."""
    binary = os.environ.get("PERSISTINGD") or str(REPO / "build" / "apps" / "persistingd")
    assert os.access(binary, os.X_OK), f"persistingd not found at {binary} (set PERSISTINGD)"
    port = free_port()
    address = f"127.0.0.1:{port}"
    log = open(root / "node.log", "wb")
    proc = subprocess.Popen(
        [binary, "--id", "n1", "--listen", address, "--data-dir", str(root / "data"),
         "--members", f"n1={address}", *extra],
        stdout=log, stderr=subprocess.STDOUT)
    for _ in range(400):
        if port_open(port):
            return proc, address, log
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    stop_persistingd(proc, log)
    raise AssertionError("persistingd did not start listening in 20 s:\n" +
                         (root / "node.log").read_text())


def stop_persistingd(proc: subprocess.Popen, log) -> None:
    """Stops a persistingd this suite started (by its pid)."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    log.close()


@pytest.fixture(scope="session")
def persistingd(tmp_path_factory: pytest.TempPathFactory):
    """The address of a one-node persistingd (killed at the end of the session)."""
    proc, address, log = start_persistingd(tmp_path_factory.mktemp("persistingd"), [])
    try:
        yield address
    finally:
        stop_persistingd(proc, log)


@pytest.fixture(scope="session")
def persistingd_with_token(tmp_path_factory: pytest.TempPathFactory):
    """(address, token) of a one-node persistingd that requires an access token."""
    token = "s3cret-" + uuid.uuid4().hex[:8]
    root = tmp_path_factory.mktemp("persistingd-token")
    proc, address, log = start_persistingd(root, ["--token", token])
    try:
        yield address, token
    finally:
        stop_persistingd(proc, log)


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
