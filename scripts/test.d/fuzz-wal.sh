#!/usr/bin/env bash
# Fuzzes WAL recovery with libFuzzer (clang, -fsanitize=fuzzer,address,undefined) for a bounded
# time. Fails on any crash, sanitizer report or broken invariant.
# Usage: scripts/test.d/fuzz-wal.sh [seconds]   (default 60; FUZZ_WAL_SECONDS also works)
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_TO_RUN=${1:-${FUZZ_WAL_SECONDS:-60}}
OUT=build-fuzz
mkdir -p "$OUT/corpus-wal"
CXX=${FUZZ_CXX:-clang++}
command -v "$CXX" >/dev/null || { echo "fuzz-wal: $CXX not found (scripts/setup.sh installs clang)"; exit 1; }

# Compile the WAL and the core layer under it straight from the sources (no CMake build dir
# needed). Every .cc of both directories, so a file added to either is picked up.
echo "=== [fuzz-wal] building $OUT/wal_recovery_fuzzer"
"$CXX" -std=c++20 -O1 -g -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -Iinclude -Isrc \
  fuzz/wal_recovery_fuzzer.cc src/storage/wal/*.cc src/core/*.cc \
  $(pkg-config --cflags --libs libisal simdjson spdlog) -lpthread \
  -o "$OUT/wal_recovery_fuzzer"

echo "=== [fuzz-wal] fuzzing for ${SECONDS_TO_RUN}s"
# New inputs go to $OUT/corpus-wal; the checked-in seeds are read only. A crash writes
# crash-* into $OUT and makes libFuzzer exit non-zero, which fails this script.
"$OUT/wal_recovery_fuzzer" -max_total_time="$SECONDS_TO_RUN" -timeout=20 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$OUT/" "$OUT/corpus-wal" fuzz/corpus/wal_recovery
echo "=== [fuzz-wal] no crash in ${SECONDS_TO_RUN}s"
