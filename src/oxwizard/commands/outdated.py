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
    p = sub.add_parser(
        "outdated",
        help="list distributions with newer versions available",
        description="List installed distributions with newer versions available, as `pip list "
        "--outdated` would (the same sources, yanked files and Requires-Python honoured), asking the "
        "indexes directly and concurrently; answers are cached (see environment.md). A source that "
        "cannot be read is named on stderr, the distributions it could not answer for say "
        "'unknown (index unreachable)', and the exit code is 1.",
    )
    add_env(p)
    add_index(p)
    add_json(p)
    p.add_argument(
        "--target",
        choices=["major", "minor", "patch"],
        default="major",
        help="largest bump to consider for 'latest in target' (default: major)",
    )
    p.add_argument("--pre", action="store_true", help="consider pre-releases too (as pip's --pre)")
    p.add_argument("--only", nargs="+", metavar="NAME", default=[], help="only these names")
    p.add_argument("--skip", nargs="+", metavar="NAME", default=[], help="leave these names out")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from oxwizard.core.redact import redact_text
    from oxwizard.env.index import UNREACHABLE, IndexReader

    flags = flags_from(args)
    env = open_env(args)
    index = index_from(args, env, flags)
    reader = IndexReader(index)
    reader.warm()  # connections open while the rest is imported and the candidates worked out
    from oxwizard.env.outdated import outdated_report

    pre = args.pre or None
    report = outdated_report(env, index, args.target, args.only, args.skip, pre=pre, reader=reader)
    for error in report.errors:
        print(f"oxwizard: error: cannot read {redact_text(error)}", file=sys.stderr)
    code = 1 if report.errors else 0
    if args.json:
        unknown = [
            {"name": u.name, "current": u.current, "latest_in_target": None, "latest": None,
             "impact": None, "error": redact_text(u.error)}
            for u in report.unanswered
        ]  # fmt: skip
        print_json([*report.rows, *unknown])
        return code
    if not report.rows and not report.unanswered:
        print("everything is up to date")
        return code
    table = [("name", "current", "target", "latest", "impact")]
    table += [(r.name, r.current, r.latest_in_target or "-", r.latest, r.impact) for r in report.rows]
    # each column as wide as its longest cell (a calendar version is longer than 10), at least as before
    w = [max(least, *(len(row[i]) for row in table)) for i, least in enumerate((24, 10, 10, 10))]
    for name, current, target, latest, impact in table:
        print(f"{name:{w[0]}} {current:>{w[1]}} {target:>{w[2]}} {latest:>{w[3]}}  {impact}")
    for u in report.unanswered:
        print(f"{u.name:{w[0]}} {u.current:>{w[1]}}  {UNREACHABLE}")
    return code
