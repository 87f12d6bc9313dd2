#!/usr/bin/python3
"""bench/python: the persisting Python package side by side with redis-py (issue 14).

Python producers and consumers, batch 100, records {"id": "w0_<i>", "idx": <i>, "payload": <N
bytes of text>} with N in {0, 256}, for:

  embedded         persisting.open()                 memory backend, .sync() API
  embedded-async   persisting.open()                 memory backend, await writer.put / reader.get
  remote           persisting.connect(persistingd)   memory backend, .sync() API
  remote-async     persisting.connect(persistingd)   memory backend, asyncio
  redis            redis-py pipelining 100 XADD per round trip; XREAD COUNT 100 (appendonly no)

Each row produces R records (1 producer) and then consumes them all from the start (1 consumer),
bounded in records and in seconds. The servers (persistingd, redis-server) are started by this
script on free loopback ports with fresh data dirs and stopped by their pid. Also measured: the
cost of the record conversion alone (dicts -> engine records, and back), and of an asyncio call
that does nothing, to say where the time goes. Not a test; prints Markdown for
docs/benchmarks.md ("Python"; bench/report.py puts it there).

Usage: bench/python/bench.py [--records R] [--duration S] [--build DIR] [--json FILE]
                             [--systems remote,remote-async] (redis always runs: the ratios)
Setup: bash scripts/setup-bench.sh; a build (build/python, build/apps/persistingd).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BATCH = 100
SYSTEMS = ("embedded", "embedded-async", "remote", "remote-async")


def free_port() -> int:
    """A loopback TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, what: str) -> None:
    """Waits (at most 20 s) until port accepts connections."""
    for _ in range(400):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} in 20 s")


def stop(proc: subprocess.Popen) -> None:
    """Stops a server this script started (by its pid)."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def records(start: int, n: int, payload: str) -> list:
    """The workload's records start .. start + n - 1."""
    return [{"id": f"w0_{i}", "idx": i, "payload": payload} for i in range(start, start + n)]


class Row:
    """One measured phase: records and seconds."""

    def __init__(self, system: str, phase: str, size: int, n: int, seconds: float) -> None:
        self.system, self.phase, self.size, self.n, self.seconds = system, phase, size, n, seconds

    @property
    def rate(self) -> float:
        """Records per second."""
        return self.n / self.seconds if self.seconds > 0 else 0.0


def bench_persisting_sync(system, name: str, size: int, total: int, duration: float) -> list:
    """Produce then consume rows through the .sync() API of system."""
    import persisting
    topic = f"bench-{name}-{size}-{time.monotonic_ns()}"
    payload = "x" * size
    writer = persisting.Queue(system, topic).sync()
    t0, n = time.perf_counter(), 0
    while n < total and time.perf_counter() - t0 < duration:
        writer.put(records(n, BATCH, payload))
        n += BATCH
    produce = Row(name, "produce", size, n, time.perf_counter() - t0)

    async def open_reader():
        """The reader (opened on a loop: system.queue.read is a coroutine)."""
        return await system.queue.read(topic)
    reader = asyncio.run(open_reader()).sync()
    t0, got = time.perf_counter(), 0
    while got < n and time.perf_counter() - t0 < duration:
        batch = reader.get(limit=BATCH)
        if not batch:
            break
        got += len(batch)
    consume = Row(name, "consume", size, got, time.perf_counter() - t0)
    return [produce, consume]


def bench_persisting_async(system, name: str, size: int, total: int, duration: float) -> list:
    """Produce then consume rows through the asyncio API of system."""
    topic = f"bench-{name}-{size}-{time.monotonic_ns()}"
    payload = "x" * size

    async def run() -> list:
        """Both phases on the running loop."""
        writer = await system.queue.write(topic)
        t0, n = time.perf_counter(), 0
        while n < total and time.perf_counter() - t0 < duration:
            await writer.put(records(n, BATCH, payload))
            n += BATCH
        produce = Row(name, "produce", size, n, time.perf_counter() - t0)
        reader = await system.queue.read(topic)
        t0, got = time.perf_counter(), 0
        while got < n and time.perf_counter() - t0 < duration:
            batch = await reader.get(limit=BATCH)
            if not batch:
                break
            got += len(batch)
        return [produce, Row(name, "consume", size, got, time.perf_counter() - t0)]

    return asyncio.run(run())


def bench_redis(port: int, size: int, total: int, duration: float) -> list:
    """Produce (pipelined XADD) then consume (XREAD COUNT 100) rows with redis-py."""
    import redis
    r = redis.Redis(host="127.0.0.1", port=port)
    key = f"bench-{size}-{time.monotonic_ns()}"
    payload = "x" * size
    t0, n = time.perf_counter(), 0
    while n < total and time.perf_counter() - t0 < duration:
        pipe = r.pipeline(transaction=False)
        for rec in records(n, BATCH, payload):
            pipe.xadd(key, rec)
        pipe.execute()
        n += BATCH
    produce = Row("redis", "produce", size, n, time.perf_counter() - t0)
    t0, got, last = time.perf_counter(), 0, "0-0"
    while got < n and time.perf_counter() - t0 < duration:
        answer = r.xread({key: last}, count=BATCH)
        if not answer:
            break
        entries = answer[0][1]
        got += len(entries)
        last = entries[-1][0]
    consume = Row("redis", "consume", size, got, time.perf_counter() - t0)
    r.close()
    return [produce, consume]


def conversion_costs(size: int, n: int) -> dict:
    """Seconds per record to build the dicts, convert them to engine records, and back."""
    from persisting import _native
    payload = "x" * size
    t0 = time.perf_counter()
    batches = [records(i, BATCH, payload) for i in range(0, n, BATCH)]
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    for b in batches:
        _native._bench_convert(b, False)
    to_engine = time.perf_counter() - t0
    t0 = time.perf_counter()
    for b in batches:
        _native._bench_convert(b, True)
    round_trip = time.perf_counter() - t0
    return {"size": size, "build_us": build / n * 1e6, "to_engine_us": to_engine / n * 1e6,
            "from_engine_us": max(0.0, round_trip - to_engine) / n * 1e6}


def async_round_trip_us(n: int) -> float:
    """Median microseconds of an asyncio call that does nothing: the future, the pool thread's
    wake-up and the completion on the loop (what every asyncio put and remote get pays)."""
    from persisting import _native

    async def run() -> float:
        loop = asyncio.get_running_loop()
        took = []
        for _ in range(n):
            t0 = time.perf_counter_ns()
            future = loop.create_future()
            _native._bench_async_noop(loop, future, 0)
            await future
            took.append(time.perf_counter_ns() - t0)
        took.sort()
        return took[len(took) // 2] / 1e3

    return asyncio.run(run())


def main() -> None:
    """Starts the servers, runs every row, prints the table (and writes --json)."""
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=200_000,
                    help="records per row (default 200000)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds at most per phase")
    ap.add_argument("--build", default=str(REPO / "build"), help="the build dir")
    ap.add_argument("--json", help="write every row here")
    ap.add_argument("--systems", default=",".join(SYSTEMS),
                    help="comma-separated rows to run besides redis (default: all)")
    args = ap.parse_args()
    systems = [s for s in args.systems.split(",") if s]
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        ap.error(f"unknown systems {unknown}; known: {', '.join(SYSTEMS)}")

    build = Path(args.build).resolve()
    sys.path.insert(0, str(build / "python"))
    import persisting

    tmp = Path(tempfile.mkdtemp(prefix="bench-python-"))
    procs = []
    try:
        pport, rport = free_port(), free_port()
        node = subprocess.Popen(
            [str(build / "apps" / "persistingd"), "--id", "n1", "--listen", f"127.0.0.1:{pport}",
             "--data-dir", str(tmp / "node"), "--members", f"n1=127.0.0.1:{pport}"],
            stdout=open(tmp / "node.log", "wb"), stderr=subprocess.STDOUT)
        procs.append(node)
        rs = subprocess.Popen(
            ["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(tmp)],
            stdout=open(tmp / "redis.log", "wb"), stderr=subprocess.STDOUT)
        procs.append(rs)
        wait_port(pport, node, "persistingd")
        wait_port(rport, rs, "redis-server")

        rows, costs = [], []
        embedded = persisting.open()
        remote = persisting.connect(f"127.0.0.1:{pport}")
        n, secs = args.records, args.duration
        for size in (0, 256):
            rows += bench_redis(rport, size, n, secs)
            for name in SYSTEMS:
                if name in systems:
                    run = bench_persisting_async if name.endswith("-async") else bench_persisting_sync
                    rows += run(remote if name.startswith("remote") else embedded, name, size, n, secs)
            costs.append(conversion_costs(size, min(args.records, 100_000)))
        round_trip = async_round_trip_us(5000)
        embedded.close()
        remote.close()
    finally:
        for p in procs:
            stop(p)
        shutil.rmtree(tmp, ignore_errors=True)

    redis_rate = {(r.phase, r.size): r.rate for r in rows if r.system == "redis"}
    print("| system | phase | payload | records | records/s | x redis-py |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        base = redis_rate.get((r.phase, r.size)) or 0
        ratio = f"**{r.rate / base:.2f}x**" if base and r.system != "redis" else "-"
        print(f"| {r.system} | {r.phase} | {r.size} B | {r.n:,} | {r.rate:,.0f} | {ratio} |")
    print("\nThe conversion alone, microseconds per record (build = making the dicts in Python):\n")
    print("| payload | build | to engine | from engine |")
    print("|---|---|---|---|")
    for c in costs:
        print(f"| {c['size']} B | {c['build_us']:.2f} | {c['to_engine_us']:.2f} | {c['from_engine_us']:.2f} |")
    print(f"\nAn empty asyncio call (future, pool thread, completion on the loop): "
          f"{round_trip:.1f} µs (median of 5,000).")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"rows": [vars(r) | {"rate": r.rate} for r in rows], "conversion": costs,
             "async_round_trip_us": round_trip}, indent=1))


if __name__ == "__main__":
    main()
