#!/bin/sh
# Remove what install.sh added, and nothing else (your settings, data and keyring entries stay).
set -eu
app=$(cd "$(dirname "$0")" && pwd)
manifest="$app/installed-files"
[ -f "$manifest" ] || { echo "zerostream uninstall: $manifest is missing; nothing removed" >&2; exit 1; }
while IFS= read -r path; do
  [ -n "$path" ] && rm -f "$path"
done < "$manifest"
rm -rf "$app"
echo "ZeroStream removed (settings in ~/.config/zerostream and data in ~/.local/share/zerostream are kept)."
