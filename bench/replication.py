#!/usr/bin/python3
"""bench/replication.py: what replication costs a producer, next to NATS JetStream R3 (issue 18).

Starts, on 127.0.0.1 (free ports, fresh data directories on this disk):
  - 3 persistingd nodes with static membership (--members), backend persisting with
    wal_sync_mode=interval (wal_sync_interval=1): a put is answered once its records are written
    to the OS by every copy the ack waits for, and fdatasync'd within a second;
  - 3 clustered nats-servers (-js, routes between them), a stream of file storage: nats-server 2.9
    answers a publish once a quorum of replicas has stored it, and never fsyncs it.
Both are the "os" durability class of bench/peers: on the OS of the replicas the ack counts, not
yet synced.

Systems, per batch size (256 B records, 4 producer processes, the same records as bench/peers):
  persisting-rf1        topic replication_factor 1 (one copy, the owner's)
  persisting-rf3        replication_factor 3, acks=all (--acks): every in-sync replica has the records
  nats-r3               stream Replicas=3 (PubAck after the quorum, 2 of 3)
Persisting producers connect to node 1 (the client sends each bucket's put to its leader);
NATS producer p connects to server p % 3. Each run has its own topic (stream): made ready before
it is timed (a NATS stream takes one publish; a topic takes 200 records, so that every bucket
exists and, under acks=all, every follower has joined) and deleted once it is measured.
Repetitions are interleaved (rep 1 of every system, then rep 2, ...). Every run is bounded in
records and seconds.

Ratios printed (medians, same run): rf3 / rf1 (target >= 0.5) and rf3 / nats-r3
(target >= 2).

The servers' CPU per record (user + system of the three server processes over the run, from
/proc) is printed next to the rates: on one host the three nodes share its cores, so a copy
costs the producer rate as much CPU as it takes.

Usage: bench/replication.py [--reps N] [--duration S] [--build DIR] [--batches 20,100]
                            [--buckets N] [--acks all|leader] [--idle-topics N] [--json F]
Setup: bash scripts/setup-bench.sh (Debian packages). Not part of CI.
"""

import argparse
import importlib.machinery
import importlib.util
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_peers():
    """bench/peers (no .py suffix) as a module: its process helpers and binary lookup."""
    path = os.path.join(ROOT, "bench", "peers")
    loader = importlib.machinery.SourceFileLoader("bench_peers", path)
    spec = importlib.util.spec_from_loader("bench_peers", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


peers = load_peers()
log, free_port, wait_port, run_parallel = peers.log, peers.free_port, peers.wait_port, peers.run_parallel

SIZE = 256
PRODUCERS = 4
RUN_RECORDS = 2_000_000  # per run at most, split over the producers (a run lasts its --duration)
BUCKETS = 16
OPTIONS = ["wal_sync_mode=interval", "wal_sync_interval=1"]


class Trio:
    """Three server processes of one kind; stopped by their pids."""

    def __init__(self, kind, bins, root):
        self.kind, self.procs, self.logs = kind, [], []
        self.dir = tempfile.mkdtemp(prefix=kind + ".", dir=root)
        self.ports = [free_port() for _ in range(3)]
        if kind == "persisting":
            members = ",".join(f"n{i + 1}=127.0.0.1:{p}" for i, p in enumerate(self.ports))
            cmds = [[bins["persistingd"], "--id", f"n{i + 1}", "--listen", f"127.0.0.1:{p}", "--members", members,
                     "--data-dir", os.path.join(self.dir, f"n{i + 1}")] for i, p in enumerate(self.ports)]
        else:
            routes_ports = [free_port() for _ in range(3)]
            routes = ",".join(f"nats://127.0.0.1:{r}" for r in routes_ports)
            cmds = [[bins["nats-server"], "-js", "-a", "127.0.0.1", "-p", str(p), "-n", f"s{i + 1}",
                     "--cluster_name", "bench", "--cluster", f"nats://127.0.0.1:{routes_ports[i]}",
                     "--routes", routes, "-sd", os.path.join(self.dir, f"s{i + 1}")]
                    for i, p in enumerate(self.ports)]
        for i, cmd in enumerate(cmds):
            f = open(os.path.join(self.dir, f"server{i + 1}.log"), "w")
            self.logs.append(f)
            self.procs.append(subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT))
        for p, proc in zip(self.ports, self.procs):
            wait_port(p, proc)

    def cpu_seconds(self):
        """User + system CPU the three servers have used so far (/proc/<pid>/stat)."""
        total = 0.0
        for proc in self.procs:
            with open(f"/proc/{proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        for f in self.logs:
            f.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        os.sync()


def persisting_cmd(bins, trio, topic, factor, batch, p, duration, per, buckets, acks):
    cmd = [bins["persisting"], "bench", "--server", f"127.0.0.1:{trio.ports[0]}", "--phase", "produce",
           "--topic", topic, "--backend", "persisting", "--num-buckets", str(buckets),
           "--replication-factor", str(factor), "--tag", f"w{p}", "--batch-size", str(batch),
           "--record-size", str(SIZE), "--duration", str(duration), "--max-records", str(per)]
    if factor > 1:
        cmd += ["--acks", acks]
    for o in OPTIONS:
        cmd += ["--option", o]
    return cmd


def nats_cmd(bins, trio, stream, batch, p, duration, per):
    return [bins["nats_bench"], "--server", f"127.0.0.1:{trio.ports[p % 3]}", "--phase", "produce",
            "--stream", stream, "--storage", "file", "--replicas", "3", "--tag", f"w{p}",
            "--batch-size", str(batch), "--record-size", str(SIZE), "--duration", str(duration),
            "--max-records", str(per)]


def nats_ready(bins, trio, stream, deadline_s=60):
    """A clustered JetStream takes a few seconds to elect its meta leader, and a new R3 stream
    its own leader: publish one record into the stream until it works (bounded), so the
    producers' run starts on a stream that takes publishes."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            run_parallel([nats_cmd(bins, trio, stream, 1, 0, 2, 1)], timeout=30)
            return
        except RuntimeError as e:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nats cluster not ready after {deadline_s} s: {e}") from e
            time.sleep(0.5)


def persisting_ready(bins, trio, topic, factor, batch, buckets, acks):
    """Creates the run's topic and puts 200 records into it (every bucket gets some, and under
    acks=all every follower has joined), so that the timed run starts on a topic that takes puts,
    as nats_ready does for a stream."""
    run_parallel([persisting_cmd(bins, trio, topic, factor, batch, 9, 30, 200, buckets, acks)], timeout=60)


def drop(bins, trio, name):
    """Deletes a measured run's topic (stream), so that the next run is not also paying for the
    idle copies of every earlier one (a follower's replication rounds list every bucket it
    follows: docs/benchmarks.md, "Replication")."""
    if trio.kind == "persisting":
        cmd = [bins["persisting"], "topics", "delete", "--server", f"127.0.0.1:{trio.ports[0]}", "--topic", name]
    else:
        cmd = [bins["nats_bench"], "--server", f"127.0.0.1:{trio.ports[0]}", "--phase", "delete", "--stream", name]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"deleting {name} failed ({r.returncode}): {r.stderr.strip()[:300]}")


def produce(cmds, duration, attempts=1):
    """records/s of one run; a run that fails is logged and run again, up to attempts times
    (a loaded JetStream cluster may time out its stream API calls)."""
    for attempt in range(attempts):
        try:
            res = run_parallel(cmds, timeout=duration + 60)
            break
        except RuntimeError as e:
            if attempt + 1 == attempts:
                raise
            log(f"run failed, again: {str(e)[:300]}")
    n = sum(r["produced"] for r in res)
    secs = max(r["seconds"] for r in res)
    if n == 0 or secs <= 0:
        raise RuntimeError("nothing produced")
    return n / secs, n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=float, default=3.0, help="seconds per produce run")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--batches", default="20,100")
    ap.add_argument("--acks", default="all", choices=("all", "leader"),
                    help="the RF 3 producers' acks (leader: what the copies cost without waiting for them)")
    ap.add_argument("--buckets", type=int, default=BUCKETS, help="buckets (partitions) per topic")
    ap.add_argument("--idle-topics", type=int, default=0,
                    help="replicated topics that stay idle during the runs (each: --buckets buckets, RF 3, "
                         "200 records): what idle copies cost the busy ones")
    ap.add_argument("--json", help="also write every run here")
    a = ap.parse_args()
    bins = peers.find_bins(a.build, a.buckets, need_persisting=True)
    batches = [int(b) for b in a.batches.split(",")]
    root = tempfile.mkdtemp(prefix="persisting-replication-bench.", dir=os.environ.get("TMPDIR", "/tmp"))
    per = RUN_RECORDS // PRODUCERS
    runs = []  # dict(system, batch, rep, value, cpu_us): records/s, servers' CPU µs per record
    ours = theirs = None
    try:
        ours = Trio("persisting", bins, root)
        theirs = Trio("nats", bins, root)
        for i in range(a.idle_topics):
            persisting_ready(bins, ours, f"idle_{i}", 3, 100, a.buckets, a.acks)
        for rep in range(a.reps):
            for batch in batches:
                for system in ("persisting-rf1", "persisting-rf3", "nats-r3"):
                    name = f"{system.replace('-', '_')}_{batch}_{rep}"
                    trio = theirs if system == "nats-r3" else ours
                    if system == "nats-r3":
                        nats_ready(bins, theirs, name)
                        cmds = [nats_cmd(bins, theirs, name, batch, p, a.duration, per) for p in range(PRODUCERS)]
                    else:
                        factor = 3 if "rf3" in system else 1
                        persisting_ready(bins, ours, name, factor, batch, a.buckets, a.acks)
                        cmds = [persisting_cmd(bins, ours, name, factor, batch, p, a.duration, per, a.buckets, a.acks)
                                for p in range(PRODUCERS)]
                    cpu0 = trio.cpu_seconds()
                    v, n = produce(cmds, a.duration, attempts=3 if system == "nats-r3" else 1)
                    cpu_us = (trio.cpu_seconds() - cpu0) / n * 1e6
                    drop(bins, trio, name)
                    log(f"rep {rep + 1}: {system} batch {batch}: {v:,.0f} records/s, servers' CPU {cpu_us:.0f} µs/record")
                    runs.append(dict(system=system, batch=batch, rep=rep, value=v, cpu_us=cpu_us))
    finally:
        for t in (ours, theirs):
            if t:
                t.stop()
        shutil.rmtree(root, ignore_errors=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(runs, f, indent=1)
    med, cpu = {}, {}
    for r in runs:
        med.setdefault((r["system"], r["batch"]), []).append(r["value"])
        cpu.setdefault((r["system"], r["batch"]), []).append(r["cpu_us"])
    med = {k: statistics.median(v) for k, v in med.items()}
    cpu = {k: statistics.median(v) for k, v in cpu.items()}
    load = os.getloadavg()[0]
    print(f"bench/replication.py --reps {a.reps} --duration {a.duration} "
          f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {load:.1f}); "
          f"{SIZE} B records, {PRODUCERS} producer processes, {a.buckets} buckets/partitions; medians of {a.reps}"
          + (f"; {a.idle_topics} idle RF 3 topics of {a.buckets} buckets on the nodes" if a.idle_topics else ""))
    print()
    print(f"| batch | persisting RF 1 | persisting RF 3 acks={a.acks} | nats R3 (file) | RF3 / RF1 | RF3 / nats R3 "
          "| servers' CPU µs/record: RF 1, RF 3, nats R3 |")
    print("|---|---|---|---|---|---|---|")
    for b in batches:
        keys = [(s, b) for s in ("persisting-rf1", "persisting-rf3", "nats-r3")]
        r1, r3, n3 = (med[k] for k in keys)
        c1, c3, cn = (cpu[k] for k in keys)
        print(f"| {b} | {r1:,.0f}/s | {r3:,.0f}/s | {n3:,.0f}/s | {r3 / r1:.2f} | {r3 / n3:.2f} "
              f"| {c1:.0f}, {c3:.0f}, {cn:.0f} |")


if __name__ == "__main__":
    sys.exit(main())
