#!/usr/bin/env bash
# `make package-test`: build the bundle, then run it as a user's desktop session would, with no Python
# environment of ours in reach: the self-test, --version, and a short stream into a private localbus
# that must be fully acknowledged; then install it under a temporary prefix and uninstall it again.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/package.sh
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home"
# Only what a desktop session has: no PYTHONPATH, no VIRTUAL_ENV, no PATH into the checkout or .venv.
session=(env -i "HOME=$work/home" "PATH=/usr/local/bin:/usr/bin:/bin" "LANG=C.UTF-8" "QT_QPA_PLATFORM=offscreen"
         "RUST_LOG=error" "ZEROSTREAM_LOCALBUS_TOKEN=package-test")
bundle="$root/dist/ZeroStream/zerostream"
cd "$work"
fail() { echo "FAILED: $*"; exit 1; }

echo "==> self-test from the bundle"
started=$SECONDS
"${session[@]}" "$bundle" self-test > self-test.txt 2> self-test.err || { cat self-test.txt self-test.err; fail "self-test"; }
cat self-test.txt
echo "    (the self-test took $((SECONDS - started)) s)"
grep -q "(bundle)" self-test.txt || fail "the self-test did not run frozen"
grep -q "^ok    python path .*all inside the bundle" self-test.txt || fail "the bundle's python path reaches outside it"
grep -q "^all checks passed" self-test.txt || fail "self-test"

echo "==> --version"
"${session[@]}" "$bundle" --version | grep "^zerostream " > /dev/null || fail "--version"

echo "==> stream 50 devices for 5 s into a private localbus"
"${session[@]}" "$bundle" --data-dir "$work/data" stream --devices 50 --duration 5 --json --quiet > stream.json \
  || { cat stream.json; fail "stream"; }
python3 - stream.json <<'PY' || fail "stream summary"
import json, sys
s = json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])
print(f"    generated {s['generated']:,}, acknowledged {s['acknowledged']:,}, left in spool {s['spool_depth']}, state {s['state']}")
assert s["generated"] > 0 and s["acknowledged"] >= s["generated"] and s["spool_depth"] == 0 and s["state"] == "drained", s
PY

echo "==> webapps build from the bundle: the same apps as from the source tree"
"${session[@]}" ZEROSTREAM_DATA_DIR="$work/data" "$bundle" webapps build --out "$work/apps-bundle" > /dev/null \
  || fail "webapps build from the bundle"
env ZEROSTREAM_DATA_DIR="$work/data" HOME="$work/home" "$root/.venv/bin/python" -m zerostream_desktop webapps build \
  --out "$work/apps-source" > /dev/null
diff -r "$work/apps-bundle" "$work/apps-source" > /dev/null || { diff -r "$work/apps-bundle" "$work/apps-source" | head; fail "the bundle builds other apps"; }

echo "==> install.sh under a temporary prefix, run, uninstall.sh"
tarball=$(ls "$root"/dist/ZeroStream-*-linux-*.tar.gz)
tar -xzf "$tarball"
prefix="$work/prefix"
PREFIX="$prefix" sh ZeroStream-*/install.sh
"${session[@]}" "$prefix/bin/zerostream" --version | grep "^zerostream " > /dev/null || fail "the installed program"
grep -q "^Exec=$prefix/lib/zerostream/zerostream" "$prefix/share/applications/zerostream.desktop" || fail "desktop entry"
"$prefix/lib/zerostream/uninstall.sh"
left=$(find "$prefix" -type f | wc -l)
[ "$left" -eq 0 ] || { find "$prefix" -type f; fail "uninstall left $left files"; }
echo "package test passed"
