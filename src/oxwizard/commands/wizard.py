"""``oxwizard wizard`` (and ``oxwizard`` with no sub-command): the full-screen wizard.

Kept light on purpose: this module imports neither the engine nor Textual at import time, and the
no-sub-command path (:func:`main`) does not build the parser of every other verb, so the first
screen paints as early as a minimal Textual app's would.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oxwizard.tui.app import WizardApp


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "specs", nargs="*", metavar="SPEC", help="targets to plan right away, e.g. 'oxzep7==1.5.0'"
    )
    p.add_argument(
        "--env",
        metavar="PATH",
        default=None,
        help="virtual environment folder or Python executable (default: $VIRTUAL_ENV, else ./.venv)",
    )
    p.add_argument("--project", metavar="DIR", default=None, help="the project folder (default: .)")
    group = p.add_argument_group("package sources")
    group.add_argument("--index-url", metavar="URL", default=None)
    group.add_argument("--extra-index-url", metavar="URL", action="append", default=[])
    group.add_argument("--find-links", metavar="DIR", action="append", default=[])
    group.add_argument("--no-index", action="store_true", help="use only --find-links")
    p.add_argument("--rounds", type=int, default=None, metavar="N", help="monitoring rounds after promotion")
    p.add_argument("--interval", type=float, default=None, metavar="S", help="seconds between rounds")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "wizard",
        help="open the full-screen wizard (also what `oxwizard` with no command does)",
        description="Prepare (plan, risk, staging, baseline, checkpoint), execute (install in staging, "
        "checks, promote, checks on live) and monitor an upgrade, with R to roll back from any screen.",
    )
    add_arguments(p)
    p.set_defaults(run=run)


def main(argv: Sequence[str] = ()) -> int:
    """The no-sub-command entry point: parse only the wizard's own options."""
    from oxwizard.cli import Parser

    parser = Parser(
        prog="oxwizard wizard",
        description="Prepare (plan, risk, staging, baseline, checkpoint), execute (install in staging, "
        "checks, promote, checks on live) and monitor an upgrade, with R to roll back from any screen.",
    )
    add_arguments(parser)
    return run(parser.parse_args(list(argv)))


def build_app(args: argparse.Namespace) -> WizardApp:
    from oxwizard.tui.app import WizardApp
    from oxwizard.tui.tasks import Sources

    sources = Sources(
        index_url=args.index_url,
        extra_index_urls=list(args.extra_index_url),
        find_links=[str(Path(p).resolve()) if "://" not in p else p for p in args.find_links],
        no_index=bool(args.no_index),
    )
    return WizardApp(
        env_path=args.env,
        project=Path(args.project or "."),
        sources=sources,
        specs=list(getattr(args, "specs", []) or []),
        monitor_rounds=args.rounds,
        monitor_interval=args.interval,
    )


def run(args: argparse.Namespace) -> int:
    from oxwizard.errors import UsageError

    for flag, value in (("--env", args.env), ("--project", args.project)):
        if value is not None and not Path(value).exists():
            # before the screen opens: a typo gets the same one-line error as every other verb
            raise UsageError(f"{flag}: no such file or folder: {value}")
    app = build_app(args)
    return launch_app(app)


def _exit_after_hangup(app: WizardApp) -> None:
    """With no terminal left, a UI that cannot exit on its own must not linger: once the running
    step has finished (the journal and runbook are consistent), give the app a moment, then end."""
    app.flow_done.wait()
    time.sleep(2.0)
    os._exit(129)


def launch_app(app: WizardApp) -> int:
    """Run the app; a hang-up (SSH lost) ends the UI but lets the running step finish."""

    def hangup(_signum: int, _frame: FrameType | None) -> None:
        # The terminal is gone: stop asking, let the flow thread finish its step and stop at the
        # next question (its runbook then shows where it stands; the next start offers resume).
        app.listener.abandon()
        app.call_later(app.exit, 129)
        threading.Thread(target=_exit_after_hangup, args=(app,), daemon=True).start()

    previous = signal.signal(signal.SIGHUP, hangup) if hasattr(signal, "SIGHUP") else None
    try:
        code = app.run()
    finally:
        if previous is not None:
            signal.signal(signal.SIGHUP, previous)
    if not app.flow_done.is_set():
        app.listener.abandon()
        print("oxwizard: waiting for the running step to finish (the environment stays consistent)…",
              file=sys.stderr)  # fmt: skip
        app.flow_done.wait()
        print("oxwizard: stopped; the next start offers to resume or roll back.", file=sys.stderr)
    return int(code or 0)
