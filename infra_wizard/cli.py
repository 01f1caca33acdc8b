"""`zerostream setup plan|apply|destroy`: the setup engine from a terminal, with progress per step."""

from __future__ import annotations

import argparse
import functools
import sys
import threading
from typing import TYPE_CHECKING, Any

from zerostream_desktop.core.arguments import ranged

if TYPE_CHECKING:
    from infra_wizard.engine import Context, Status, StepResult

# the engine (and the Databricks SDK under it, ~2.5 s to import here) loads when a command runs, not when
# every `zerostream` command builds its parser: localbus, stream and the rest start that much sooner


@functools.cache
def symbols() -> dict[Status, str]:
    from infra_wizard.engine import Status

    return {
        Status.EXISTS: "=", Status.MISSING: "+", Status.DRIFT: "!", Status.SKIPPED: "-", Status.CREATED: "+",
        Status.FAILED: "x", Status.REMOVED: "-", Status.KEPT: "=", Status.CANCELLED: "-",
    }  # fmt: skip


def register(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    what = "provision a Databricks workspace for ZeroStream (plan, apply, destroy)"
    p: argparse.ArgumentParser = sub.add_parser("setup", help=what)
    p.add_argument("action", choices=("plan", "apply", "destroy"), help="look, create what is missing, or remove")
    add_connection_arguments(p)
    p.add_argument("--lakebase", action=argparse.BooleanOptionalAction, default=False, help="include Lakebase")
    p.add_argument("--load-job", action=argparse.BooleanOptionalAction, default=False,
                   help="a secret scope holding the ZeroBus principal's secret, read by the load job that "
                   "`zerostream webapps build --shards N` writes")  # fmt: skip
    p.add_argument("--region", help="cloud region, to derive the ZeroBus endpoint when it is not set")
    p.add_argument("--include-data", action="store_true", help="destroy: drop the data table too")
    p.add_argument("--yes", action="store_true", help="destroy: do not ask for confirmation")
    p.add_argument("--allow-plaintext-keyring", action="store_true",
                   help="keep the principal's secret in a plain-file keyring backend all the same")  # fmt: skip
    p.set_defaults(func=run)
    return p


def print_result(r: StepResult, out: Any = None) -> None:
    mark = symbols()[r.status]
    print(f"  [{mark}] {r.title:<36} {r.status.value:<11} {r.detail}", file=out or sys.stdout, flush=True)


def add_connection_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", help="profile in ~/.databrickscfg (default DATABRICKS_CONFIG_PROFILE)")
    p.add_argument("--host", help="workspace URL (default DATABRICKS_HOST)")
    p.add_argument(
        "--timeout", type=ranged(float, 1, 3_600, "s"), default=60.0, help="give up on an unanswered workspace call (s)"
    )


def connect(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(settings, WorkspaceClient, secret store) from --profile/--host/--timeout and the settings."""
    from databricks.sdk import WorkspaceClient

    from zerostream_desktop.core.secrets import databricks_token_key, open_secret_store
    from zerostream_desktop.core.settings import databricks_config, resolve_settings

    flags = {"databricks_profile": args.profile, "databricks_host": args.host}
    flags["data_dir"] = getattr(args, "data_dir", None)
    settings, _ = resolve_settings({k: v for k, v in flags.items() if v})
    store = open_secret_store()
    token = store.get(databricks_token_key(settings.databricks_host)) if settings.databricks_host else None
    config = databricks_config(settings, retry_timeout_seconds=max(1, int(args.timeout)), token=token)
    return settings, WorkspaceClient(config=config), store


def context(args: argparse.Namespace) -> Context:
    from infra_wizard.engine import Context, Names, SetupState
    from zerostream_desktop.core import paths

    settings, workspace, store = connect(args)
    names = Names.from_settings(settings, lakebase=args.lakebase, region=args.region,
                                load_job=getattr(args, "load_job", False))  # fmt: skip
    folder = paths.user_config_dir()
    return Context(workspace, names, store, SetupState(workspace.config.host or "", folder), folder,
                   allow_plaintext_keyring=args.allow_plaintext_keyring)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from infra_wizard.engine import Status, apply, destroy, plan
    from infra_wizard.steps import all_steps

    try:
        ctx = context(args)
    except ValueError as exc:  # the SDK cannot configure credentials from what it was given
        print(f"zerostream setup: cannot sign in to the workspace: {exc}", file=sys.stderr)
        return 2
    steps = all_steps()
    print(f"Workspace {ctx.workspace.config.host}, table {ctx.names.full_table}, prefix {ctx.names.prefix}")
    if args.action == "plan":
        results = plan(ctx, steps)
        for r in results:
            print_result(r)
        if any(r.status is Status.FAILED for r in results):
            print("Could not check everything: fix what failed, then run the plan again.")
            return 1
        todo = sum(r.status is Status.MISSING for r in results)
        print(f"{todo} step(s) would create something; `zerostream setup apply` does it." if todo else "Nothing to do.")
        return 0
    if args.action == "apply":
        cancel = threading.Event()
        try:
            results = apply(ctx, steps, print_result, cancel)
        except KeyboardInterrupt:
            cancel.set()
            print("cancelled; what was created is recorded, and `apply` resumes from here", file=sys.stderr)
            return 130
        failed = [r for r in results if r.status is Status.FAILED]
        if failed:
            print(f"Stopped at {failed[0].title}. Fix it, then run `zerostream setup apply` again to resume.")
            return 1
        print(f"Done. Non-secret values are in {ctx.config_dir / 'generated_config.env'}; secrets in the keyring.")
        return 0
    if not args.yes:
        created = ", ".join(f"{c['kind']} {c['id']}" for c in ctx.state.created) or "nothing"
        answer = input(f"Remove what this tool created ({created})? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing removed.")
            return 1
    results = destroy(ctx, steps, include_data=args.include_data, progress=print_result)
    if not results:
        print("Nothing recorded as created by this tool in this workspace.")
    return 1 if any(r.status is Status.FAILED for r in results) else 0
