#!/usr/bin/env bash
# The whole test suite with its quality gates, offscreen. Called by `make test`.
set -uo pipefail
cd "$(dirname "$0")/.."
export QT_QPA_PLATFORM=offscreen QTWEBENGINE_DISABLE_SANDBOX=1 PYTHONDONTWRITEBYTECODE=1 RUST_LOG=${RUST_LOG:-warn}
export QTWEBENGINE_CHROMIUM_FLAGS="--no-sandbox --disable-background-networking"
bin=.venv/bin
status=0
step() { printf '\033[1m==> %s\033[0m\n' "$1"; shift; "$@" || { echo "FAILED: $*"; status=1; }; }
step "ruff" "$bin/ruff" check .
step "import contracts (layers; only the UI imports Qt)" "$bin/lint-imports"
step "mypy (every package)" "$bin/mypy"
# Databricks Apps runs the web apps on Python 3.11: import what they stand on there and run their API tests.
step "web apps on Python 3.11" env PYTHONPATH="$PWD" .venv311/bin/python -m pytest -q -p no:cacheprovider \
  -o addopts="" -W "ignore:Unknown config option" tests/webapps/test_imports.py tests/webapps/test_api.py
echo "==> pytest"
"$bin/python" -m pytest "$@"
rc=$?
if [ $rc -eq 5 ]; then
  echo "FAILED: pytest collected no tests"
  rc=1
fi
[ $rc -ne 0 ] && status=$rc
exit $status
