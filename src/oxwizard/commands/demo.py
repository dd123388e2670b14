"""``oxwizard demo``: build the offline demo sandbox, print its paths, open the wizard on it."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from oxwizard.commands.common import say
from oxwizard.commands.wizard import Reopen, prog


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="build the offline demo sandbox and open the wizard on it")
    p.add_argument(
        "dir",
        nargs="?",
        default=None,
        metavar="DIR",
        help="where to build it (default: a new temporary folder)",
    )
    p.add_argument("--no-launch", action="store_true", help="build and print the paths only")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from oxwizard.demo import build_demo

    root = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="oxwizard-demo-"))
    say(f"building the demo sandbox in {root} ...")
    demo = build_demo(root)
    say(f"wheelhouse  {demo.wheelhouse}")
    say(f"project     {demo.project}")
    say(f"environment {demo.venv}")
    say("try:")
    say(f"  {prog()} plan 'oxzep7==2.0.0' --env {demo.venv} --find-links {demo.wheelhouse} --no-index")
    if args.no_launch:
        return 0
    return launch(demo.venv, demo.project, demo.wheelhouse, demo.root)


def launch(venv: Path, project: Path, wheelhouse: Path, root: Path) -> int:
    """Open the wizard on the sandbox, offline: ``--find-links WHEELHOUSE --no-index``."""
    from oxwizard.commands.wizard import launch_app
    from oxwizard.tui.app import WizardApp
    from oxwizard.tui.tasks import Sources

    sources = Sources(find_links=[str(wheelhouse)], no_index=True)
    return launch_app(WizardApp(env_path=str(venv), project=project, sources=sources), Reopen.demo(root))
