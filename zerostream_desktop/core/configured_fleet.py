"""A fleet as the settings describe it (the app and the commands build it the same way)."""

from __future__ import annotations

import random

from zerostream_desktop.core.fleet import Fleet, ModeMix, Region
from zerostream_desktop.core.settings import Settings


def fleet_from_settings(
    settings: Settings, mode_mix: ModeMix | None = None, min_devices: int = 0, first_index: int = 0
) -> Fleet:
    """SIM_* settings and STREAM_INTERVAL_MS; a random seed when SIM_SEED is unset. `first_index`: a shard's
    first device in the whole fleet."""
    seed = settings.sim_seed if settings.sim_seed is not None else random.SystemRandom().randrange(2**32)
    return Fleet(
        seed,
        max(min_devices, settings.sim_devices),
        region=Region.parse(settings.sim_region),
        mode_mix=mode_mix,
        interval_ms=settings.stream_interval_ms,
        topic=settings.zerobus_topic,
        first_index=first_index,
    )
