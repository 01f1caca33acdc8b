"""`zerostream verify`: check a provisioned workspace end to end, with a table of pass/fail and timings.

Exit 0 only when every check passes (a check that does not apply, such as Lakebase when the dashboard
does not read it, is skipped and says why); each failure names its fix.
"""

from __future__ import annotations

import argparse
import sys

from infra_wizard.cli import add_connection_arguments
from zerostream_desktop.commands.common import UsageError
from zerostream_desktop.core.arguments import ranged


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("verify", help="check the workspace end to end: sign-in, table, grants, a probe, the apps")
    add_connection_arguments(p)
    p.add_argument(
        "--probe-events", type=ranged(int, 1, 10_000), default=20, help="events the probe streams (default 20)"
    )
    p.add_argument(
        "--wait", type=ranged(float, 1, 7_200, "s"), default=300.0, help="how long to wait for the probe to show (s)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from infra_wizard.cli import connect
    from infra_wizard.engine import Context, Names, SetupState
    from infra_wizard.verify import Outcome, Verifier
    from zerostream_desktop.core import paths

    try:
        settings, client, store = connect(args)
    except ValueError as exc:
        raise UsageError(f"cannot sign in to the workspace: {exc}") from None
    folder = paths.user_config_dir()
    names = Names.from_settings(settings, lakebase=settings.analytics == "lakebase")
    ctx = Context(client, names, store, SetupState(client.config.host or "", folder), folder)
    print(f"Verifying {client.config.host}: table {names.full_table}, apps {names.mobile_app}, {names.dashboard_app}")
    verifier = Verifier(ctx, settings, probe_events=args.probe_events, timeout_s=args.wait,
                        say=lambda line: print(f"  {line}", flush=True))  # fmt: skip
    results = verifier.run()
    width = max(len(r.name) for r in results)
    print()
    for r in results:
        fix = f"\n  {'':<{width}}        fix: {r.fix}" if r.fix else ""
        print(f"  {r.outcome:<4}  {r.name:<{width}}  {r.seconds:6.2f} s  {r.detail}{fix}")
    bad = [r for r in results if r.outcome == Outcome.FAIL]
    if bad:
        print(f"\n{len(bad)} check(s) failed: {', '.join(r.name for r in bad)}", file=sys.stderr)
        return 1
    print("\nAll checks passed.")
    return 0
