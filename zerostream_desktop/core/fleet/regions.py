"""Where devices start and roam, and where the virtual cell towers stand."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zerostream_desktop.core.fleet.geo import destination


@dataclass(frozen=True)
class City:
    name: str
    latitude: float
    longitude: float
    elevation_m: float


WORLD_CITIES: tuple[City, ...] = (
    City("San Francisco", 37.7749, -122.4194, 16.0),
    City("New York", 40.7128, -74.0060, 10.0),
    City("London", 51.5074, -0.1278, 11.0),
    City("Amsterdam", 52.3676, 4.9041, 2.0),
    City("Berlin", 52.5200, 13.4050, 34.0),
    City("Zurich", 47.3769, 8.5417, 408.0),
    City("Bangalore", 12.9716, 77.5946, 920.0),
    City("Singapore", 1.3521, 103.8198, 15.0),
    City("Tokyo", 35.6762, 139.6503, 40.0),
    City("Sydney", -33.8688, 151.2093, 58.0),
    City("Sao Paulo", -23.5505, -46.6333, 760.0),
    City("Mexico City", 19.4326, -99.1332, 2240.0),
)


@dataclass(frozen=True)
class BoundingBox:
    south: float
    west: float
    north: float
    east: float
    elevation_m: float = 50.0

    def __post_init__(self) -> None:
        if not (-85.0 <= self.south < self.north <= 85.0):
            raise ValueError(f"bounding box latitudes must satisfy -85 <= south < north <= 85, got {self}")
        if not (-180.0 <= self.west < self.east <= 180.0):
            raise ValueError(f"bounding box longitudes must satisfy -180 <= west < east <= 180, got {self}")

    @classmethod
    def parse(cls, text: str) -> BoundingBox:
        """`south,west,north,east` in degrees."""
        try:
            s, w, n, e = (float(v) for v in text.split(","))
        except ValueError:
            raise ValueError(f"bounding box {text!r} must be four numbers: south,west,north,east") from None
        return cls(s, w, n, e)


@dataclass(frozen=True)
class Region:
    """Either a set of cities (devices start near one of them) or one bounding box."""

    cities: tuple[City, ...] = WORLD_CITIES
    box: BoundingBox | None = None
    city_radius_m: float = 6_000.0

    @classmethod
    def parse(cls, text: str) -> Region:
        """`world`, a comma list of known city names, or `south,west,north,east`."""
        text = text.strip()
        if not text or text.lower() == "world":
            return cls()
        if text[0].isdigit() or text[0] in "-+.":
            return cls(box=BoundingBox.parse(text))
        known = {c.name.lower(): c for c in WORLD_CITIES}
        chosen = []
        for name in (n.strip().lower() for n in text.split(",")):
            if name not in known:
                names = ", ".join(c.name for c in WORLD_CITIES)
                raise ValueError(f"unknown city {name!r}; known cities: {names}")
            chosen.append(known[name])
        return cls(cities=tuple(chosen))

    @property
    def anchor_count(self) -> int:
        return 1 if self.box else len(self.cities)

    def start_points(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Start positions for new devices from uniforms `u` of shape (n, 3): lat, lon, elevation, anchor."""
        n = u.shape[0]
        if self.box:
            b = self.box
            lat = b.south + u[:, 0] * (b.north - b.south)
            lon = b.west + u[:, 1] * (b.east - b.west)
            return lat, lon, np.full(n, b.elevation_m), np.zeros(n, dtype=np.int64)
        anchor = np.minimum((u[:, 0] * len(self.cities)).astype(np.int64), len(self.cities) - 1)
        c_lat = np.array([c.latitude for c in self.cities])[anchor]
        c_lon = np.array([c.longitude for c in self.cities])[anchor]
        elev = np.array([c.elevation_m for c in self.cities])[anchor]
        lat, lon = destination(c_lat, c_lon, u[:, 1] * 360.0, self.city_radius_m * np.sqrt(u[:, 2]))
        return lat, lon, elev, anchor

    def towers(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """Cell tower positions (lat, lon arrays), fixed for a seed."""
        rng = np.random.default_rng([seed, 0x70E5])
        if self.box:
            b = self.box
            area_km2 = (b.north - b.south) * 111 * (b.east - b.west) * 111 * np.cos(np.radians((b.north + b.south) / 2))
            n = int(np.clip(area_km2 / 15.0, 4, 400))
            return rng.uniform(b.south, b.north, n), rng.uniform(b.west, b.east, n)
        lats, lons = [], []
        for c in self.cities:
            n = 9
            la, lo = destination(
                np.full(n, c.latitude), np.full(n, c.longitude), rng.uniform(0, 360, n), rng.uniform(300, 9_000, n)
            )
            lats.append(la)
            lons.append(lo)
        return np.concatenate(lats), np.concatenate(lons)

    def clamp(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points pulled inside the bounding box (unchanged for city regions)."""
        if not self.box:
            return lat, lon
        b = self.box
        return np.clip(lat, b.south, b.north), np.clip(lon, b.west, b.east)
