#!/usr/bin/env bash
# Installs what bench/peers needs on top of scripts/setup.sh, from Debian's packages only: the peer
# servers (Redis, NATS with JetStream), their C client libraries, and gnuplot for the plot.
# Not used by CI. Idempotent: packages already present are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
PKGS=(redis-server nats-server libhiredis-dev libnats-dev gnuplot-nox)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Debian's redis-server package may start a system service on port 6379; bench/peers starts its
# own servers on free loopback ports and does not use or stop it.
