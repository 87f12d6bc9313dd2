#!/usr/bin/python3
"""bench/buckets.py: what the number of buckets costs (the targets of issue 15).

Not a test. Every figure is a ratio against a baseline measured in the same run (a topic of 16
buckets), except the absolute thread count and the per-bucket memory, which the targets state as
absolutes. Durable buckets throughout (`persisting` backend, wal_sync_mode=interval, except where
the rate row says always).

  rate      `persisting bench --backend persisting` (batch 100, 0 B): produce records/s with 1,024
            buckets / records/s with 16, three times: the command exactly as the issue writes it
            (the bench's defaults: 1 producer and 1 consumer running together, and the backend's
            default wal_sync_mode, always), the same under interval (no fdatasync to hide the
            per-bucket CPU), and 4 producers with no consumer under interval.  Target: >= 0.5.
  cli-put   `persisting put` of 20,000 records into a new topic, process start to exit (the clean
            close included): seconds with 1,024 buckets / seconds with 16.  Target: <= 3.
  idle      a `persisting put` kept alive (its input is a pipe left open) after writing to every
            bucket of a topic of 10,000 buckets, then idle; and a `persisting get --follow` over
            the same buckets once it has printed every record: threads (target: <= 2 x cores + 8)
            and RSS per open bucket ((RSS(10,000) - RSS(16)) / 9,984; target: <= 64 KiB).
            Also the time the writer takes to exit once its input closes (the clean close).
  recovery  a process puts 1,000,000 records (0 B) into 1,000 buckets with flushes off and is
            killed (SIGKILL) once every put is acknowledged; then `persisting stats` opens the topic
            in a new process: seconds to open and recover (target: <= 1.5 s), records/s.

Prints one Markdown table (progress goes to stderr).
Usage: bench/buckets.py [--build DIR] [--reps N] [--only rate,cli-put,idle,recovery] [--quick]
Every load is bounded in records and seconds; files go to a fresh temporary directory.
"""

import argparse
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
DURABLE = ["--backend", "persisting", "--option", "wal_sync_mode=interval"]


def cli(build):
    return os.path.join(build, "apps", "persisting")


def lines(n, start=0):
    return "".join(json.dumps({"id": "k%d" % i, "idx": i}) + "\n" for i in range(start, start + n))


def proc_status(pid):
    """Threads and VmRSS (KiB) of a live process."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Threads", "VmRSS"):
                out[key] = int(value.split()[0])
    return out


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def wait_idle(pid, limit_s):
    """Until the process used no CPU for a second (or limit_s passed); True if idle."""
    deadline = time.monotonic() + limit_s
    last = cpu_ticks(pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = cpu_ticks(pid)
        if now == last:
            return True
        last = now
    return False


def bench_rate(build, buckets, seconds, producers=4, consumers=0, sync="interval"):
    out = subprocess.run([cli(build), "bench", "--backend", "persisting", "--option", "wal_sync_mode=" + sync,
                          "--num-buckets", str(buckets), "--producers", str(producers), "--consumers", str(consumers),
                          "--batch-size", "100", "--duration", str(seconds), "--json"],
                         check=True, capture_output=True, text=True, timeout=seconds * 20 + 120).stdout
    row = json.loads(out.strip().splitlines()[-1])
    return row["produce_records_per_s"]


def cli_put(build, workdir, buckets, n):
    data = os.path.join(workdir, "put-%d" % buckets)
    shutil.rmtree(data, ignore_errors=True)
    src = os.path.join(workdir, "lines.jsonl")
    with open(src, "w") as f:
        f.write(lines(n))
    t0 = time.monotonic()
    subprocess.run([cli(build), "put", "--data-dir", data, "--topic", "t", "--num-buckets", str(buckets)] +
                   DURABLE + [src], check=True, stdout=subprocess.DEVNULL, timeout=600)
    took = time.monotonic() - t0
    shutil.rmtree(data, ignore_errors=True)
    return took


def idle(build, workdir, buckets, n):
    """Writer kept open after writing n records, then a follower: threads, RSS, close time."""
    data = os.path.join(workdir, "idle-%d" % buckets)
    shutil.rmtree(data, ignore_errors=True)
    put = subprocess.Popen([cli(build), "put", "--data-dir", data, "--topic", "t", "--num-buckets", str(buckets),
                            "--batch-size", "1000"] + DURABLE + ["-"],
                           stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    result = {}
    try:
        put.stdin.write(lines(n))  # n is a multiple of the batch size: every line goes out
        put.stdin.flush()
        result["writer_idle"] = wait_idle(put.pid, 600)
        st = proc_status(put.pid)
        result["writer_threads"], result["writer_rss_kib"] = st["Threads"], st["VmRSS"]
        t0 = time.monotonic()
        put.stdin.close()
        put.wait(timeout=600)
        result["writer_close_s"] = time.monotonic() - t0
    finally:
        if put.poll() is None:
            put.kill()
            put.wait()
    out_path = os.path.join(workdir, "follow.out")
    with open(out_path, "w") as out:
        get = subprocess.Popen([cli(build), "get", "--data-dir", data, "--topic", "t", "--from-beginning",
                                "--follow"], stdout=out, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                with open(out_path) as f:
                    if sum(1 for _ in f) >= n:
                        break
                time.sleep(0.5)
            result["reader_idle"] = wait_idle(get.pid, 120)
            st = proc_status(get.pid)
            result["reader_threads"], result["reader_rss_kib"] = st["Threads"], st["VmRSS"]
        finally:
            get.send_signal(signal.SIGTERM)
            try:
                get.wait(timeout=60)
            except subprocess.TimeoutExpired:
                get.kill()
                get.wait()
    shutil.rmtree(data, ignore_errors=True)
    return result


KILLED_WRITER = r"""
import os, signal, sys
sys.path.insert(0, sys.argv[1])
import persisting
data, buckets, n = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
system = persisting.open(data)
import asyncio
writer = asyncio.run(system.queue.write("t", num_buckets=buckets, backend="persisting",
    backend_options={"wal_sync_mode": "interval", "flush_interval": 0, "flush_threshold": 100000000,
                     "flush_bytes": "1G", "max_wal_size": "4G"})).sync()
batch = 1000
for start in range(0, n, batch):
    writer.put([{"id": "k%d" % i, "idx": i} for i in range(start, start + batch)])
sys.stdout.write("acknowledged\n")
sys.stdout.flush()
os.kill(os.getpid(), signal.SIGKILL)
"""


def recovery(build, workdir, buckets, n):
    data = os.path.join(workdir, "recovery")
    shutil.rmtree(data, ignore_errors=True)
    w = subprocess.run([sys.executable, "-c", KILLED_WRITER, os.path.join(build, "python"), data, str(buckets), str(n)],
                       capture_output=True, text=True, timeout=900)
    if "acknowledged" not in w.stdout:
        raise RuntimeError("the writer did not finish: " + w.stderr[-2000:])
    subprocess.run(["sync"], check=True)
    t0 = time.monotonic()
    out = subprocess.run([cli(build), "stats", "--data-dir", data, "--topic", "t"], check=True, capture_output=True,
                         text=True, timeout=900).stdout
    took = time.monotonic() - t0
    total = json.loads(out).get("total_count")
    shutil.rmtree(data, ignore_errors=True)
    return {"seconds": took, "records": total}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", default="rate,cli-put,idle,recovery")
    ap.add_argument("--quick", action="store_true", help="one repetition, shorter runs")
    ap.add_argument("--idle-buckets", type=int, default=10000, help="buckets of the idle test (the target's: 10,000)")
    args = ap.parse_args()
    reps = 1 if args.quick else args.reps
    only = set(args.only.split(","))
    work = tempfile.mkdtemp(prefix="persisting-buckets-")
    cores = os.cpu_count() or 1
    rows = []  # (measure, with 16 buckets, with N, ratio or per bucket, target, met)

    def row(measure, small, big, result, target, met):
        rows.append((measure, small, big, result, target, "yes" if met else "**no**"))

    try:
        if "rate" in only:
            secs = 2 if args.quick else 5
            # The command as written (the bench's own defaults: 1 producer, 1 consumer at
            # once, and the backend's default sync, always), the same under interval, then 4
            # producers and no consumer, where the parts of concurrent puts meet.
            for producers, consumers, sync in ((1, 1, "always"), (1, 1, "interval"), (4, 0, "interval")):
                small, big = [], []
                for _ in range(reps):  # alternate so noise hits both
                    small.append(bench_rate(args.build, 16, secs, producers, consumers, sync))
                    big.append(bench_rate(args.build, 1024, secs, producers, consumers, sync))
                a, b = statistics.median(small), statistics.median(big)
                who = "%d producer%s, %d consumer%s, %s" % (producers, "s" if producers > 1 else "", consumers,
                                                          "s" if consumers != 1 else "",
                                                          "always (the default)" if sync == "always" else sync)
                row("`persisting bench` produce records/s, %s, 1,024 buckets (runs: %d of %d s each)" % (who, reps, secs),
                    f"{a:,.0f}", f"{b:,.0f}", f"{b / a:.2f} of 16", ">= 0.50 of 16", b / a >= 0.5)
        if "cli-put" in only:
            small, big = [], []
            for _ in range(reps):
                small.append(cli_put(args.build, work, 16, 20000))
                big.append(cli_put(args.build, work, 1024, 20000))
            a, b = statistics.median(small), statistics.median(big)
            row("`persisting put` of 20,000 records, start to exit, 1,024 buckets (runs: %d)" % reps,
                f"{a:.2f} s", f"{b:.2f} s", f"{b / a:.2f}x 16", "<= 3x 16", b / a <= 3)
        if "idle" in only:
            n = 50000
            many = args.idle_buckets
            small = idle(args.build, work, 16, n)
            big = idle(args.build, work, many, n)
            for who in ("writer", "reader"):
                what = "a writer kept open" if who == "writer" else "`get --follow` once idle"
                quiet = "" if big[who + "_idle"] and small[who + "_idle"] else " (not idle within the limit)"
                row(f"threads, {what}, {many:,} buckets{quiet}", str(small[who + "_threads"]),
                    str(big[who + "_threads"]), "", f"<= 2 x cores + 8 = {2 * cores + 8}",
                    big[who + "_threads"] <= 2 * cores + 8)
                per = (big[who + "_rss_kib"] - small[who + "_rss_kib"]) / (many - 16)
                row(f"RSS, {what}, {many:,} buckets{quiet}", f"{small[who + '_rss_kib'] / 1024:.0f} MiB",
                    f"{big[who + '_rss_kib'] / 1024:.0f} MiB", f"{per:.1f} KiB per bucket", "<= 64 KiB per bucket",
                    per <= 64)
            rows.append((f"the writer's exit once its input closes, {many:,} buckets", f"{small['writer_close_s']:.2f} s",
                         f"{big['writer_close_s']:.2f} s", "", "", ""))
        if "recovery" in only:
            buckets, n = 1000, 100000 if args.quick else 1000000
            r = recovery(args.build, work, buckets, n)
            row(f"reopen after kill -9: {buckets:,} buckets, {n:,} unflushed records (found: {r['records']})", "",
                f"{r['seconds']:.2f} s", f"{n / r['seconds']:,.0f} records/s", "<= 1.5 s",
                r["seconds"] <= 1.5 and r["records"] == n)
        print("| measure | 16 buckets | the measure's bucket count | result | target | met |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
