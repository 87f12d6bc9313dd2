#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. a RelWithDebInfo build, all CTest tests;
#   2. an ASan+UBSan build, all CTest tests;
#   3. every script in scripts/test.d/ (extra suites: fuzzing, the installed package, interop), in
#      name order.
# Usage: scripts/test.sh [--no-sanitize]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
JOBS=${JOBS:-$(nproc)}
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1

run_suite() {  # name, build dir, extra cmake args...
  local name=$1 dir=$2; shift 2
  echo "=== [$name] configure + build in $dir"
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir" -j "$JOBS"
  echo "=== [$name] ctest"
  (cd "$dir" && ctest --output-on-failure -j "$JOBS" --timeout 600)
}

run_suite release build -DCMAKE_BUILD_TYPE=RelWithDebInfo
if [ "${1:-}" != "--no-sanitize" ]; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_suite asan+ubsan build-asan -DCMAKE_BUILD_TYPE=Debug -DPERSISTING_SANITIZE=ON
fi
for extra in scripts/test.d/*.sh; do
  [ -e "$extra" ] || continue
  echo "=== [extra] $extra"
  bash "$extra"
done
echo "=== all test suites passed"
