#!/usr/bin/env bash
# Consumer groups (issue 16): the consume rate of group readers against plain readers, measured
# alternately in the same run, embedded and over gRPC, and the commit rate and latency when a
# reader commits after every get (the topic under wal_sync_mode=always).
#   embedded: `persisting bench --consume-after` (producers fill the topic, then the consumers
#             read it alone), 2 producers x batch 100, 2 consumers (ranks), 256 B records;
#   remote:   a persistingd this script starts on a free loopback port; `bench --server --phase
#             produce` fills a topic, then `--phase consume` reads it all, plain or as a group.
# Rows: plain; group with the default auto-commit (5 s); group auto-committing every 100 ms; group
# committing after every get. Each ratio is the median of the per-repetition ratios to the plain
# row of the same repetition.
# Usage: bench/groups.sh [BUILD_DIR] [REPS] [DURATION_S]
set -euo pipefail
BUILD=${1:-build}
REPS=${2:-3}
DUR=${3:-3}
BIN=$BUILD/apps/persisting
NODE=$BUILD/apps/persistingd
TMP=$(mktemp -d)
NODE_PID=
cleanup() {
  if [ -n "$NODE_PID" ]; then kill "$NODE_PID" 2>/dev/null || true; wait "$NODE_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
out=$TMP/rows.jsonl

variant_args() {  # variant -> extra bench flags
  case $1 in
    plain) ;;
    group) echo "--group g$RANDOM" ;;
    group-100ms) echo "--group g$RANDOM --auto-commit-interval 0.1" ;;
    commit-each-get) echo "--group g$RANDOM --commit-each-get" ;;
  esac
}

# Embedded, memory and persisting (always).
for backend in memory persisting; do
  for rep in $(seq "$REPS"); do
    for v in plain group group-100ms commit-each-get; do
      rm -rf "$TMP/e"
      # shellcheck disable=SC2046
      "$BIN" bench --backend "$backend" --data-dir "$TMP/e" --producers 2 --consumers 2 --batch-size 100 \
        --record-size 256 --duration "$DUR" --consume-after --json $(variant_args "$v") \
        | sed "s/^{/{\"where\":\"embedded-$backend\",\"variant\":\"$v\",\"rep\":$rep,/" >> "$out"
    done
  done
done

# Remote: one node, a durable topic (always) filled once per repetition.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$NODE" --id n1 --listen "127.0.0.1:$port" --data-dir "$TMP/node" --log-level warning 2> "$TMP/node.log" &
NODE_PID=$!
for _ in $(seq 200); do
  if "$BIN" topics --server "127.0.0.1:$port" > /dev/null 2>&1; then break; fi
  sleep 0.05
done
for rep in $(seq "$REPS"); do
  topic=bench$rep
  "$BIN" bench --server "127.0.0.1:$port" --phase produce --topic "$topic" --producers 2 --batch-size 100 \
    --record-size 256 --duration "$DUR" --max-records 200000 --backend persisting > /dev/null
  for v in plain group group-100ms commit-each-get; do
    # shellcheck disable=SC2046
    "$BIN" bench --server "127.0.0.1:$port" --phase consume --topic "$topic" --duration 60 $(variant_args "$v") \
      | sed "s/^{/{\"where\":\"remote-persisting\",\"variant\":\"$v\",\"rep\":$rep,/" >> "$out"
  done
done

python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def rate(r):
    return r.get("consume_records_per_s", r.get("records_per_s", 0.0))
print("| where | readers | consumed/s (median) | x plain (median of pairs) | commits/s | commit p50 / p99 µs |")
print("|---|---|---|---|---|---|")
for where in sorted({r["where"] for r in rows}):
    plain = {r["rep"]: rate(r) for r in rows if r["where"] == where and r["variant"] == "plain"}
    for v in ["plain", "group", "group-100ms", "commit-each-get"]:
        rs = [r for r in rows if r["where"] == where and r["variant"] == v]
        if not rs:
            continue
        ratios = [rate(r) / plain[r["rep"]] for r in rs if plain.get(r["rep"])]
        commits = [r for r in rs if "commits" in r]
        c = "-"
        lat = "-"
        if commits:
            c = f"{statistics.median(r['commits_per_s'] for r in commits):,.0f}"
            lat = (f"{statistics.median(r['commit_p50_us'] for r in commits):,.0f} / "
                   f"{statistics.median(r['commit_p99_us'] for r in commits):,.0f}")
        print(f"| {where} | {v} | {statistics.median(rate(r) for r in rs):,.0f} | "
              f"{statistics.median(ratios):.2f} | {c} | {lat} |")
PY
