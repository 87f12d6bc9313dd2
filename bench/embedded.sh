#!/usr/bin/env bash
# The embedded-core benchmark of issue 2: `persisting bench --backend memory --producers 2
# --consumers 2 --batch-size 100` with record size 0 and 256, each run REPS times (default 3).
# Prints a Markdown table with min / median / max and the ratio to the codec baseline that each
# run measures first (build + encode + decode the same records, no queue: see cmd_bench.cc).
# Usage: bench/embedded.sh [BIN] [REPS] [DURATION_S]
set -euo pipefail
BIN=${1:-build/apps/persisting}
REPS=${2:-3}
DUR=${3:-5}
out=$(mktemp)
for size in 0 256; do
  for rep in $(seq "$REPS"); do
    "$BIN" bench --backend memory --producers 2 --consumers 2 --batch-size 100 \
      --record-size "$size" --duration "$DUR" --json >> "$out"
  done
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| record size | produced/s min / median / max | consumed/s min / median / max | codec baseline/s (median) | produce / baseline | consume / baseline | put p50 / p99 µs (median) |")
print("|---|---|---|---|---|---|---|")
for size in sorted({r["record_size"] for r in rows}):
    rs = [r for r in rows if r["record_size"] == size]
    f = lambda k: sorted(r[k] for r in rs)
    m = lambda k: statistics.median(r[k] for r in rs)
    p, c = f("produce_records_per_s"), f("consume_records_per_s")
    print(f"| {size} B | {p[0]/1e6:.2f}M / {statistics.median(p)/1e6:.2f}M / {p[-1]/1e6:.2f}M "
          f"| {c[0]/1e6:.2f}M / {statistics.median(c)/1e6:.2f}M / {c[-1]/1e6:.2f}M "
          f"| {m('codec_baseline_records_per_s')/1e6:.2f}M | {m('produce_ratio_to_baseline'):.2f} "
          f"| {m('consume_ratio_to_baseline'):.2f} | {m('put_p50_us'):.0f} / {m('put_p99_us'):.0f} |")
PY
rm -f "$out"
