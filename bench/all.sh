#!/usr/bin/env bash
# Runs every benchmark and writes each one's table into docs/benchmarks.md (bench/report.py), one
# after another on this machine. Needs a release build in build/ (the README's build), and
# `bash scripts/setup-bench.sh` (redis-server, nats-server, etcd, gnuplot, LanceDB through npm).
# Takes about an hour on the 2-core VM. A benchmark that fails leaves its table as it was, and the
# script goes on with the next one; the exit status says whether any failed.
# Usage: bench/all.sh [NAME...]     (default: every benchmark; names as in bench/report.py --list)
set -uo pipefail
cd "$(dirname "$0")/.."
# Each benchmark's name (as in bench/report.py --list) and its command, in the order they run.
BENCHES='
embedded     bench/embedded.sh build/apps/persisting 3 5
durable      bench/durable.sh build/apps/persisting 1 3
lance        bench/lance.sh build/tests/lance/lance_tool 1000000 3
compaction   bench/compaction.sh build/apps/persisting 3 4
buckets      bench/buckets.py --reps 3
cluster      bench/cluster.sh build 5 4
peers        bench/peers --quick --reps 2 --docs
python       bench/python/bench.py --records 200000
groups       bench/groups.sh build 3 3
retention    bench/retention.sh build/apps/persisting 5000000 2
backup       bench/backup.sh build/apps/persisting 200 3
replication  bench/replication.py --reps 2 --duration 3
failover     bench/failover.py --kills 20 --ttl 2
'
declare -A CMD=()
ORDER=()
while read -r name cmd; do
  [ -n "$name" ] || continue
  CMD[$name]=$cmd
  ORDER+=("$name")
done <<< "$BENCHES"
[ $# -gt 0 ] && ORDER=("$@")
failed=()
for name in "${ORDER[@]}"; do
  if [ -z "${CMD[$name]:-}" ]; then echo "bench/all.sh: no benchmark '$name' (${!CMD[*]})" >&2; exit 2; fi
  echo "bench/all.sh: $name: ${CMD[$name]}" >&2
  # shellcheck disable=SC2086
  python3 bench/report.py --docs "$name" -- ${CMD[$name]} > /dev/null || failed+=("$name")
done
if [ ${#failed[@]} -gt 0 ]; then echo "bench/all.sh: failed: ${failed[*]}" >&2; exit 1; fi
