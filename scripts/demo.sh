#!/usr/bin/env bash
# Installs what is missing, builds (release), and runs the main job: `persisting demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# The CLI, and the Python package in build/python/ when it is configured (docs/python.md).
targets=(persisting)
ninja -C build -t targets all 2>/dev/null | grep -q '^persisting_python:' && targets+=(persisting_python)
cmake --build build -j "$(nproc)" --target "${targets[@]}"
exec build/apps/persisting demo
