#!/usr/bin/env bash
# The Lance flush benchmark of issue 3: append ROWS rows {id, idx, 256 B payload, 128-dim
# float32 vector} in flushes of 1,000 rows, through Persisting's LanceDataset (lance_tool bench,
# with and without fsync) and through LanceDB 0.31's table.add() of the same batches (Node), in
# the same run on the same disk, REPS times each, interleaved. Prints a Markdown table with the
# medians and the ratios. LanceDB does not fsync on a local file system, so "sync off" is the
# like-for-like comparison; "sync on" is Persisting's power-loss-safe default.
# Usage: bench/lance.sh [LANCE_TOOL] [ROWS] [REPS]      (needs tests/lance/interop/node_modules)
# LANCE_BENCH_DIR picks the file system (default $TMPDIR or /tmp). On this project's shared VMs
# the disk's dirty-page writeback throttles any writer of ~800 MB, so for the software's own cost
# run it on tmpfs as well (LANCE_BENCH_DIR=/dev/shm) and report both.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOL=${1:-build/tests/lance/lance_tool}
ROWS=${2:-1000000}
REPS=${3:-3}
[ -d tests/lance/interop/node_modules ] || (cd tests/lance/interop && npm ci --no-audit --no-fund --loglevel=error >&2)
work=$(mktemp -d -p "${LANCE_BENCH_DIR:-${TMPDIR:-/tmp}}")
out="$work/results.jsonl"
trap 'rm -rf "$work"' EXIT
for rep in $(seq "$REPS"); do
  for who in persisting-nosync lancedb persisting-sync; do
    d="$work/$who-$rep"
    case $who in
      persisting-nosync) r=$("$TOOL" bench "$d/t.lance" --rows "$ROWS" --flush 1000 --sync 0) ;;
      persisting-sync) r=$("$TOOL" bench "$d/t.lance" --rows "$ROWS" --flush 1000 --sync 1) ;;
      lancedb) r=$(LANCE_INCLUDE_VECTOR_CENTROIDS=false node bench/lance/lancedb_add.mjs "$d" "$ROWS" 1000 128 256) ;;
    esac
    echo "{\"who\":\"$who\",\"result\":$r}" >> "$out"
    # Datasets stay until the end: deleting ~4,000 files here would slow the next writer's
    # file creations on ext4 without a journal (it skips inodes freed in the last ~30 s).
  done
done
python3 - "$out" "$ROWS" "$(df --output=fstype "$work" | tail -1) ($work)" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
med = lambda who, k: statistics.median(r["result"][k] for r in rows if r["who"] == who)
base = med("lancedb", "rows_per_s")
print(f"{int(sys.argv[2]):,} rows in flushes of 1,000 in {sys.argv[3]}; median of {sum(r['who'] == 'lancedb' for r in rows)} runs each")
print()
print("| writer | rows/s | flush ms at 10k rows | flush ms at the end | end / 10k | CPU end / 10k | rows/s vs LanceDB add() |")
print("|---|---|---|---|---|---|---|")
for who in ("persisting-nosync", "persisting-sync", "lancedb"):
    cpu = f"{med(who, 'cpu_end_over_10k'):.2f}" if who != "lancedb" else "n/a"
    print(f"| {who} | {med(who, 'rows_per_s'):,.0f} | {med(who, 'flush_ms_at_10k'):.2f} | {med(who, 'flush_ms_at_end'):.2f} "
          f"| {med(who, 'end_over_10k'):.2f} | {cpu} | {med(who, 'rows_per_s') / base:.2f}x |")
PY
