#!/usr/bin/env bash
# Fuzzes the Kafka request decoder and RecordBatch v2 (fuzz/kafka_request_fuzzer.cc) with libFuzzer
# (clang, -fsanitize=fuzzer,address,undefined) for a bounded time. Fails on any crash, sanitizer
# report or broken invariant.
# Usage: scripts/test.d/fuzz-kafka.sh [seconds]   (default 60; FUZZ_KAFKA_SECONDS also works)
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_TO_RUN=${1:-${FUZZ_KAFKA_SECONDS:-60}}
OUT=build-fuzz
mkdir -p "$OUT/corpus-kafka"
CXX=${FUZZ_CXX:-clang++}
command -v "$CXX" >/dev/null || { echo "fuzz-kafka: $CXX not found (scripts/setup.sh installs clang)"; exit 1; }

# The protocol library and the two core files it uses, straight from the sources (every .cc of
# src/kafka/protocol, so a new message file is picked up).
echo "=== [fuzz-kafka] building $OUT/kafka_request_fuzzer"
"$CXX" -std=c++20 -O1 -g -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -Iinclude -Isrc \
  fuzz/kafka_request_fuzzer.cc src/kafka/protocol/*.cc src/kafka/protocol/messages/*.cc \
  src/core/status.cc src/core/crc32c.cc \
  $(pkg-config --cflags --libs libisal liblz4 libzstd zlib) -lsnappy -lpthread \
  -o "$OUT/kafka_request_fuzzer"

# Seeds: the committed ones (fuzz/corpus/kafka_request: frames of every API, records blobs), and
# the frames captured from real clients (tests/kafka/data), each prefixed with the mode byte 0.
SEEDS="$OUT/seeds-kafka"
rm -rf "$SEEDS" && mkdir -p "$SEEDS"
for f in tests/kafka/data/*.bin; do
  { printf '\0'; cat "$f"; } > "$SEEDS/$(basename "$f")"
done

echo "=== [fuzz-kafka] fuzzing for ${SECONDS_TO_RUN}s"
# New inputs go to $OUT/corpus-kafka; the seeds are read only. A crash writes crash-* into $OUT
# and makes libFuzzer exit non-zero, which fails this script.
"$OUT/kafka_request_fuzzer" -max_total_time="$SECONDS_TO_RUN" -timeout=20 -rss_limit_mb=2048 \
  -max_len=65536 -print_final_stats=1 -artifact_prefix="$OUT/" \
  "$OUT/corpus-kafka" fuzz/corpus/kafka_request "$SEEDS"
echo "=== [fuzz-kafka] no crash in ${SECONDS_TO_RUN}s"
