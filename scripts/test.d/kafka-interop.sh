#!/usr/bin/env bash
# Interop suite of the Kafka listener (docs/kafka.md) with real clients: kcat, librdkafka through
# python3-confluent-kafka, kafka-python (Debian packages, scripts/setup.sh) and kafkajs (npm). Each test starts
# persistingd --kafka-listen on loopback ports the kernel picked; every wait is bounded.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${KAFKA_INTEROP_BUILD_DIR:-build}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
if [ -f "$BUILD/CMakeCache.txt" ]; then cmake -S . -B "$BUILD" >/dev/null
else cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null; fi
cmake --build "$BUILD" --target persistingd persisting
# kafkajs 2.2.4 from npm (pinned in the lock file), as the Lance interop suite installs LanceDB.
(cd tests/kafka/interop/kafkajs && npm ci --no-audit --no-fund --loglevel=error)
# LanceDB for the topic produced over Kafka (the Lance interop suite's pinned setup).
[ -d tests/lance/interop/node_modules/@lancedb ] ||
  (cd tests/lance/interop && npm ci --no-audit --no-fund --loglevel=error)
# Debian's interpreter: the python3-confluent-kafka and python3-kafka packages live there.
timeout 900 /usr/bin/python3 tests/kafka/interop/kafka_interop.py "$BUILD" "$@"
