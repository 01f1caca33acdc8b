"""The fault campaign: `zerostream stream` runs over and over on one data folder, each cycle hit by one fault
at a random moment, and after each one a count of what was lost (must be 0), duplicated and refused.

Every run's devices also send a few events twice on purpose (`--faults dup=0.005`, logged), so the
duplicates are told apart: sent twice by the devices, or by delivery (resent after a failure).

Faults: kill -9 of localbus (the stream's watchdog starts it again), SIGTERM of localbus, localbus frozen
(SIGSTOP, unreachable for a few seconds, then SIGCONT), kill -9 of the streaming process and SIGTERM of it
(then a rerun, as a user would), a table slower than the producers (the writer's fault knob), a full disk
for a few seconds (the data folder is a size-limited tmpfs, filled to the last byte by a ballast file and
then freed: ENOSPC for localbus, its logs and the spool alike; without root to mount one, the writer's
knob raises ENOSPC where delta-rs's own surfaces), a file size limit on localbus (RLIMIT_FSIZE set on the
running process, so its writes fail with EFBIG, then lifted) and the devices' clock stepped back or
forward (by an hour, five minutes, ten minutes or a day). Every fault once per round, in an order and at
moments the campaign's seed decides.

What counts: the stream command notes every event id in a ledger once the spool holds it (`--ledger`);
every one of those must reach the table. After each cycle (and a rerun that drains what a killed run
left) the checks are: every ledger id is in the table (lost = those missing), duplicates are only
copies of events (rows minus distinct ids), every spool is empty with no dead letters, the table opens
and its history reads; events generated but never spooled (held while the spool's disk was full, then
the run ended) count as lost. After a clock step, every device kept its schedule through it (no
holes: at least 80 % of the events it was due, with stamps from the stepped clock among them). The
recovery time is from the fault to the moment the table holds every id the ledger had then.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deltalake import DeltaTable

FAULTS = ("kill9_localbus", "sigterm_localbus", "freeze_localbus", "kill9_stream", "sigterm_stream", "slow_table",
          "disk_full", "file_too_big", "clock_jump")  # fmt: skip
CLOCK_STEPS_S = (-3600.0, -300.0, 600.0, 86_400.0)
INTERVAL_S = 0.2
TABLE = "zerostream.sensors.sensor_stream"
TOKEN = "chaos-campaign-token"


@dataclass
class Cycle:
    number: int
    fault: str
    at_s: float
    generated: int  # ledger ids added in this cycle
    lost: int
    duplicates: int
    recovery_s: float
    notes: str = ""
    holes: int = 0  # devices that fell silent around a clock step


@dataclass
class Campaign:
    data_dir: Path
    seed: int
    cycles: list[Cycle] = field(default_factory=list)
    faults: str = "dup=0.005"  # device faults in every run: duplicates sent on purpose, told from delivery ones
    real_disk: bool = False  # the data folder is a size-limited filesystem this campaign mounted
    disk: str = "injected (no root to mount a size-limited filesystem)"

    @property
    def ledger(self) -> Path:
        return self.data_dir.with_name(self.data_dir.name + "-ledger.txt")  # off the data folder's disk

    def mount(self, size: str = "1g") -> bool:
        """Put the data folder on a size-limited tmpfs (root only), for a real full disk; False if it cannot."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0 or not shutil.which("mount"):
            return False
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(self.data_dir)],
                              capture_output=True, text=True)  # fmt: skip
        self.real_disk = done.returncode == 0
        if self.real_disk:
            self.disk = f"a real one (the data folder on a {size} tmpfs, filled to the last byte)"
        return self.real_disk

    def unmount(self) -> None:
        if self.real_disk:
            subprocess.run(["umount", "-l", str(self.data_dir)], check=False)
            self.real_disk = False

    def _fill_disk(self, hold_s: float) -> str:
        """Take every free byte of the data folder's filesystem for `hold_s` seconds, then give it back."""
        ballast = self.data_dir / "ballast"
        stats = os.statvfs(self.data_dir)
        fd = os.open(ballast, os.O_CREAT | os.O_WRONLY, 0o600)
        try:
            with contextlib.suppress(OSError):
                os.posix_fallocate(fd, 0, stats.f_bavail * stats.f_frsize)
            time.sleep(hold_s)
        finally:
            os.close(fd)
            ballast.unlink()
        return f"disk full (ENOSPC) for {hold_s:.1f} s"

    def _stepped_clock(self, before: int, since_wall: float, step: float, seconds: float) -> tuple[int, str]:
        """Devices that fell silent around the clock step (fewer than 80 % of the events they were due)."""
        new = set(self.ledger_ids()[before:])
        path = self.data_dir / "tables" / Path(*TABLE.split("."))
        rows = DeltaTable(str(path)).to_pyarrow_table(columns=["event_id", "connection_id", "event_timestamp"])
        per_device: Counter[str] = Counter()
        stepped = 0
        for event, device, stamp in zip(*(rows[c].to_pylist() for c in rows.column_names), strict=True):
            if event in new:
                per_device[device] += 1
                stepped += abs(stamp.timestamp() - since_wall - step) < seconds + 5
        due = seconds / INTERVAL_S
        holes = sum(1 for n in per_device.values() if n < 0.8 * due)
        fewest = min(per_device.values(), default=0)
        return (
            holes,
            f"clock stepped {step:+.0f} s: {stepped:,} events stamped after; fewest per device {fewest} of ~{due:.0f}",
        )

    def _env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {**os.environ, "ZEROSTREAM_LOCALBUS_TOKEN": TOKEN, "RUST_LOG": "warn", **(extra or {})}

    def _stream(self, seconds: float, devices: int, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        args = [sys.executable, "-m", "zerostream_desktop", "--data-dir", str(self.data_dir), "stream", "--quiet",
                "--json", "--devices", str(devices), "--interval-ms", str(int(INTERVAL_S * 1000)),
                "--duration", str(seconds), "--stop-timeout", "60", "--ledger", str(self.ledger),
                "--faults", self.faults]  # fmt: skip
        return subprocess.Popen(args, env=self._env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def _localbus_pid(self, timeout: float = 20) -> int | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                state = json.loads((self.data_dir / "localbus.json").read_text())
                return int(state["pid"])
            except (OSError, ValueError, KeyError):
                time.sleep(0.05)
        return None

    def ledger_ids(self) -> list[str]:
        return self.ledger.read_text().split() if self.ledger.exists() else []

    def table_ids(self) -> list[str]:
        path = self.data_dir / "tables" / Path(*TABLE.split("."))
        if not (path / "_delta_log").exists():
            return []
        table = DeltaTable(str(path))
        table.history(1)  # the log reads
        return table.to_pyarrow_table(columns=["event_id"])["event_id"].to_pylist()

    def spool_left(self) -> tuple[int, int]:
        """Records waiting and dead letters over every spool file."""
        from zerostream_desktop.core.ingest.spool import Spool

        waiting = dead = 0
        for path in (self.data_dir / "spool").glob("*.sqlite"):
            spool = Spool(path)
            try:
                waiting += spool.depth
                dead += spool.dead_letter_count()
            finally:
                spool.close()
        return waiting, dead

    def run_cycle(self, number: int, fault: str, rng: random.Random, seconds: float = 5.0, devices: int = 150) -> Cycle:
        at = rng.uniform(1.5, seconds - 1.0)
        before = len(self.ledger_ids())
        env = None
        hold = rng.uniform(2.0, 5.0)
        step = rng.choice(CLOCK_STEPS_S)
        if fault == "slow_table":
            env = {"ZEROSTREAM_LOCALBUS_FAULT_COMMIT_DELAY_MS": "30"}
        elif fault == "disk_full" and not self.real_disk:  # commits fail with ENOSPC from `at`, then space is back
            env = {"ZEROSTREAM_LOCALBUS_FAULT_DISK_FULL": f"{at:.1f}:{hold:.1f}"}
        elif fault == "clock_jump":
            env = {"ZEROSTREAM_FAULT_CLOCK_JUMP": f"{at:.1f}:{step}"}
        wall_start = time.time()
        proc = self._stream(seconds, devices, env)
        started = time.monotonic()
        bus = self._localbus_pid()
        time.sleep(max(0.0, at - (time.monotonic() - started)))
        fault_at = time.monotonic()
        notes = ""
        if fault == "kill9_localbus" and bus:
            os.kill(bus, signal.SIGKILL)
        elif fault == "sigterm_localbus" and bus:
            os.kill(bus, signal.SIGTERM)
        elif fault == "freeze_localbus" and bus:
            os.kill(bus, signal.SIGSTOP)
            time.sleep(rng.uniform(2.0, 6.0))
            os.kill(bus, signal.SIGCONT)
        elif fault == "kill9_stream":
            proc.kill()
        elif fault == "sigterm_stream":
            proc.terminate()
        elif fault == "disk_full" and self.real_disk:
            notes = self._fill_disk(hold)
        elif fault == "disk_full":
            notes = f"disk full (ENOSPC injected in localbus's writer) for {hold:.1f} s"
        elif fault == "file_too_big" and bus:  # writes past 8 KiB fail with EFBIG (Python ignores SIGXFSZ)
            with contextlib.suppress(ProcessLookupError):
                old = resource.prlimit(bus, resource.RLIMIT_FSIZE, (8192, resource.RLIM_INFINITY))
                time.sleep(hold)
                resource.prlimit(bus, resource.RLIMIT_FSIZE, old)
                notes = f"localbus's files limited to 8 KiB (EFBIG) for {hold:.1f} s"
        out, err = proc.communicate(timeout=180)
        summaries = [line for line in out.splitlines() if line.startswith("{")]
        summary = json.loads(summaries[-1]) if summaries else {}
        unspooled = int(summary.get("held_unspooled") or 0)  # generated, never spooled: lost
        if unspooled:
            notes += f"; {unspooled} events never spooled"
        if proc.returncode != 0:
            notes += f"; stream exit {proc.returncode}"
            if summary:
                notes += f" ({summary['state']}, {summary['spool_depth']} left: {(summary['error'] or '')[:80]})"
            drain = self._stream(0.2, 0)  # the user runs it again: a new producer takes over what was left
            drain.communicate(timeout=180)
            if fault in ("kill9_stream", "sigterm_stream"):
                self._reap_localbus()
        wanted = set(self.ledger_ids()[: len(self.ledger_ids())])
        deadline = time.monotonic() + 120
        while not wanted <= set(self.table_ids()) and time.monotonic() < deadline:
            time.sleep(0.25)
        recovery = time.monotonic() - fault_at
        rows = self.table_ids()
        counts = Counter(rows)
        lost = len(wanted - set(counts)) + unspooled
        waiting, dead = self.spool_left()
        if waiting or dead:
            notes += f"; spool left {waiting} waiting, {dead} dead letters"
        holes = 0
        if fault == "clock_jump":
            holes, note = self._stepped_clock(before, wall_start, step, seconds)
            notes = f"{note}; {notes}"
        duplicates = sum(n - 1 for n in counts.values() if n > 1)
        cycle = Cycle(number, fault, round(at, 2), len(self.ledger_ids()) - before, lost, duplicates,
                      round(recovery, 2), notes.strip("; "), holes)  # fmt: skip
        self.cycles.append(cycle)
        return cycle

    def _reap_localbus(self) -> None:
        """A killed stream leaves the localbus it started running (its child); stop it as a rerun would not."""
        pid = self._localbus_pid(timeout=1)
        if pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + 30
            while (self.data_dir / "localbus.json").exists() and time.monotonic() < deadline:
                time.sleep(0.1)

    def run(self, n: int, progress: Callable[[Cycle], None] | None = None) -> list[Cycle]:
        rng = random.Random(self.seed)
        order: list[str] = []
        for i in range(1, n + 1):
            if not order:  # every fault once per round, in an order the seed decides
                order = list(FAULTS)
                rng.shuffle(order)
            cycle = self.run_cycle(i, order.pop(), rng)
            if progress:
                progress(cycle)
        return self.cycles

    def injected_duplicates(self) -> int:
        """Events the devices sent twice on purpose (the runs' fault logs) that reached the table: a run killed
        between making a batch and spooling it logged duplicates that were never sent."""
        ids: list[str] = []
        for log in (self.data_dir / "faults").glob("*.jsonl"):
            ids.extend(json.loads(line)["event_id"] for line in log.read_text().splitlines() if '"kind": "dup"' in line)
        landed = set(self.table_ids())
        return sum(1 for e in ids if e in landed)

    def table(self) -> str:
        kinds = Counter(c.fault for c in self.cycles)
        generated = len(set(self.ledger_ids()))
        lines = [
            f"cycles {len(self.cycles)}, seed {self.seed}",
            "faults: " + ", ".join(f"{k} {kinds.get(k, 0)}" for k in FAULTS),
            f"events generated (spooled) {generated:,}; lost {sum(c.lost for c in self.cycles)}; "
            f"duplicated {self.cycles[-1].duplicates if self.cycles else 0:,} (rows beyond one per event, at the end: "
            f"{self.injected_duplicates():,} sent twice on purpose, "
            f"{(self.cycles[-1].duplicates if self.cycles else 0) - self.injected_duplicates():,} by delivery); "
            f"max recovery {max((c.recovery_s for c in self.cycles), default=0):.1f} s; "
            f"devices silent around a clock step {sum(c.holes for c in self.cycles)}; "
            f"full disk: {self.disk}",
            "",
            f"{'#':>3} {'fault':<17} {'at s':>5} {'spooled':>8} {'lost':>5} {'dups':>6} {'recovery s':>11}  notes",
        ]
        for c in self.cycles:
            lines.append(f"{c.number:>3} {c.fault:<17} {c.at_s:>5.1f} {c.generated:>8,} {c.lost:>5} "
                         f"{c.duplicates:>6,} {c.recovery_s:>11.1f}  {c.notes}")  # fmt: skip
        return "\n".join(lines)
