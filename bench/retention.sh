#!/usr/bin/env bash
# Issue 17's retention benchmarks, `persisting bench --backend persisting` with 4 producers into
# 4 buckets, batches of 100 records of 100 B, no consumers, retention_records=100,000 per bucket:
#  (a) disk use: RECORDS records in all; the data dir's bytes on disk (at the end and at the peak
#      sampled once a second) against the Lance data the buckets still hold, with
#      version_retention=0 (old versions go with the flush that replaced them), once with the
#      node log's default max_wal_size (100M) and once with 32M, and with the default 3600 s;
#      "peak without the WAL" is the topic directory alone (the node log in <data dir>/.wal has a
#      bounded size of its own: max_wal_size);
#  (b) produce rate with retention against the same run without it, REPS alternating pairs of
#      RECORDS/2 records each (both with version_retention=0), with compaction after flushes as
#      by default and with it off (compaction_min_fragments=0: retention's own cost alone).
# Usage: bench/retention.sh [BIN] [RECORDS] [REPS] [DATA_DIR]
set -euo pipefail
BIN=${1:-build/apps/persisting}
RECORDS=${2:-5000000}
REPS=${3:-3}
DIR=${4:-$(mktemp -d)}
out=$(mktemp)
run() {  # tag, records in all, then extra flags
  local tag=$1 n=$2
  shift 2
  rm -rf "$DIR/run"
  "$BIN" bench --backend persisting --data-dir "$DIR/run" --producers 4 --consumers 0 --num-buckets 4 \
    --batch-size 100 --record-size 100 --duration 600 --max-records $((n / 4)) --json "$@" |
    sed "s/^{/{\"tag\":\"$tag\",/" >> "$out"
}
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
run disk-v0 "$RECORDS" --retention-records 100000 --option version_retention=0
run disk-v0-wal32 "$RECORDS" --retention-records 100000 --option version_retention=0 --option max_wal_size=32M
run disk-v3600 "$RECORDS" --retention-records 100000
for rep in $(seq "$REPS"); do
  for c in 8 0; do
    run rate-without-c$c $((RECORDS / 2)) --option version_retention=0 --option compaction_min_fragments=$c
    run rate-with-c$c $((RECORDS / 2)) --retention-records 100000 --option version_retention=0 \
      --option compaction_min_fragments=$c
  done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
rm -rf "$DIR/run"
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| version_retention | max_wal_size | records written | retained records | retained data MB | data dir MB at the end (peak) | disk / retained at the end (peak) | peak without the WAL |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    if not r["tag"].startswith("disk"):
        continue
    v = "3600 (default)" if r["tag"] == "disk-v3600" else "0"
    w = "32M" if r["tag"].endswith("wal32") else "100M (default)"
    print(f"| {v} | {w} | {r['produced']:,} | {r['retained_records']:,} | {r['retained_data_bytes']/1e6:.1f} "
          f"| {r['disk_bytes']/1e6:.1f} ({r['peak_disk_bytes']/1e6:.1f}) "
          f"| {r['disk_to_retained']:.2f}x ({r['peak_disk_to_retained']:.2f}x) "
          f"| {r['peak_topic_disk_bytes']/r['retained_data_bytes']:.2f}x |")
print()
print("| compaction after flushes | pair | without retention, records/s | with retention, records/s | with / without |")
print("|---|---|---|---|---|")
for c, name in (("8", "on (default)"), ("0", "off")):
    w = [r for r in rows if r["tag"] == "rate-with-c" + c]
    wo = [r for r in rows if r["tag"] == "rate-without-c" + c]
    ratios = []
    for i, (a, b) in enumerate(zip(wo, w)):
        ratios.append(b["produce_records_per_s"] / a["produce_records_per_s"])
        print(f"| {name} | {i + 1} | {a['produce_records_per_s']/1e3:.0f}k | {b['produce_records_per_s']/1e3:.0f}k "
              f"| {ratios[-1]:.2f} |")
    print(f"| {name} | median | {statistics.median(r['produce_records_per_s'] for r in wo)/1e3:.0f}k "
          f"| {statistics.median(r['produce_records_per_s'] for r in w)/1e3:.0f}k | **{statistics.median(ratios):.2f}** |")
PY
rm -f "$out"
