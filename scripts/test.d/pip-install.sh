#!/usr/bin/env bash
# The README's user install of the Python package, checked end to end (docs/python.md):
#   1. a fresh venv with --system-site-packages, and `pip install --no-build-isolation --no-index
#      ./python` into it (the command the README gives, kept offline: nothing may need PyPI);
#   2. the venv's python, run from a directory outside the repository with no PYTHONPATH, imports
#      the installed persisting (not the build tree's), writes records into an embedded data dir,
#      reopens it and reads them back;
#   3. `pip uninstall` removes it again.
# Usage: scripts/test.d/pip-install.sh   (after the build; PERSISTING_BUILD_DIR=build by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "pip-install: $*" >&2; exit 1; }

/usr/bin/python3 -m venv --system-site-packages "$TMP/venv"
PY=$TMP/venv/bin/python
"$PY" -m pip install --quiet --no-build-isolation --no-index "$REPO/python" \
  || fail "pip install --no-build-isolation ./python failed"

cd "$TMP"
env -u PYTHONPATH "$PY" - "$TMP/data" "$TMP/venv" <<'EOF'
import asyncio
import sys

import persisting

data_dir, venv = sys.argv[1], sys.argv[2]
where = persisting.__file__
if not where.startswith(venv):
    sys.exit(f"imported persisting from {where}, not from the venv {venv}")


async def main() -> None:
    with persisting.open(data_dir) as system:
        writer = await system.queue.write("installed", backend="persisting")
        answers = await writer.put([{"id": f"u{i}", "n": i} for i in range(10)])
        if [a["status"] for a in answers] != ["ok"] * 10:
            sys.exit(f"unexpected put answers {answers}")
        await writer.flush()
    with persisting.open(data_dir) as system:
        reader = await system.queue.read("installed")
        got = await reader.get(limit=100)
        if sorted(r["n"] for r in got) != list(range(10)):
            sys.exit(f"read back {got}")


asyncio.run(main())
print(f"pip-install: persisting from {where}: 10 records written, reopened and read back")
EOF

"$PY" -m pip uninstall --quiet --yes persisting || fail "pip uninstall failed"
if env -u PYTHONPATH "$PY" -c "import persisting" 2>/dev/null; then
  fail "persisting still importable after pip uninstall"
fi
echo "pip-install: ok"
