#!/usr/bin/env bash
# What background compaction after flushes (docs/compaction.md, issue 17) costs a writer: `persisting
# bench --batch-size 1000 --duration DUR` with compaction on (the default) and off
# (compaction_min_fragments=0), alternating REPS pairs in the same run, for the `lance` backend (a
# fragment per 1,000 records per bucket, compacted inside the put that flushes: the worst case)
# and the default `persisting` backend (compaction on the shared pool).
# Prints a Markdown table: produce records/s (median) per row and with / without (median of the
# pairs' ratios).
# Usage: bench/compaction.sh [BIN] [REPS] [DURATION_S]
set -euo pipefail
BIN=${1:-build/apps/persisting}
REPS=${2:-3}
DUR=${3:-4}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
out=$TMP/rows.jsonl
for backend in lance persisting; do
  for rep in $(seq "$REPS"); do
    for compaction in on off; do
      extra=()
      [ "$compaction" = off ] && extra=(--option compaction_min_fragments=0)
      rm -rf "$TMP/d"
      "$BIN" bench --backend "$backend" --batch-size 1000 --data-dir "$TMP/d" --duration "$DUR" --json "${extra[@]}" \
        | sed "s/^{/{\"compaction\":\"$compaction\",\"rep\":$rep,/" >> "$out"
    done
  done
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| backend | compaction after flushes | produce records/s per run | median | with / without (median of pairs) |")
print("|---|---|---|---|---|")
for backend in ("lance", "persisting"):
    on = {r["rep"]: r["produce_records_per_s"] for r in rows if r["backend"] == backend and r["compaction"] == "on"}
    off = {r["rep"]: r["produce_records_per_s"] for r in rows if r["backend"] == backend and r["compaction"] == "off"}
    ratio = statistics.median(on[k] / off[k] for k in on)
    for name, runs in (("on (default)", on), ("off", off)):
        vals = " / ".join(f"{runs[k]:,.0f}" for k in sorted(runs))
        print(f"| {backend}, batch 1000 | {name} | {vals} | {statistics.median(runs.values()):,.0f} | "
              + (f"**{ratio:.2f}**" if name == "on (default)" else "") + " |")
PY
