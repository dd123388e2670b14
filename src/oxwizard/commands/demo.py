"""``oxwizard demo``: build the offline demo sandbox (or find the one built earlier in DIR), print its
paths, open the wizard on it."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from oxwizard.commands.common import say

if TYPE_CHECKING:
    from oxwizard.demo.sandbox import DemoSandbox


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="build the offline demo sandbox and open the wizard on it",
        description="Build the offline demo sandbox in DIR and open the wizard on it. On a sandbox "
        "built earlier, open the wizard on it again, as it was left.",
    )
    p.add_argument(
        "dir",
        nargs="?",
        default=None,
        metavar="DIR",
        help="where to build it: a new or empty folder, or a sandbox built earlier to reopen "
        "(default: a new temporary folder)",
    )
    p.add_argument("--no-launch", action="store_true", help="build (or find) it and print the paths only")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from oxwizard.commands.wizard import Reopen, prog
    from oxwizard.demo.sandbox import DemoSandbox, build_demo, require_buildable

    root = Path(args.dir).expanduser().resolve() if args.dir else None
    demo = DemoSandbox.existing(root) if root is not None else None
    if demo is not None:
        left = "" if args.no_launch else "; reopening it as it was left"
        say(f"the demo sandbox in {demo.root} exists (built earlier{left})")
    else:
        # refuse a folder that is neither empty nor a sandbox before saying anything else
        root = (
            require_buildable(root) if root is not None else Path(tempfile.mkdtemp(prefix="oxwizard-demo-"))
        )
        say(f"building the demo sandbox in {root} ...")
        demo = build_demo(root)
    say(f"wheelhouse  {demo.wheelhouse}")
    say(f"project     {demo.project}")
    say(f"environment {demo.venv}")
    if args.no_launch:
        say(f"open it:    {Reopen.demo(demo.root).command(None)}")
    say("try:")
    say(f"  {prog()} plan 'oxzep7==2.0.0' --env {demo.venv} --find-links {demo.wheelhouse} --no-index")
    return 0 if args.no_launch else launch(demo)


def launch(demo: DemoSandbox) -> int:
    """Open the wizard on the sandbox, offline: ``--find-links WHEELHOUSE --no-index --isolated`` (the
    sandbox's own wheels only, whatever the user's pip configuration says)."""
    from oxwizard.commands.wizard import Reopen, launch_app
    from oxwizard.tui.app import WizardApp
    from oxwizard.tui.tasks import Sources

    sources = Sources(find_links=[str(demo.wheelhouse)], no_index=True, isolated=True)
    app = WizardApp(env_path=str(demo.venv), project=demo.project, sources=sources)
    return launch_app(app, Reopen.demo(demo.root))
