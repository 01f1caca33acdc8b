"""Keeps a data folder's localbus running: if the one we started dies (killed, crashed), start it again
on the same port.

The streamer needs no help: the SDK reconnects by itself and the spool resends what was not
acknowledged. Restarts back off (1 s, doubling to 30 s) while localbus keeps failing to start.
A localbus someone else started (another app, `zerostream localbus serve` in a terminal, with
options of its own) is not replaced: the watchdog says it is gone and picks it up again when its
owner brings it back. Used by the desktop app, `zerostream stream` and the web apps alike.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from urllib.parse import urlsplit

from zerostream_desktop.localbus.state import read_state
from zerostream_desktop.localbus.supervisor import LocalStack, LocalStackError, alive, start_local_stack

log = logging.getLogger(__name__)

MAX_DELAY_S = 30.0

# (the running stack or None, why it is not running or "")
StackListener = Callable[[LocalStack | None, str], None]


class LocalStackWatchdog:
    def __init__(
        self,
        stack: LocalStack,
        *,
        restart_delay_s: float = 1.0,
        poll_s: float = 1.0,
        executor: Executor | None = None,
        on_change: StackListener | None = None,
    ) -> None:
        self.stack = stack
        self.restart_delay_s = restart_delay_s
        self.poll_s = poll_s
        self.restarts = 0
        self._executor = executor
        self._on_change = on_change or (lambda stack, why: None)

    async def run(self) -> None:
        """Watch until cancelled."""
        loop = asyncio.get_running_loop()
        delay = self.restart_delay_s
        while True:
            await asyncio.sleep(self.poll_s)
            stack = self.stack
            if stack.running():
                delay = self.restart_delay_s
                continue
            if not stack.owned:
                await self._wait_for_owner(stack)
                continue
            code = stack.process.poll() if stack.process is not None else None
            why = f"exited with code {code}" if code is not None else "is gone"
            log.warning("localbus %s; restarting it in %.0f s (streaming reconnects and resends)", why, delay)
            self._on_change(None, f"localbus {why}; restarting…")
            await asyncio.sleep(delay)
            port = str(urlsplit(stack.endpoint).port)
            restart = functools.partial(start_local_stack, stack.data_dir, stack.token, extra_args=("--port", port))
            try:
                new = await loop.run_in_executor(self._executor, restart)
            except (LocalStackError, OSError) as exc:
                log.error("cannot restart localbus: %s", exc)
                self._on_change(None, str(exc))
                delay = min(delay * 2, MAX_DELAY_S)
                continue
            self.stack = new
            self.restarts += 1
            log.info("localbus is back at %s", new.endpoint)
            self._on_change(new, "")

    async def _wait_for_owner(self, stack: LocalStack) -> None:
        log.warning("localbus (started by another program) is gone; waiting for it to come back")
        self._on_change(None, "localbus (started by another program) is gone; waiting for it to come back")
        while True:
            state = read_state(stack.data_dir)
            if state and alive(int(state["pid"])):
                break
            await asyncio.sleep(self.poll_s)
        loop = asyncio.get_running_loop()
        try:
            self.stack = await loop.run_in_executor(self._executor, start_local_stack, stack.data_dir, stack.token)
        except (LocalStackError, OSError) as exc:
            self._on_change(None, str(exc))
            return
        log.info("localbus is back at %s", self.stack.endpoint)
        self._on_change(self.stack, "")
