"""Fleet simulator: realistic mobile devices, vectorised over devices with numpy."""

from zerostream_desktop.core.fleet.batch import EventBatch
from zerostream_desktop.core.fleet.clock import DeviceClock
from zerostream_desktop.core.fleet.faults import PRESETS as FAULT_PRESETS
from zerostream_desktop.core.fleet.faults import FaultLog, FaultSpec, FaultSpecError
from zerostream_desktop.core.fleet.fleet import MAX_DEVICES, Fleet
from zerostream_desktop.core.fleet.load_shape import LoadShape, LoadShapeError, Stage, parse_load_shape
from zerostream_desktop.core.fleet.modes import Mode, ModeMix
from zerostream_desktop.core.fleet.regions import WORLD_CITIES, BoundingBox, Region
from zerostream_desktop.core.fleet.shard import MAX_FLEET_DEVICES, Shard, ShardError, parse_shard
from zerostream_desktop.core.fleet.traces import Trace, TraceError, load_trace

__all__ = [
    "MAX_DEVICES",
    "MAX_FLEET_DEVICES",
    "WORLD_CITIES",
    "BoundingBox",
    "DeviceClock",
    "FAULT_PRESETS",
    "FaultLog",
    "FaultSpec",
    "FaultSpecError",
    "EventBatch",
    "Fleet",
    "LoadShape",
    "LoadShapeError",
    "Mode",
    "ModeMix",
    "Region",
    "Shard",
    "ShardError",
    "Stage",
    "Trace",
    "TraceError",
    "load_trace",
    "parse_load_shape",
    "parse_shard",
]
