"""Open where the settings say to stream, for every producer: the desktop app, `zerostream stream`, the web apps.

Local: start the data folder's localbus (or reuse the one running there) with the local token and
CA, and watch it so it comes back if it dies. Databricks: OAuth client credentials of the ZeroBus
service principal. Either way the durable spool that goes with the target, and one `close()` for
what must be stopped at exit.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from zerostream_desktop.core.ingest.spool import DEFAULT_MAX_RECORDS, Spool, SpoolBusyError, claim_spool
from zerostream_desktop.core.ingest.streamer import Streamer, Target
from zerostream_desktop.core.ingest.streams import StreamGroup
from zerostream_desktop.core.ingest.targets import databricks_target, local_target, spool_folder, spool_stem
from zerostream_desktop.core.settings import Settings
from zerostream_desktop.localbus.supervisor import LocalStack, LocalStackError
from zerostream_desktop.localbus.watchdog import LocalStackWatchdog, StackListener

log = logging.getLogger(__name__)


class StreamTargetError(RuntimeError):
    """The target cannot be opened; the message says why and what to do."""


@dataclass
class StreamConnection:
    settings: Settings
    target: Target
    spool: Spool
    watchdog: LocalStackWatchdog | None = None  # local only: run `watchdog.run()` to keep localbus up
    more_spools: list[Spool] = field(default_factory=list)  # with several streams: those of streams 2 to N
    producer: str = "app"

    @property
    def spools(self) -> list[Spool]:
        """One spool per stream, the first stream's first."""
        return [self.spool, *self.more_spools]

    def add_spool(self) -> Spool:
        """A spool for one more stream (`<producer>-<n>`, the same bound as the first); blocks on files."""
        try:
            spool = claim_spool(self.spool.path.parent, spool_stem(self.target), self.producer,
                                max_records=self.spool.max_records)  # fmt: skip
        except (SpoolBusyError, OSError) as exc:
            raise StreamTargetError(str(exc)) from exc
        self.more_spools.append(spool)
        return spool

    def group(self, auto: bool = False, **options: Any) -> StreamGroup:
        """A streamer per spool (`options` are the Streamer's); with `auto`, one more stream (and spool) each
        time the offered rate needs it (`StreamGroup.plan_for`)."""
        grow = (lambda: Streamer(self.target, self.add_spool(), **options)) if auto else None
        return StreamGroup([Streamer(self.target, spool, **options) for spool in self.spools], grow=grow)

    @property
    def stack(self) -> LocalStack | None:
        """The localbus streamed to now (the watchdog may have started a new one)."""
        return self.watchdog.stack if self.watchdog is not None else None

    def close(self, timeout: float = 30.0) -> None:
        """Stop localbus if we started it (it drains and acknowledges first); close the spool."""
        stack = self.stack
        if stack is not None:
            stack.stop(timeout)
        for spool in self.spools:
            spool.close()


def open_stream_target(
    settings: Settings,
    *,
    producer: str = "app",
    spool_max: int = DEFAULT_MAX_RECORDS,
    restart_delay_s: float = 1.0,
    on_stack_change: StackListener | None = None,
    executor: Executor | None = None,
    streams: int | None = None,
) -> StreamConnection:
    """Blocks (starts a process, opens files): call it off the UI thread.

    `producer` names this process's spool (`app`, `stream`, `web`): each producer holds its own,
    locked; with `streams` > 1 it holds one per stream (`<producer>`, `<producer>-2`...), and the
    spool total `spool_max` is shared between them. By default ZEROBUS_STREAMS says how many (one to
    begin with when it is "auto": `group(auto=True)` opens more as they are needed).
    `on_stack_change(stack, why)` hears of localbus starting, dying and coming back.
    """
    if streams is None:
        streams = 1 if settings.zerobus_streams == "auto" else settings.zerobus_streams
    stack = None
    spools: list[Spool] = []
    try:
        if settings.endpoint == "local":
            from zerostream_desktop.localbus.supervisor import start_local_stack
            from zerostream_desktop.localbus.token import ensure_token

            token = ensure_token()
            stack = start_local_stack(settings.data_dir, token)
            target = local_target(settings, stack.endpoint, token, stack.ca_cert)
        else:
            target = databricks_target(settings)
        share = max(1, spool_max // streams)
        for _ in range(streams):
            spools.append(claim_spool(spool_folder(settings), spool_stem(target), producer, max_records=share))
    except (LocalStackError, SpoolBusyError, OSError, ValueError) as exc:
        for spool in spools:
            spool.close()
        if stack is not None:
            stack.stop()
        if on_stack_change is not None and settings.endpoint == "local":
            on_stack_change(None, str(exc))
        raise StreamTargetError(str(exc)) from exc
    watchdog = None
    if stack is not None:
        watchdog = LocalStackWatchdog(stack, restart_delay_s=restart_delay_s, executor=executor,
                                      on_change=on_stack_change)  # fmt: skip
        if on_stack_change is not None:
            on_stack_change(stack, "")
    return StreamConnection(settings, target, spools[0], watchdog, spools[1:], producer)
