#!/usr/bin/env bash
# Cluster benchmark: one persistingd (memory backend) and client processes on loopback, batch
# 100, record sizes 0 and 256. Measures produce (P client processes), consume (4 rank/world_size
# consumer processes) and blocking-read wake-up latency, and in the same run the embedded queue
# (`persisting bench`, in-process, 4 producers + 4 consumers) and its codec baseline (build, encode
# and decode the same records with no queue) as the baselines the ratios are taken against.
# Usage: bench/cluster.sh [build-dir=build] [seconds=5] [producer-processes=4]
# Prints a Markdown table for docs/benchmarks.md (and the raw JSON lines on stderr).
set -euo pipefail
BUILD=${1:-build}; DUR=${2:-5}; PROCS=${3:-4}
BIN=$BUILD/apps
PY=/usr/bin/python3
work=$(mktemp -d); trap 'kill $node 2>/dev/null || true; rm -rf "$work"' EXIT
port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sum() { $PY -c 'import sys,json; r=[json.loads(l) for l in open(sys.argv[1])]; print(sum(x[sys.argv[2]] for x in r))' "$@"; }
field() { $PY -c 'import sys,json; print(json.loads(open(sys.argv[1]).readline())[sys.argv[2]])' "$@"; }
rate() {  # file: sum(consumed) / max(seconds)
  $PY -c 'import sys,json; r=[json.loads(l) for l in open(sys.argv[1])]; print(sum(x["consumed"] for x in r)/max(x["seconds"] for x in r))' "$1"; }

echo "| record | codec baseline | embedded produce | cluster produce | cluster / embedded | cluster consume (4) | consume / baseline | wake-up p50 | wake-up p99 |"
echo "|---|---|---|---|---|---|---|---|---|"
for size in 0 256; do
  # Baseline, same run: the embedded queue in one process (4 producers, 4 consumers).
  $BIN/persisting bench --backend memory --producers "$PROCS" --consumers 4 --batch-size 100 \
    --record-size "$size" --duration "$DUR" --num-buckets 16 --json > "$work/embedded.json"
  p=$(port)
  $BIN/persistingd --id n1 --listen 127.0.0.1:$p > "$work/node.log" 2>&1 & node=$!
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.05; done
  : > "$work/produce.json"
  for i in $(seq "$PROCS"); do
    $BIN/persisting bench --server 127.0.0.1:$p --phase produce --tag "c$i" --producers 1 --batch-size 100 \
      --record-size "$size" --duration "$DUR" --num-buckets 16 >> "$work/produce.json" &
  done
  wait $(jobs -p | grep -v "^$node$") 2>/dev/null || true
  : > "$work/consume.json"
  for r in 0 1 2 3; do
    $BIN/persisting bench --server 127.0.0.1:$p --phase consume --rank $r --world-size 4 --fetch 1000 \
      >> "$work/consume.json" &
  done
  wait $(jobs -p | grep -v "^$node$") 2>/dev/null || true
  $BIN/persisting bench --server 127.0.0.1:$p --phase wakeup --samples 500 > "$work/wakeup.json"
  kill $node; wait $node 2>/dev/null || true
  ep=$(field "$work/embedded.json" produce_records_per_s); ec=$(field "$work/embedded.json" codec_baseline_records_per_s)
  cp=$(sum "$work/produce.json" records_per_s); cc=$(rate "$work/consume.json")
  w50=$(field "$work/wakeup.json" p50_us); w99=$(field "$work/wakeup.json" p99_us)
  $PY - "$size" "$ep" "$cp" "$ec" "$cc" "$w50" "$w99" <<'PY'
import sys
s, ep, cp, ec, cc, w50, w99 = sys.argv[1], *map(float, sys.argv[2:])  # ec: codec baseline
print(f"| {s} B | {ec:,.0f}/s | {ep:,.0f}/s | {cp:,.0f}/s | {cp/ep:.2f} | {cc:,.0f}/s | {cc/ec:.2f} | {w50:.0f} µs | {w99:.0f} µs |")
PY
  cat "$work/embedded.json" "$work/produce.json" "$work/consume.json" "$work/wakeup.json" >> "$work/raw.jsonl"
done
echo "raw:" >&2
cat "$work/raw.jsonl" >&2
