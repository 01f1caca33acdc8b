#!/usr/bin/env bash
# Set up a fresh machine for ZeroStream: Debian packages (when root with apt), a python3.12 venv
# in .venv, and the project installed in it. Usage: scripts/bootstrap.sh run|test
# Re-running is cheap: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
purpose="${1:-run}"
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Qt / QtWebEngine runtime libraries (offscreen and xcb), per FIELD_NOTES.md.
RUN_PACKAGES=(libgl1 libegl1 libglib2.0-0 libfontconfig1 fonts-dejavu-core libdbus-1-3 libxkbcommon0
  libnss3 libasound2 libxcomposite1 libxdamage1 libxrandr2 libxtst6 libxkbfile1 libgssapi-krb5-2
  libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-render-util0 libxcb-shape0
  libxkbcommon-x11-0 libx11-xcb1)
TEST_PACKAGES=(xvfb xauth postgresql chromium chromium-driver)  # postgresql: the Lakebase tests run their own server; chromium: the web apps' tests

install_debian_packages() {
  local wanted=("${RUN_PACKAGES[@]}")
  [ "$purpose" = test ] && wanted+=("${TEST_PACKAGES[@]}")
  local missing=()
  for p in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    say "missing system packages: ${missing[*]} (install them with your package manager; continuing)"
    return 0
  fi
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

find_python312() {
  local c
  for c in "${PYTHON:-}" python3.12 "$(command -v pyenv >/dev/null && pyenv root 2>/dev/null)"/versions/3.12*/bin/python3.12 \
           "$HOME"/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12; do
    [ -n "$c" ] || continue
    if "$c" -c 'import sys, venv; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1; then
      command -v "$c" 2>/dev/null || echo "$c"
      return 0
    fi
  done
  return 1
}

install_debian_packages

if [ ! -x .venv/bin/python ]; then
  py="$(find_python312)" || {
    echo "error: Python 3.12 not found. ZeroStream needs 3.12 (PySide6 6.12 crashes on 3.11)." >&2
    echo "       Install it (pyenv install 3.12, or apt-get install python3.12 where available) or set PYTHON=/path/to/python3.12." >&2
    exit 1
  }
  say "creating .venv with $py"
  "$py" -m venv .venv
fi

extras="."
[ "$purpose" = test ] && extras=".[test,dev]"
stamp=".venv/.zerostream-installed-$purpose"
digest="$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
  say "installing ZeroStream ($extras) into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e "$extras"
  echo "$digest" > "$stamp"
fi

# The web apps run on Databricks Apps' Python 3.11: the tests import them (and run their API tests) there too.
if [ "$purpose" = test ]; then
  py311=""
  for c in "${PYTHON311:-}" python3.11 "$HOME"/.pyenv/versions/3.11*/bin/python3.11 /usr/bin/python3.11; do
    [ -n "$c" ] && "$c" -c 'import sys, venv; assert sys.version_info[:2] == (3, 11)' >/dev/null 2>&1 && { py311="$c"; break; }
  done
  if [ -z "$py311" ]; then
    say "Python 3.11 not found: the web apps' 3.11 check will fail (set PYTHON311=)"
  else
    # exactly the versions the generated apps pin (the committed lock), plus the test tools
    lock=zerostream_desktop/webapps/requirements-py311.lock
    stamp311=".venv311/.zerostream-web-$(cat "$lock" | sha256sum | cut -c1-16)"
    if [ ! -f "$stamp311" ]; then
      say "creating .venv311 for the web apps with $py311"
      rm -rf .venv311
      "$py311" -m venv .venv311
      .venv311/bin/python -m pip install -q --upgrade pip
      .venv311/bin/python -m pip install -q --only-binary=:all: -r "$lock" -c "$lock" \
        "pytest>=9.2,<10" "pytest-timeout>=2.4,<3" "httpx2>=2.16,<3" "hypothesis>=6.170,<7"
      touch "$stamp311"
    fi
  fi
fi
