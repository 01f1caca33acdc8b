#!/bin/sh
# Install ZeroStream for this user under ~/.local (or $PREFIX): no root needed. Linux x86_64 only.
# What it adds is listed in <prefix>/lib/zerostream/installed-files; uninstall.sh removes exactly that.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix=${PREFIX:-$HOME/.local}
fail() { echo "zerostream install: $*" >&2; exit 1; }

# --- check the system first ---------------------------------------------------------------------
[ "$(uname -s)" = Linux ] || fail "this package is for Linux (this is $(uname -s))"
[ "$(uname -m)" = x86_64 ] || fail "this package is for x86_64 (this machine is $(uname -m))"
glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
[ -n "$glibc" ] || fail "cannot tell the C library's version (glibc 2.34 or newer is needed)"
major=${glibc%%.*}; minor=${glibc#*.}; minor=${minor%%.*}
if [ "$major" -lt 2 ] || { [ "$major" -eq 2 ] && [ "$minor" -lt 34 ]; }; then
  fail "glibc $glibc is too old: the ZeroBus SDK needs 2.34 or newer (Debian 12, Ubuntu 22.04, Fedora 35 and later)"
fi
missing=""
for lib in libGL.so.1 libEGL.so.1 libfontconfig.so.1; do
  ldconfig -p 2>/dev/null | grep -q "$lib" || missing="$missing $lib"
done
[ -z "$missing" ] || echo "zerostream install: note: missing system libraries:$missing (Debian/Ubuntu: apt install libgl1 libegl1 libfontconfig1)" >&2

# --- install ------------------------------------------------------------------------------------
app="$prefix/lib/zerostream"
[ ! -e "$app" ] || fail "$app exists: run $app/uninstall.sh first"
mkdir -p "$app" "$prefix/bin" "$prefix/share/applications"
cp -a "$here/ZeroStream/." "$app/"
cp "$here/uninstall.sh" "$app/uninstall.sh"
manifest="$app/installed-files"
: > "$manifest"
add() { echo "$1" >> "$manifest"; }
ln -sf "$app/zerostream" "$prefix/bin/zerostream"; add "$prefix/bin/zerostream"
sed "s|^Exec=.*|Exec=$app/zerostream|" "$here/zerostream.desktop" > "$prefix/share/applications/zerostream.desktop"
add "$prefix/share/applications/zerostream.desktop"
for png in "$here"/icons/zerostream-*.png; do
  size=$(basename "$png" .png); size=${size#zerostream-}
  dir="$prefix/share/icons/hicolor/${size}x${size}/apps"
  mkdir -p "$dir" && cp "$png" "$dir/zerostream.png" && add "$dir/zerostream.png"
done
mkdir -p "$prefix/share/icons/hicolor/scalable/apps"
cp "$here/icons/zerostream.svg" "$prefix/share/icons/hicolor/scalable/apps/zerostream.svg"
add "$prefix/share/icons/hicolor/scalable/apps/zerostream.svg"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$prefix/share/applications" || true
echo "ZeroStream installed in $app; run it as $prefix/bin/zerostream or from the applications menu."
case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "(add $prefix/bin to your PATH to run 'zerostream' by name)";; esac
