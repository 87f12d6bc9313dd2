#!/usr/bin/env bash
# Interop suite against the real LanceDB (@lancedb/lancedb 0.31.0, pinned with apache-arrow in
# tests/lance/interop/package-lock.json): installs them with `npm ci`, then runs every
# tests/lance/interop/NN_*.mjs. Each script drives lance_tool (tests/lance/lance_tool.cc) and
# LanceDB on the same datasets and fails on any difference; 09 writes through the Python package.
# See docs/lance-format.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${LANCE_INTEROP_BUILD_DIR:-build}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
# (Re)configure: a build dir configured before tests/lance existed does not know lance_tool.
if [ -f "$BUILD/CMakeCache.txt" ]; then cmake -S . -B "$BUILD" >/dev/null
else cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null; fi
# lance_tool, the Python package for 09_python_vectors (docs/python.md), the CLI for 12_backup
cmake --build "$BUILD" --target lance_tool persisting_python persisting
export LANCE_TOOL="$BUILD/tests/lance/lance_tool"
export PERSISTING_BIN="$BUILD/apps/persisting"
export PERSISTING_PYTHONPATH="$BUILD/python"
(cd tests/lance/interop && npm ci --no-audit --no-fund --loglevel=error)
export LANCE_INCLUDE_VECTOR_CENTROIDS=false  # silences a LanceDB statistics warning
for script in tests/lance/interop/[0-9][0-9]_*.mjs; do
  echo "--- $script"
  node "$script"
done
echo "lance interop: all passed"
