"""``oxwizard resume``: pick up the unfinished upgrade of an environment, headless."""

from __future__ import annotations

import argparse
import sys

from oxwizard.commands.common import (
    add_env,
    add_index,
    add_project,
    existing_project,
    flags_from,
    index_from,
    open_env,
    say,
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "resume",
        help="continue the unfinished upgrade of this environment (checks on live, monitoring, verdict)",
        description="Continue the newest unfinished runbook of PROJECT/.oxwizard/ for this environment, "
        "where it stopped (a lost terminal, a quit, a crash). When the new version already reached "
        "live: the checks on live, the monitoring rounds and the verdict, recorded in the same runbook. "
        "When it had not: the upgrade is planned again from its targets and runs as `oxwizard upgrade` "
        "would (the old runbook is closed as re-planned). Nothing unfinished: says so, exit 0. With no "
        "terminal to ask and no --yes, a run on live is not resumed: nothing is done, exit 2.",
    )
    add_env(p)
    add_project(p)
    add_index(p)
    p.add_argument("--yes", "-y", action="store_true", help="answer every question with its default")
    p.add_argument("--verbose", "-v", action="store_true", help="stream installer and test output")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from oxwizard.commands.headless import HeadlessListener
    from oxwizard.commands.upgrade import finish, sigterm_as_exit
    from oxwizard.core.errors import UsageError
    from oxwizard.flow.upgrade import UpgradeFlow, close_unfinished, requirements_of, resume_flow, start_state

    project = existing_project(args)
    flags = flags_from(args)
    env = open_env(args)
    index = index_from(args, env, flags)
    info, last = start_state(project, env)
    if info is None:
        say(f"nothing to resume: last {last}" if last else "nothing to resume: no unfinished upgrade here")
        return 0
    sigterm_as_exit()
    listener = HeadlessListener(assume_yes=args.yes, verbose=args.verbose)
    rb = info.runbook
    if info.live_touched:
        if not args.yes and not sys.stdin.isatty():  # the verdict would be given by nobody: nothing is done
            raise UsageError(
                f"nothing was done: {' '.join(rb.targets)} is on live and resuming ends in a verdict, with "
                "no terminal to ask it: pass --yes (success when the checks pass, else roll back), or undo "
                "the upgrade with oxwizard rollback"
            )
        say(f"resuming {rb.id}: {' '.join(rb.targets)} is on live; checks on live, monitoring, verdict")
        flow = resume_flow(env, project, info, index, listener)
        return finish(flow, flow.run_from_live(), assume_yes=args.yes)
    say(f"resuming {rb.id}: the upgrade is not on live; planning {' '.join(rb.targets)} again")
    flow = UpgradeFlow(
        env, project, requirements_of(rb), index, listener=listener, options=rb.options, config=rb.checks
    )
    flow.prepare()
    assert flow.runbook is not None
    close_unfinished(project, info, f"re-planned: continued as {flow.runbook.id}")
    return finish(flow, flow.run(), assume_yes=args.yes)
