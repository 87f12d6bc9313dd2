#!/usr/bin/env bash
# Installs what Persisting needs to build and test, from Debian's packages only.
# Idempotent: packages already present are skipped quickly by apt.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build pkg-config ccache
  libsimdjson-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  libasio-dev libisal-dev libzstd-dev liblz4-dev
  libsnappy-dev zlib1g-dev  # Kafka record-batch codecs (src/kafka/protocol)
  kcat python3-kafka  # Kafka clients for the interop tests (tests/kafka)
  libgtest-dev libgmock-dev
  gdb  # a test node that hangs at shutdown has its stacks logged (tests/net/node_process.h)
  libgoogle-perftools-dev  # tcmalloc for the binaries (apps/CMakeLists.txt)
  clang libclang-rt-14-dev
  protobuf-compiler libprotobuf-dev
  # cluster (src/net, src/metrics, tests/net): gRPC, HTTP endpoint, etcd membership, promtool, openssl
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libcpp-httplib-dev
  etcd-server etcd-client prometheus openssl
  # the Python package (python/, docs/python.md) and its pytest suite; redis-py for bench/python
  pybind11-dev python3-dev python3-pytest python3-pytest-asyncio python3-numpy python3-venv
  python3-redis
  # the Kafka listener's interop suite (scripts/test.d/kafka-interop.sh) and its TLS (libssl-dev)
  kcat librdkafka-dev python3-confluent-kafka python3-kafka libssl-dev
)
PKGS+=("$@")  # extra packages from the caller (scripts/setup-bench.sh)
# The Lance interop suite (scripts/test.d/lance-interop.sh) runs LanceDB under Node (>= 18).
command -v node >/dev/null 2>&1 || PKGS+=(nodejs npm)
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
