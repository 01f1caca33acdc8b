"""A short fault campaign in CI (fixed seed): nothing lost, whatever the fault. Long runs: bench/chaos.py."""

from __future__ import annotations

import os

import pytest

from tests.chaos.campaign import FAULTS, Campaign

pytestmark = pytest.mark.integration
CYCLES = int(os.environ.get("ZEROSTREAM_CHAOS_CYCLES", str(len(FAULTS))))


def test_a_short_campaign_loses_nothing(tmp_path):
    campaign = Campaign(tmp_path / "data", seed=20261201)
    campaign.mount()  # a real full disk where this runs as root (CI does); else the writer's knob
    try:
        cycles = campaign.run(CYCLES)
        landed = set(campaign.table_ids())
        rows = len(campaign.table_ids())
        injected = campaign.injected_duplicates()
        shown = campaign.table()
        print(shown)  # noqa: T201 (shown with -s, and in the log on failure)
    finally:
        campaign.unmount()
    assert sum(c.lost for c in cycles) == 0, shown
    assert all(not c.notes.count("spool left") for c in cycles), shown
    assert sum(c.holes for c in cycles) == 0, shown  # a clock step silenced no device
    assert campaign.ledger_ids() and set(campaign.ledger_ids()) <= landed
    assert {c.fault for c in cycles} == set(FAULTS)  # a round: every fault once
    assert injected > 0 and rows - len(landed) >= injected  # the devices' own duplicates are all there
