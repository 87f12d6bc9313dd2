#!/usr/bin/env bash
# Backup bandwidth (issue 17): writes MB megabytes of records into a topic (persisting backend,
# 4 buckets, 1 KB records), lets `put` flush them, then alternates REPS times between
#   A: dd of the same number of bytes, sequential, ending with fdatasync (the disk's bandwidth), and
#   B: `persisting backup` of the topic into a fresh directory on the same file system,
# and prints each run's MB/s and the ratio B/A (median over the reps). The backup's time includes
# opening the topic and checksumming every byte.
# Usage: bench/backup.sh [BIN] [MB] [REPS] [DIR]
set -euo pipefail
BIN=${1:-build/apps/persisting}
MB=${2:-200}
REPS=${3:-3}
DIR=${4:-$(mktemp -d)}
mkdir -p "$DIR"
rm -rf "$DIR/data" "$DIR"/bak_* "$DIR/dd"
records=$((MB * 1000))
python3 - "$records" <<'PY' | "$BIN" put --data-dir "$DIR/data" --topic bench --num-buckets 4 --option wal_sync_mode=os >/dev/null
import sys
pad = "x" * 1000
for i in range(int(sys.argv[1])):
    sys.stdout.write('{"id":"k%d","n":%d,"payload":"%s"}\n' % (i % 64, i, pad))
PY
lance_bytes=$(du -sb "$DIR/data/bench" | cut -f1)
echo "topic on disk: $lance_bytes bytes; $(uptime)" >&2
out=$(mktemp)
for rep in $(seq "$REPS"); do
  count=$(( (lance_bytes + 8388607) / 8388608 ))
  t0=$(date +%s.%N)
  dd if=/dev/zero of="$DIR/dd" bs=8M count="$count" conv=fdatasync status=none
  t1=$(date +%s.%N)
  rm -f "$DIR/dd"
  echo "{\"kind\":\"dd\",\"bytes\":$((count * 8388608)),\"seconds\":$(awk "BEGIN{printf \"%.6f\", $t1 - $t0}")}" >> "$out"
  t0=$(date +%s.%N)
  json=$("$BIN" backup --data-dir "$DIR/data" --topic bench --to "$DIR/bak_$rep")
  t1=$(date +%s.%N)
  echo "$json" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(json.dumps({"kind":"backup","bytes":j["bytes_copied"],"seconds":float(sys.argv[1]),"copy_seconds":j["copy_seconds"]}))' \
    "$(awk "BEGIN{printf \"%.6f\", $t1 - $t0}")" >> "$out"
  rm -rf "$DIR/bak_$rep"
done
rm -rf "$DIR/data"
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
dd = [r["bytes"] / r["seconds"] / 1e6 for r in rows if r["kind"] == "dd"]
bk = [r["bytes"] / r["seconds"] / 1e6 for r in rows if r["kind"] == "backup"]
cp = [r["bytes"] / r["copy_seconds"] / 1e6 for r in rows if r["kind"] == "backup"]
ratios = [b / d for b, d in zip(bk, dd)]
cratios = [c / d for c, d in zip(cp, dd)]
print("| run | dd write+fdatasync MB/s | backup MB/s (whole command) | backup / dd | copy alone MB/s | copy / dd |")
print("|---|---|---|---|---|---|")
for i, row in enumerate(zip(dd, bk, ratios, cp, cratios), 1):
    print("| %d | %.0f | %.0f | %.2f | %.0f | %.2f |" % ((i,) + row))
m = statistics.median
print("| median | %.0f | %.0f | %.2f | %.0f | %.2f |" % (m(dd), m(bk), m(ratios), m(cp), m(cratios)))
PY
