"""``oxwizard stage``: make a staging clone of an environment."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from oxwizard.commands.common import add_env, add_json, note, open_env, print_json, say


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "stage",
        help="make an isolated staging copy of an environment",
        description="Copy the environment (never hard links; reflinks where supported) with its own "
        "interpreter link, pyvenv.cfg and script shebangs, so an upgrade can be tried on the copy first. "
        "Default destination: a hidden sibling folder ENV_PARENT/.ENVNAME-stage (replaced if present). "
        "A system or base Python (not a venv, e.g. /usr/bin/python3) is cloned as a venv of the same "
        "interpreter holding a copy of every site directory it reads, in a new temporary folder "
        "($TMPDIR/oxwizard-stage-*), never beside its prefix. Refused (exit 2) while another oxwizard "
        "command holds the environment's lock, e.g. an upgrade whose staging clone this would replace.",
    )
    add_env(p)
    add_json(p)
    p.add_argument("--dest", metavar="DIR", default=None, help="where to put the clone")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from oxwizard.safety.lock import env_lock
    from oxwizard.safety.stage import create_stage

    env = open_env(args)
    started = time.monotonic()
    # under the environment's lock, as every command that writes: a running upgrade's staging clone
    # (the default destination) is never replaced under it
    with env_lock(env, "oxwizard stage", on_stale=note):
        stage = create_stage(env, Path(args.dest).expanduser() if args.dest else None)
    elapsed = time.monotonic() - started
    if args.json:
        print_json(
            {
                "env": str(env.root),
                "stage": str(stage.root),
                "python": str(stage.python),
                "fingerprint": stage.fingerprint(),
                "same_as_live": stage.fingerprint() == env.fingerprint(),
                "duration": round(elapsed, 3),
            }
        )
        return 0
    say(f"staging clone {stage.root} ({len(stage.distributions)} distributions, {elapsed:.2f} s)")
    say(f"python        {stage.python}")
    return 0
