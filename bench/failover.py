#!/usr/bin/python3
"""bench/failover.py: how long a replicated bucket is unwritable when its leader dies (issue 18).

Starts on 127.0.0.1 (free ports, fresh directories): one etcd, and 3 persistingd nodes that use
it for membership and leader leases (--etcd, --etcd-ttl TTL). Creates a one-bucket topic with
replication_factor 3 (`persisting` backend), and a producer thread (the Python package's remote
client, acks=all, one record per put, a put at most every 2 ms) that moves to another node when
its entry node stops answering, as a client with a bootstrap list does. Then, --kills times:

  1. waits until the bucket's leader has all 3 replicas in sync (bounded);
  2. kill -9 of the leader; K is when it is gone (waited for);
  3. the failover time: from K to the acknowledgement of the first put sent after K (a put
     acknowledged after K is the new leader's);
  4. restarts the killed node, which rejoins as a follower.

Prints the distribution (min, p50, p90, max) against the target: at most TTL + 1 s. At the end,
reads the bucket through every node and checks that each acknowledged record is there once and in
order (a duplicate or a loss is reported, not hidden).

Usage: bench/failover.py [--build DIR] [--kills N] [--ttl S]
Needs etcd (Debian package etcd-server) and the build's Python package (build/python).
Not part of CI: a benchmark, bounded in kills and seconds.
"""

import argparse
import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"a server exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port} after {seconds} s")


class Cluster:
    """etcd and 3 persistingd nodes under root; nodes restartable by index."""

    def __init__(self, build, root, ttl):
        self.build, self.root, self.ttl = build, root, ttl
        self.procs, self.logs = {}, []
        cport, pport = free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{cport}"
        peer = f"http://127.0.0.1:{pport}"
        self.etcd = self.spawn("etcd", ["etcd", "--name", "b1", "--data-dir", os.path.join(root, "etcd"),
                                        "--listen-client-urls", self.etcd_url, "--advertise-client-urls",
                                        self.etcd_url, "--listen-peer-urls", peer, "--initial-advertise-peer-urls",
                                        peer, "--initial-cluster", "b1=" + peer])
        wait_port(cport, self.etcd)
        self.ports = [free_port() for _ in range(3)]
        for i in range(3):
            self.start(i)

    def spawn(self, name, cmd):
        f = open(os.path.join(self.root, name + ".log"), "a")
        self.logs.append(f)
        return subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)

    def address(self, i):
        return f"127.0.0.1:{self.ports[i]}"

    def start(self, i):
        cmd = [os.path.join(self.build, "apps", "persistingd"), "--id", f"n{i + 1}", "--listen", self.address(i),
               "--data-dir", os.path.join(self.root, f"n{i + 1}"), "--etcd", self.etcd_url,
               "--etcd-ttl", str(self.ttl), "--etcd-prefix", "/failover-bench", "--log-level", os.environ.get("FAILOVER_LOG_LEVEL", "info")]
        self.procs[i] = self.spawn(f"n{i + 1}", cmd)
        wait_port(self.ports[i], self.procs[i])

    def kill(self, i):
        self.procs[i].kill()
        self.procs[i].wait()

    def status(self, i, topic):
        r = subprocess.run([os.path.join(self.build, "apps", "persisting"), "cluster", "status", "--server",
                            self.address(i), "--topic", topic], capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(r.stderr.strip())
        return json.loads(r.stdout)

    def stop(self):
        for p in list(self.procs.values()) + [self.etcd]:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in list(self.procs.values()) + [self.etcd]:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in self.logs:
            f.close()


def stored_in_sync(cluster, topic):
    """How many members the in-sync set of bucket 0 stored in etcd has (the leader records a
    follower's return there at its next scan; docs/cluster.md, "Failover with etcd")."""
    key = base64.b64encode(f"/failover-bench/isr/{topic}/0".encode()).decode()
    req = urllib.request.Request(cluster.etcd_url + "/v3/kv/range", data=json.dumps({"key": key}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            kvs = json.load(r).get("kvs", [])
    except OSError:
        return 0
    if not kvs:
        return 0
    return len(json.loads(base64.b64decode(kvs[0]["value"])).get("members", []))


def leader_in_sync(cluster, topic, deadline_s=60.0):
    """The bucket's leader index once it holds the bucket's etcd leader key (epoch > 0), reports
    3 replicas in sync (asked of the leader), and has stored that set in etcd. Killed before it
    stored it, a leader leaves no in-sync candidate alive: a window the benchmark waits out."""
    deadline = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < deadline:
        for i in range(3):
            try:
                st = cluster.status(i, topic)
            except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
                last = str(e)
                continue
            b = st["buckets"][0]
            if (b.get("leader") == st.get("self") and b.get("epoch", 0) > 0 and len(b.get("in_sync", [])) == 3
                    and stored_in_sync(cluster, topic) == 3):
                return i
            last = json.dumps(b)
        time.sleep(0.2)
    raise RuntimeError(f"no leader with 3 replicas in sync within {deadline_s} s (last: {last})")


class Producer(threading.Thread):
    """Puts {"id": n} one at a time, acks=all; on a failure moves to the next node's address."""

    def __init__(self, persisting, cluster, topic):
        super().__init__(daemon=True)
        self.persisting, self.cluster, self.topic = persisting, cluster, topic
        self.acked = []  # (sent, acked, id) in ack order
        self.failures = 0
        self.last_error = ""
        self.stop_at = None
        self.lock = threading.Lock()
        self.entry = 0

    def writer(self):
        system = self.persisting.connect(self.cluster.address(self.entry))
        return asyncio.run(system.queue.write(self.topic, bucket_column="k", num_buckets=1, backend="persisting",
                                              replication_factor=3, acks="all")).sync()

    def run(self):
        n, w = 0, None
        deadline = time.monotonic() + 3600  # bounded
        while self.stop_at is None and time.monotonic() < deadline:
            try:
                if w is None:
                    w = self.writer()
                sent = time.monotonic()
                w.put({"id": n, "k": 0})
                with self.lock:
                    self.acked.append((sent, time.monotonic(), n))
                n += 1
                time.sleep(0.002)
            except Exception as e:  # noqa: BLE001 - any failure: count it, try the next node
                self.failures += 1
                self.last_error = f"{type(e).__name__}: {e}"
                n += 1  # a failed put may still have been appended: its id is never reused
                w = None
                self.entry = (self.entry + 1) % 3
                time.sleep(0.02)

    def first_ack_after(self, t, deadline_s):
        """The acknowledgement time of the first put sent at or after t (None past deadline_s)."""
        deadline = time.monotonic() + deadline_s
        while time.monotonic() < deadline:
            with self.lock:
                found = [acked for sent, acked, _ in self.acked if sent >= t]
            if found:
                return min(found)
            time.sleep(0.01)
        return None


def read_ids(persisting, address, topic):
    """The ids of the bucket's records readable through address, in offset order."""
    system = persisting.connect(address)
    r = asyncio.run(system.queue.read(topic)).sync()
    ids = []
    for _ in range(10000):  # bounded
        got = r.get(1000)
        if not got:
            break
        ids += [m["id"] for m in got]
    r.close()
    return ids


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--ttl", type=int, default=2, help="the nodes' etcd lease TTL, seconds")
    ap.add_argument("--keep", action="store_true", help="keep the data and logs (printed path) after the run")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    sys.path.insert(0, os.path.join(build, "python"))
    import persisting  # noqa: E402 - the build's package
    if not shutil.which("etcd"):
        sys.exit("bench/failover.py: etcd not found (apt-get install etcd-server)")
    root = tempfile.mkdtemp(prefix="persisting-failover-bench.")
    topic = "failover"
    times, cluster, producer = [], None, None
    try:
        cluster = Cluster(build, root, a.ttl)
        producer = Producer(persisting, cluster, topic)
        producer.start()
        for k in range(a.kills):
            victim = leader_in_sync(cluster, topic)
            cluster.kill(victim)  # returns once the process is gone: no put sent after this reaches it
            kill_at = time.monotonic()
            first = producer.first_ack_after(kill_at, deadline_s=a.ttl * 10 + 30)
            if first is None:
                raise RuntimeError(f"kill {k + 1}: no put acknowledged within {a.ttl * 10 + 30} s of killing "
                                   f"n{victim + 1}; the last failure: {producer.last_error}")
            times.append(first - kill_at)
            print(f"kill {k + 1}: n{victim + 1} killed; first put acknowledged {times[-1]:.2f} s later",
                  file=sys.stderr, flush=True)
            cluster.start(victim)
        producer.stop_at = time.monotonic()
        producer.join(timeout=60)
        acked = [i for _, _, i in sorted(producer.acked, key=lambda x: x[2])]
        leader_in_sync(cluster, topic)
        problems = []
        for i in range(3):
            ids = read_ids(persisting, cluster.address(i), topic)
            seen = set(ids)
            missing = [x for x in acked if x not in seen]
            dups = len(ids) - len(seen)
            ordered = ids == sorted(ids)
            if missing or dups or not ordered:
                problems.append(f"n{i + 1}: {len(missing)} acknowledged missing, {dups} duplicates, "
                                f"{'in order' if ordered else 'OUT OF ORDER'}")
        s = sorted(times)
        q = lambda p: s[min(len(s) - 1, int(p * len(s)))]  # noqa: E731
        within = sum(t <= a.ttl + 1 for t in s)
        print("| kills | min | p50 | p90 | max | target (TTL + 1 s) | within the target | records acknowledged | "
              "failed puts | every acknowledged record once and in order on every node |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        print(f"| {len(s)} | {s[0]:.2f} s | {q(0.5):.2f} s | {q(0.9):.2f} s | {s[-1]:.2f} s | <= {a.ttl + 1} s | "
              f"{within} of {len(s)} | {len(acked):,} | {producer.failures} | "
              + ("yes" if not problems else "**no**: " + "; ".join(problems)) + " |")
        print()
        print("Failover: kill -9 of the bucket's leader to the first put acknowledged after it (etcd lease TTL "
              f"{a.ttl} s).")
        if problems:
            return 1
    finally:
        if producer:
            producer.stop_at = time.monotonic()
        if cluster:
            cluster.stop()
        if a.keep:
            print(f"data and logs kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
