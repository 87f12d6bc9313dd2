#!/usr/bin/env bash
# The durable-backend benchmark of issue 4: `persisting bench --backend persisting` with 4
# producers, batches of 20 and 100, records of 0 and 256 B, under wal_sync_mode always and
# interval, with 1 and 4 puts in flight per producer. Each run also measures this disk's fdatasync
# rate and sequential write bandwidth (cmd_bench.cc) and reports against them.
# Usage: bench/durable.sh [BIN] [REPS] [DURATION_S] [DATA_DIR]
set -euo pipefail
BIN=${1:-build/apps/persisting}
REPS=${2:-1}
DUR=${3:-5}
DIR=${4:-$(mktemp -d)}
out=$(mktemp)
for mode in always interval; do
  for inflight in 1 4; do
    for batch in 20 100; do
      for size in 0 256; do
        for rep in $(seq "$REPS"); do
          rm -rf "$DIR/run"
          "$BIN" bench --backend persisting --data-dir "$DIR/run" --producers 4 --consumers 2 \
            --batch-size "$batch" --record-size "$size" --duration "$DUR" --inflight "$inflight" \
            --option wal_sync_mode="$mode" --json | sed "s/^{/{\"mode\":\"$mode\",/" >> "$out"
        done
      done
    done
  done
done
rm -rf "$DIR/run"
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| sync | in flight | batch | record | produced/s (median) | consumed/s | put p50 / p99 µs | disk fdatasync/s | records per fdatasync | MB/s vs disk seq. |")
print("|---|---|---|---|---|---|---|---|---|---|")
keys = sorted({(r["mode"], r["inflight"], r["batch_size"], r["record_size"]) for r in rows})
for k in keys:
    rs = [r for r in rows if (r["mode"], r["inflight"], r["batch_size"], r["record_size"]) == k]
    m = lambda f: statistics.median(r[f] for r in rs)
    print(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} B | {m('produce_records_per_s')/1e3:.0f}k | {m('consume_records_per_s')/1e3:.0f}k "
          f"| {m('put_p50_us'):.0f} / {m('put_p99_us'):.0f} | {m('disk_fsyncs_per_s'):.0f} | {m('produce_records_per_fsync'):.0f} "
          f"| {100*m('produce_fraction_of_seq_write'):.0f}% |")
PY
rm -f "$out"
