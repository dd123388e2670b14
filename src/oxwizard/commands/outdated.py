"""``oxwizard outdated``: installed distributions with newer versions available."""

from __future__ import annotations

import argparse

from oxwizard.commands.common import (
    add_env,
    add_index,
    add_json,
    flags_from,
    index_from,
    open_env,
    print_json,
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("outdated", help="list distributions with newer versions available")
    add_env(p)
    add_index(p)
    add_json(p)
    p.add_argument(
        "--target",
        choices=["major", "minor", "patch"],
        default="major",
        help="largest bump to consider for 'latest in target' (default: major)",
    )
    p.add_argument("--only", nargs="+", metavar="NAME", default=[], help="only these names")
    p.add_argument("--skip", nargs="+", metavar="NAME", default=[], help="leave these names out")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from oxwizard.env.outdated import find_outdated

    flags = flags_from(args)
    env = open_env(args)
    index = index_from(args, env, flags)
    rows = find_outdated(env, index, args.target, args.only, args.skip)
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("everything is up to date")
        return 0
    print(f"{'name':24} {'current':>10} {'target':>10} {'latest':>10}  impact")
    for r in rows:
        print(f"{r.name:24} {r.current:>10} {r.latest_in_target or '-':>10} {r.latest:>10}  {r.impact}")
    return 0
