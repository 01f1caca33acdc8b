"""`zerostream setup plan|apply|destroy`: the setup engine's command line (infra_wizard/cli.py), plus
`apply --deploy-apps`, which then builds and deploys the web apps (the engine never imports them)."""

from __future__ import annotations

import argparse

from infra_wizard import cli as setup_cli


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = setup_cli.register(sub)
    p.add_argument("--deploy-apps", action="store_true", help="apply: then build and deploy the two web apps")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    code = setup_cli.run(args)
    if code != 0 or args.action != "apply" or not args.deploy_apps:
        return code
    from zerostream_desktop.commands.webapps_cmd import run_deploy

    print("Deploying the web apps…", flush=True)
    args.app, args.wait = "both", 1200.0
    return run_deploy(args)
