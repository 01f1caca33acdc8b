"""Device faults on top of the fleet: the messy data real phones send, injected on purpose and logged.

A spec is `kind=rate[:duration]` items separated by commas (`--faults dropout=0.02,jump=0.005,
offline=0.01:120s,dup=0.01`) or a preset name. Rates are per event unless said otherwise:

- `dropout=P[:D]`  the GPS drops out for D (default 20 s): the device reports its last fix again (a
                   stale position, as reported: a jump too) while its speed says it moves
- `jump=P`         one fix far off: moved max(2 km, 10 x interval x the mode's top speed) in a random
                   direction, so the implied speed is at least ten times what the device can do
- `skew=F`         a fraction F of devices (not a rate) has a clock off by 30 s to 10 min either way,
                   drifting 50 to 500 ppm
- `offline=P[:D]`  the device loses its network for D (default 120 s): it keeps its events and uploads
                   them in a burst after it reconnects, after its first live event (late, out of order)
- `dead=F`         a fraction F of devices (not a rate) runs its battery to 0 % within 30 to 180 s of
                   starting and stops
- `dup=P`          the event is sent twice (the same event id and values)
- `spike=P`        an accelerometer and gyroscope spike (a knock, a drop): 5 to 20 times the reading

The faults draw from their own generator: with every rate at zero the fleet's events are exactly
those it makes without faults. Every injected fault is logged (`FaultLog`, JSON lines in the data
folder), so what was injected can be compared with what the table shows.
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from zerostream_desktop.core.fleet.batch import EventBatch
from zerostream_desktop.core.fleet.draws import Draws, Site
from zerostream_desktop.core.fleet.identity import device_uniforms
from zerostream_desktop.core.fleet.modes import LIMITS, Mode

KINDS = ("dropout", "jump", "skew", "offline", "dead", "dup", "spike")
PER_DEVICE = ("skew", "dead")  # fractions of devices; the others are per-event rates
DEFAULT_DURATION_S = {"dropout": 20.0, "offline": 120.0}
PRESETS = {
    "clean": "",
    "urban-phones": "dropout=0.005:15s,jump=0.002,skew=0.05,spike=0.002",
    "bad-network": "offline=0.003:90s,dup=0.01,dropout=0.003:10s",
    "chaos": "dropout=0.01:20s,jump=0.005,skew=0.2,offline=0.005:60s,dead=0.02,dup=0.01,spike=0.005",
}
MIN_JUMP_M = 2000.0
EARTH_M = 6_371_008.8
_ITEM = re.compile(r"^(?P<kind>[a-z]+)=(?P<rate>[0-9.eE+-]+)(?::(?P<dur>[0-9.]+)(?P<unit>ms|s|m|min)?)?$")


class FaultSpecError(ValueError):
    pass


@dataclass(frozen=True)
class FaultSpec:
    rates: dict[str, float] = field(default_factory=dict)
    durations_s: dict[str, float] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str | None) -> FaultSpec:
        """A spec string or a preset name; a clear error names the item and what is allowed."""
        text = (text or "").strip().lower()
        if text in PRESETS:
            text = PRESETS[text]
        rates: dict[str, float] = {}
        durations: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            m = _ITEM.match(item)
            if not m:
                raise FaultSpecError(
                    f"fault {item!r}: write kind=rate[:duration], e.g. offline=0.01:120s; or a preset "
                    f"({', '.join(PRESETS)})"
                )
            kind = m["kind"]
            if kind not in KINDS:
                raise FaultSpecError(f"fault {item!r}: unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
            try:
                rate = float(m["rate"])
            except ValueError:
                raise FaultSpecError(f"fault {item!r}: {m['rate']!r} is not a number") from None
            if not 0.0 <= rate <= 1.0 or math.isnan(rate):
                raise FaultSpecError(f"fault {item!r}: the rate must be between 0 and 1, got {rate}")
            rates[kind] = rate
            if m["dur"] is not None:
                if kind not in DEFAULT_DURATION_S:
                    raise FaultSpecError(f"fault {item!r}: only {', '.join(DEFAULT_DURATION_S)} take a duration")
                scale = {"ms": 0.001, "s": 1.0, None: 1.0, "m": 60.0, "min": 60.0}[m["unit"]]
                seconds = float(m["dur"]) * scale
                if not 0.1 <= seconds <= 86_400:
                    raise FaultSpecError(f"fault {item!r}: the duration must be between 0.1 s and 1 day")
                durations[kind] = seconds
        return cls(rates, durations)

    def rate(self, kind: str) -> float:
        return self.rates.get(kind, 0.0)

    def duration(self, kind: str) -> float:
        return self.durations_s.get(kind, DEFAULT_DURATION_S.get(kind, 0.0))

    @property
    def active(self) -> bool:
        return any(self.rates.values())

    def __str__(self) -> str:
        parts = []
        for kind in KINDS:
            if self.rate(kind):
                dur = f":{self.duration(kind):g}s" if kind in DEFAULT_DURATION_S else ""
                parts.append(f"{kind}={self.rate(kind):g}{dur}")
        return ",".join(parts) or "clean"


class FaultLog:
    """What was injected, one JSON object per line: kind, device, event ids, schedule time, details."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")

    def add(self, entries: list[dict[str, Any]]) -> None:
        if not entries:
            return
        with self._lock:
            self.entries.extend(entries)
            if self._file is not None:
                self._file.write("".join(json.dumps(e) + "\n" for e in entries))
                self._file.flush()

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for e in self.entries:
            out[e["kind"]] = out.get(e["kind"], 0) + 1
        return out

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class FaultInjector:
    """Applies a spec to each batch the fleet makes; what happens to an event depends on the seed, its device
    and its slot (the batch's `ticks`), whichever process makes it."""

    def __init__(self, spec: FaultSpec, seed: int, log: FaultLog | None = None, first_index: int = 0) -> None:
        self.spec = spec
        self.seed = seed
        self.first_index = first_index  # a shard's devices are first_index, first_index + 1... in the whole fleet
        self.log = log or FaultLog()
        self._n = 0
        self._dropout_until = np.zeros(0)
        self._stale = np.zeros((0, 3))
        self._offline_until = np.zeros(0)
        self._backlog: dict[int, list[EventBatch]] = {}
        self._release: list[int] = []  # devices back online: their backlog goes out with the next batch
        self._skew_s = np.zeros(0)
        self._drift = np.zeros(0)
        self._dies_at = np.full(0, np.inf)
        self._dead = np.zeros(0, dtype=bool)
        self._skew_logged = np.zeros(0, dtype=bool)
        self._t0: float | None = None

    def begin(self, t0: float) -> None:
        """The fleet started at `t0`: clocks drift from then, batteries that die do so from then on."""
        if self._t0 is None:
            self._t0 = t0

    def _grow(self, n: int) -> None:
        if n <= self._n:
            return
        new = np.arange(self._n, n) + self.first_index
        u = device_uniforms(self.seed ^ 0xFA17_FA17, new, 5)  # per device, whatever the order of growth
        skewed = u[:, 0] < self.spec.rate("skew")
        sign = np.where(u[:, 1] < 0.5, -1.0, 1.0)
        skew = np.where(skewed, sign * (30.0 + u[:, 2] * 570.0), 0.0)
        drift = np.where(skewed, np.where(u[:, 3] < 0.5, -1.0, 1.0) * (50.0 + u[:, 2] * 450.0) * 1e-6, 0.0)
        dying = u[:, 4] < self.spec.rate("dead")
        t0 = self._t0 if self._t0 is not None else 0.0
        dies = np.where(dying, t0 + 30.0 + device_uniforms(self.seed ^ 0xDEAD, new, 1)[:, 0] * 150.0, np.inf)
        self._dropout_until = np.concatenate([self._dropout_until, np.zeros(n - self._n)])
        self._stale = np.concatenate([self._stale, np.full((n - self._n, 3), np.nan)])
        self._offline_until = np.concatenate([self._offline_until, np.zeros(n - self._n)])
        self._skew_s = np.concatenate([self._skew_s, skew])
        self._drift = np.concatenate([self._drift, drift])
        self._dies_at = np.concatenate([self._dies_at, dies])
        self._dead = np.concatenate([self._dead, np.zeros(n - self._n, dtype=bool)])
        self._skew_logged = np.concatenate([self._skew_logged, np.zeros(n - self._n, dtype=bool)])
        self._n = n

    def apply(self, batch: EventBatch, now: float, fleet_size: int, interval_s: np.ndarray) -> EventBatch:
        """The events to send now: `batch` with its faults, plus backlogs released by reconnected devices.

        `now` is the schedule's time; `interval_s` each device's interval (for the size of a jump). What happens
        to an event depends on its device and its slot time only, as the fleet's own draws do."""
        if not self.spec.active:
            return batch
        if self._t0 is None:
            self._t0 = now
        self._grow(fleet_size)
        entries: list[dict[str, Any]] = []
        released = self._take_released()
        n = len(batch)
        if n == 0:
            return released if released is not None else batch
        dev = batch.device_index
        cols = {k: v.copy() for k, v in batch.columns.items()}
        ids = batch.event_ids()
        conn = batch.connection_ids()
        ticks = batch.ticks if batch.ticks is not None else np.full(n, round(now * 1000), dtype=np.int64)
        t = ticks / 1000.0  # each event's slot time
        # one row of draws per event, always (the same draws whatever the spec), keyed by device and slot
        u = Draws(self.seed ^ 0xFA17, dev + self.first_index, ticks).random(Site.FAULTS, 8)
        keep = np.ones(n, dtype=bool)

        # dead batteries: the level runs down to 0 at dies_at; that event is the last the device sends
        dies = self._dies_at[dev]
        dying = np.isfinite(dies)
        if dying.any():
            left = np.clip((dies - t) / 30.0, 0.0, 1.0)
            level = np.where(dying, np.minimum(cols["battery_pct"], np.round(left * 100)), cols["battery_pct"])
            cols["battery_pct"] = level.astype(cols["battery_pct"].dtype)
            already = self._dead[dev]
            newly = dying & (t >= dies) & ~already
            for i in np.flatnonzero(newly):
                entries.append({"kind": "dead", "device": conn[i], "at": float(t[i]), "event_id": ids[i]})
            self._dead[dev[newly]] = True
            keep &= ~already

        # clock skew and drift: stamps move, the schedule does not
        skewed = self._skew_s[dev] != 0
        for i in np.flatnonzero(skewed & ~self._skew_logged[dev]):
            offset, ppm = float(self._skew_s[dev[i]]), float(self._drift[dev[i]] * 1e6)
            entries.append({"kind": "skew", "device": conn[i], "at": float(t[i]), "offset_s": offset, "drift_ppm": ppm})
            self._skew_logged[dev[i]] = True
        if skewed.any():
            offset_us = ((self._skew_s[dev] + self._drift[dev] * (t - self._t0)) * 1e6).astype(np.int64)
            ts = cols["event_timestamp"] + np.where(skewed, offset_us, 0)
            cols["event_timestamp"] = ts
            cols["event_date"] = (ts // 86_400_000_000).astype(cols["event_date"].dtype)

        # GPS dropout: the last good fix again while it lasts
        rate = self.spec.rate("dropout")
        if rate:
            active = self._dropout_until[dev] > t
            start = ~active & (u[:, 0] < rate)
            self._dropout_until[dev[start]] = t[start] + self.spec.duration("dropout")
            stale_now = active | start
            prev = self._stale[dev]
            use = stale_now & ~np.isnan(prev[:, 0]) & keep  # a device with no fix yet has nothing to repeat
            for i in np.flatnonzero(start & keep):
                entries.append({"kind": "dropout", "device": conn[i], "at": float(t[i]),
                                "until": float(t[i]) + self.spec.duration("dropout")})  # fmt: skip
            for i in np.flatnonzero(use):
                entries.append({"kind": "stale", "device": conn[i], "at": float(t[i]), "event_id": ids[i]})
            cols["latitude"] = np.where(use, prev[:, 0], cols["latitude"])
            cols["longitude"] = np.where(use, prev[:, 1], cols["longitude"])
            cols["altitude_m"] = np.where(use, prev[:, 2], cols["altitude_m"])
            fresh = ~stale_now
        else:
            fresh = np.ones(n, dtype=bool)

        # a fix far off, for this one event
        rate = self.spec.rate("jump")
        if rate:
            jump = (u[:, 1] < rate) & keep & fresh  # a bad fix needs a fix: none during a dropout
            if jump.any():
                top = max(LIMITS[m].max_speed for m in Mode)  # the fastest mode's: detectable for every device
                dist = np.maximum(MIN_JUMP_M, 10.0 * interval_s[dev] * top)
                bearing = u[:, 2] * 2 * np.pi
                lat0 = np.radians(cols["latitude"])
                d = dist / EARTH_M
                lat1 = np.arcsin(np.sin(lat0) * np.cos(d) + np.cos(lat0) * np.sin(d) * np.cos(bearing))
                lon1 = np.radians(cols["longitude"]) + np.arctan2(
                    np.sin(bearing) * np.sin(d) * np.cos(lat0), np.cos(d) - np.sin(lat0) * np.sin(lat1)
                )
                new_lat = np.degrees(lat1)
                new_lon = (np.degrees(lon1) + 540.0) % 360.0 - 180.0
                for i in np.flatnonzero(jump):
                    entries.append({"kind": "jump", "device": conn[i], "at": float(t[i]), "event_id": ids[i],
                                    "metres": float(dist[i])})  # fmt: skip
                cols["latitude"] = np.where(jump, new_lat, cols["latitude"])
                cols["longitude"] = np.where(jump, new_lon, cols["longitude"])

        # what a dropout repeats: the device's last fix as it reported it (a jump included)
        self._stale[dev[fresh]] = np.column_stack(
            [cols["latitude"][fresh], cols["longitude"][fresh], cols["altitude_m"][fresh]]
        )

        # a sensor spike
        rate = self.spec.rate("spike")
        if rate:
            spike = (u[:, 3] < rate) & keep
            if spike.any():
                factor = 5.0 + u[:, 4] * 15.0
                for name in ("accel_x", "accel_y", "accel_z", "gyro_x", "gyro_y", "gyro_z"):
                    cols[name] = np.where(spike, cols[name] * factor + np.sign(cols[name] + 1e-9) * factor, cols[name])
                acc = np.column_stack([cols["accel_x"], cols["accel_y"], cols["accel_z"]])
                cols["accel_magnitude"] = np.sqrt((acc * acc).sum(axis=1))
                for i in np.flatnonzero(spike):
                    entries.append({"kind": "spike", "device": conn[i], "at": float(t[i]), "event_id": ids[i],
                                    "factor": float(factor[i])})  # fmt: skip

        faulty = EventBatch(dev, batch.event_id, cols, batch.identities, batch.topic, batch.ticks)

        # offline: events wait on the device; after it reconnects its backlog follows its first live event
        rate = self.spec.rate("offline")
        if rate:
            offline = self._offline_until[dev] > t
            back = (self._offline_until[dev] > 0) & ~offline
            start = ~offline & ~back & (u[:, 5] < rate) & keep
            self._offline_until[dev[start]] = t[start] + self.spec.duration("offline")
            for i in np.flatnonzero(start):
                entries.append({"kind": "offline", "device": conn[i], "at": float(t[i]),
                                "until": float(t[i]) + self.spec.duration("offline")})  # fmt: skip
            hold = (offline | start) & keep
            for i in np.flatnonzero(hold):
                self._backlog.setdefault(int(dev[i]), []).append(faulty.take(np.array([i])))
                entries.append({"kind": "late", "device": conn[i], "at": float(t[i]), "event_id": ids[i]})
            for i in np.flatnonzero(back):
                self._offline_until[dev[i]] = 0.0
                self._release.append(int(dev[i]))
            keep &= ~hold

        # sent twice
        rate = self.spec.rate("dup")
        extra = np.zeros(0, dtype=np.int64)
        if rate:
            dup = (u[:, 6] < rate) & keep
            extra = np.flatnonzero(dup)
            for i in extra:
                entries.append({"kind": "dup", "device": conn[i], "at": float(t[i]), "event_id": ids[i]})

        self.log.add(entries)
        out = faulty.take(np.concatenate([np.flatnonzero(keep), extra]))
        return EventBatch.concat([b for b in (released, out) if b is not None]) if released is not None else out

    def _take_released(self) -> EventBatch | None:
        if not self._release:
            return None
        parts: list[EventBatch] = []
        for device in self._release:
            parts.extend(self._backlog.pop(device, []))
        self._release.clear()
        return EventBatch.concat(parts) if parts else None

    def forget(self, count: int) -> None:
        """The fleet shrank to `count` devices: the backlogs of the others go with them."""
        for device in [d for d in self._backlog if d >= count]:
            del self._backlog[device]
        self._release = [d for d in self._release if d < count]

    def flush(self) -> EventBatch | None:
        """Every backlog, as if every device reconnected now (the end of a run)."""
        self._release = sorted(self._backlog)
        self._offline_until[:] = 0.0
        return self._take_released()

    @property
    def waiting(self) -> int:
        """Events held on devices that are offline."""
        return sum(len(b) for parts in self._backlog.values() for b in parts)
