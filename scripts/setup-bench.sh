#!/usr/bin/env bash
# Installs what bench/peers needs on top of scripts/setup.sh, from Debian's packages only: the peer
# servers (Redis, NATS with JetStream), their C client libraries, and gnuplot for the plot.
# Not used by CI. Idempotent: packages already present are skipped.
# Debian's redis-server package may start a system service on port 6379; bench/peers starts its
# own servers on free loopback ports and neither uses nor stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash scripts/setup.sh redis-server nats-server libhiredis-dev libnats-dev gnuplot-nox
