#!/usr/bin/env bash
# The installed package, used out of tree (docs/install.md):
#   1. `cmake --install` of the build into a temporary prefix;
#   2. examples/client built against it with find_package(Persisting) (persisting::client), and
#      its object linked again with `pkg-config --libs persisting-client`;
#   3. the client example links no storage code: ldd lists libpersisting_client and not
#      libpersisting_embedded, and no WAL, Lance, backend, runtime or Env symbol is in it or in
#      the Persisting libraries it loads;
#   4. persistingd (from the build) on a free loopback port with a temporary data dir, and both
#      client binaries put a record and read it back through it;
#   5. examples/embedded built with persisting::embedded and run (in memory and in a data dir).
# Usage: scripts/test.d/install-example.sh   (after the build; BUILD_DIR=build by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD_DIR:-build}
case "$BUILD" in /*) ;; *) BUILD="$PWD/$BUILD" ;; esac
TMP=$(mktemp -d)
NODE_PID=
cleanup() {
  if [ -n "$NODE_PID" ]; then kill "$NODE_PID" 2>/dev/null || true; wait "$NODE_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "install-example: $*" >&2; exit 1; }

PREFIX=$TMP/prefix
cmake --install "$BUILD" --prefix "$PREFIX" >/dev/null
[ -f "$PREFIX/lib/cmake/Persisting/PersistingConfig.cmake" ] || fail "no PersistingConfig.cmake installed"
[ -f "$PREFIX/lib/cmake/Persisting/PersistingConfigVersion.cmake" ] || fail "no PersistingConfigVersion.cmake installed"
if grep -rhE '^#define +[A-Z]' "$PREFIX/include/persisting" | grep -vE '^#define +PERSISTING_'; then
  fail "an installed header defines a macro without the PERSISTING_ prefix (above)"
fi

echo "--- examples/client: find_package(Persisting), persisting::client"
cmake -S examples/client -B "$TMP/client" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$PREFIX" >/dev/null
cmake --build "$TMP/client" >/dev/null
CLIENT=$TMP/client/client_example

echo "--- the same object linked with pkg-config persisting-client"
export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
pkg-config --exists persisting-client persisting-embedded || fail "pkg-config does not find the .pc files"
CLIENT_PC=$TMP/client_example_pc
# shellcheck disable=SC2046
c++ -o "$CLIENT_PC" "$TMP/client/CMakeFiles/client_example.dir/main.cc.o" \
    $(pkg-config --libs persisting-client) -Wl,-rpath,"$PREFIX/lib"

echo "--- no storage code in the client example"
for bin in "$CLIENT" "$CLIENT_PC"; do
  deps=$(ldd "$bin")
  if grep 'not found' <<<"$deps"; then fail "$bin: unresolved libraries (above)"; fi
  grep -q 'libpersisting_client\.so' <<<"$deps" || fail "$bin does not load libpersisting_client.so"
  if grep 'libpersisting_embedded' <<<"$deps"; then fail "$bin loads libpersisting_embedded"; fi
  libs=$(awk '$3 ~ /libpersisting_/ {print $3}' <<<"$deps")
  # Defined symbols of the storage side: the WAL, Lance, backends, the actor runtime, the Queue, the Env.
  storage='persisting::(wal|lance|runtime)::|BucketStorage|StorageManager|StorageBackend|BackendRegistry|(Memory|Lance|Persisting)Backend|persisting::Queue(Writer|Reader)?::|persisting::Env::|PosixEnv'
  for f in "$bin" $libs; do
    hits=$(nm -C --defined-only "$f" 2>/dev/null | grep -E "$storage" | head -5 || true)
    [ -z "$hits" ] || fail "$f defines storage symbols:
$hits"
  done
done
# The check above reads symbol tables: make sure they are there (not stripped).
nm -C --defined-only "$PREFIX/lib/libpersisting_client.so" | grep 'persisting::Client::connect' >/dev/null ||
  fail "no persisting::Client::connect symbol in libpersisting_client.so: cannot check its symbols"
# The client and embedded libraries link libpersisting_core.so instead of copying it.
nm -D --defined-only "$PREFIX/lib/libpersisting_core.so" | awk '$2 == "T" {print $3}' | sort > "$TMP/core.syms"
for lib in client embedded; do
  nm -D --defined-only "$PREFIX/lib/libpersisting_$lib.so" | awk '$2 == "T" {print $3}' | sort > "$TMP/$lib.syms"
  dups=$(comm -12 "$TMP/core.syms" "$TMP/$lib.syms" | head -5)
  [ -z "$dups" ] || fail "libpersisting_$lib.so copies functions of libpersisting_core.so: $dups"
done
echo "ldd: $(ldd "$CLIENT" | awk '$1 ~ /persisting/ {print $1}' | tr '\n' ' ')(no libpersisting_embedded)"

echo "--- persistingd on a free loopback port"
# A port the kernel has just given out (--listen 127.0.0.1:0 would advertise port 0 to clients).
# (perl-base is essential in Debian.)
free_port() { perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1)->sockport'; }
mkdir -p "$TMP/data"
for attempt in 1 2 3; do  # another process may take the port first: bounded retries
  PORT=$(free_port)
  "$BUILD/apps/persistingd" --id n1 --listen "127.0.0.1:$PORT" --data-dir "$TMP/data" > "$TMP/node.log" 2>&1 &
  NODE_PID=$!
  for _ in $(seq 1 200); do  # bounded: 20 s
    grep -q "serving on port $PORT" "$TMP/node.log" && break
    kill -0 "$NODE_PID" 2>/dev/null || break
    sleep 0.1
  done
  grep -q "serving on port $PORT" "$TMP/node.log" && break
  kill "$NODE_PID" 2>/dev/null || true; wait "$NODE_PID" 2>/dev/null || true; NODE_PID=
  echo "persistingd did not start on port $PORT (attempt $attempt): $(cat "$TMP/node.log")" >&2
done
[ -n "$NODE_PID" ] || fail "persistingd did not start"
"$CLIENT" "127.0.0.1:$PORT" example_cmake
"$CLIENT_PC" "127.0.0.1:$PORT" example_pkgconfig

echo "--- examples/embedded: persisting::embedded"
cmake -S examples/embedded -B "$TMP/embedded" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$PREFIX" >/dev/null
cmake --build "$TMP/embedded" >/dev/null
grep -q 'libpersisting_embedded\.so' <<<"$(ldd "$TMP/embedded/embedded_example")" ||
  fail "the embedded example does not load libpersisting_embedded.so"
"$TMP/embedded/embedded_example"
"$TMP/embedded/embedded_example" "$TMP/embedded-data"
echo "install example: all passed"
