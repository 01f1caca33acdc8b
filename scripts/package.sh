#!/usr/bin/env bash
# `make package`: the one-folder PyInstaller build (dist/ZeroStream/) and the tarball users install from
# (dist/ZeroStream-<version>-linux-<arch>.tar.gz). Prints the build time and the bundle's size by part.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh test
stamp=.venv/.zerostream-pyinstaller
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q "pyinstaller>=6.22,<7"
  touch "$stamp"
fi
started=$(date +%s)
rm -rf build/pyinstaller dist/ZeroStream
.venv/bin/pyinstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build/pyinstaller \
  packaging/zerostream.spec
built=$(date +%s)
version=$(.venv/bin/python -c 'import zerostream_desktop; print(zerostream_desktop.__version__)')
name="ZeroStream-$version-linux-$(uname -m)"
stage="build/stage/$name"
rm -rf build/stage && mkdir -p "$stage/icons"
cp -a dist/ZeroStream "$stage/ZeroStream"
cp packaging/zerostream.desktop packaging/install.sh packaging/uninstall.sh packaging/INSTALL.txt "$stage/"
cp resources/icons/zerostream.svg resources/icons/zerostream-*.png "$stage/icons/"
tar -C build/stage -czf "dist/$name.tar.gz" "$name"
done_at=$(date +%s)
echo "==> built dist/ZeroStream in $((built - started)) s, packed dist/$name.tar.gz in $((done_at - built)) s"
echo "    unpacked $(du -s --block-size=1M dist/ZeroStream | cut -f1) MB, tarball $(du --block-size=1M "dist/$name.tar.gz" | cut -f1) MB"
echo "    largest parts (MB):"
(cd dist/ZeroStream/_internal && du -s --block-size=1M -- * | sort -rn | sed -n "1,12s/^/      /p")  # sed reads it all: no SIGPIPE under pipefail
