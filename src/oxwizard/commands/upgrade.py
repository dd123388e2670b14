"""``oxwizard upgrade``: the whole flow, headless."""

from __future__ import annotations

import argparse
import os
import shlex
from typing import TYPE_CHECKING

from oxwizard.commands.common import (
    add_break_system_packages,
    add_env,
    add_index,
    add_installer,
    add_project,
    existing_project,
    flags_from,
    index_from,
    note,
    open_env,
    say,
    say_sources,
)
from oxwizard.core.errors import UsageError

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from oxwizard.env.environment import Environment
    from oxwizard.env.outdated import Target
    from oxwizard.env.specs import IndexOptions
    from oxwizard.flow.upgrade import FlowOutcome, UpgradeFlow


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "upgrade",
        help="plan, checkpoint, stage, test, promote and verify an upgrade, headless",
        description="Run the whole upgrade flow without the wizard: plan -> checkpoint -> staging clone "
        "-> install in staging -> pip check, import smoke, tests -> promote to live -> the same checks "
        "on live. A failed gate stops the flow; if live was touched it is rolled back automatically. "
        "With --yes, a risk summary that recommends waiting (e.g. predicted pip check problems) stops "
        "the flow before any change, with exit code 2, unless --force. "
        "Every step is recorded in the runbook repository PROJECT/.oxwizard/.",
    )
    p.add_argument(
        "specs", nargs="*", metavar="SPEC", help="PEP 508 requirement, e.g. 'oxzep7==1.5.0' (or --outdated)"
    )
    p.add_argument(
        "--outdated",
        action="store_true",
        help="upgrade every outdated distribution (as `oxwizard outdated` lists them) to its newest version "
        "within the bound (--patch, --minor, --major: the default). All are tried together in staging "
        "first; if the checks fail, subsets are tried in staging clones to name the culprits (one that "
        "breaks alone, or ones that only break together), and the largest set that passes is offered "
        "for promotion (--yes promotes it)",
    )
    bound = p.add_mutually_exclusive_group()
    for name, what in (("patch", "1.2.x"), ("minor", "1.x"), ("major", "any newer version")):
        bound.add_argument(
            f"--{name}", dest="bound", action="store_const", const=name,
            help=f"with --outdated: newest version within {what}",
        )  # fmt: skip
    p.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="NAME",
        help="with --outdated: leave this distribution as it is (repeatable)",
    )
    p.add_argument(
        "--parallel",
        type=int,
        default=None,
        metavar="N",
        help="with --outdated: culprit-search trials run at once, each in its own staging clone "
        "(default: half the cores, at most 4)",
    )
    add_env(p)
    add_project(p)
    add_index(p)
    p.add_argument(
        "--test-cmd",
        metavar="CMD",
        default=None,
        help="test command (split like a shell would, but never run by a shell)",
    )
    p.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="answer every question with its default; stops before any change (exit 2) when the risk "
        "summary recommends waiting, unless --force",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="with --yes, go ahead even when the risk summary recommends waiting",
    )
    p.add_argument("--no-stage", action="store_true", help="skip the staging clone (try on live)")
    p.add_argument(
        "--rounds",
        type=int,
        default=0,
        metavar="N",
        help="monitoring rounds on live after promotion (default: 0)",
    )
    p.add_argument(
        "--interval",
        type=float,
        default=None,
        metavar="S",
        help="seconds between monitoring rounds (default: from [tool.oxwizard])",
    )
    p.add_argument(
        "--update-pins",
        action="store_true",
        help="after the checks in staging pass, write the upgrade into the project's files (== pins, "
        "ranges that exclude it, --hash lines; lockfiles noted for their own tool) and commit them on "
        "a new git branch made in a separate worktree (your branch, index and working tree are not "
        "touched; your git hooks are not run; nothing is pushed); not a git project: a patch under "
        ".oxwizard/patches/. Asked with the diff; --yes writes",
    )
    p.add_argument(
        "--branch",
        metavar="NAME",
        default=None,
        help="with --update-pins: the new branch's name (default: oxwizard/RUNBOOK-ID)",
    )
    p.add_argument(
        "--raise-floors",
        action="store_true",
        help="with --update-pins: also move floors (>=1.4 -> >=2.0.1) that still admit the new version",
    )
    p.add_argument("--verbose", "-v", action="store_true", help="stream installer and test output")
    add_break_system_packages(p)
    add_installer(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from oxwizard.commands.headless import HeadlessListener
    from oxwizard.core.config import load_project_config
    from oxwizard.env.specs import parse_specs
    from oxwizard.flow.trials import default_parallel
    from oxwizard.flow.upgrade import UpgradeFlow, flow_options
    from oxwizard.safety.lock import env_lock

    if args.outdated == bool(args.specs):
        raise UsageError("give SPEC... or --outdated" + (", not both" if args.outdated else ""))
    if not args.outdated and (args.bound or args.exclude or args.parallel is not None):
        raise UsageError("--patch, --minor, --major, --exclude and --parallel go with --outdated")
    if args.outdated and args.no_stage:
        raise UsageError("--outdated tries the targets in staging clones: it cannot go with --no-stage")
    if args.parallel is not None and not 1 <= args.parallel <= (os.cpu_count() or 1):
        raise UsageError(f"--parallel must be between 1 and the number of cores ({os.cpu_count() or 1})")
    flags = flags_from(args)
    project = existing_project(args)
    config = load_project_config(project)
    if args.test_cmd is not None:
        try:
            argv = shlex.split(args.test_cmd)
        except ValueError as exc:
            raise UsageError(f"--test-cmd: {exc}") from None
        if not argv:
            raise UsageError("--test-cmd is empty")
        config = config.model_copy(update={"test_command": argv})
    if args.rounds < 0:
        raise UsageError("--rounds must be 0 or more")
    if args.branch is not None and not args.update_pins:
        raise UsageError("--branch needs --update-pins")
    if args.branch is not None:
        from oxwizard.runbook.project_branch import check_branch, git_top

        top = git_top(project)
        if top is None:
            raise UsageError(f"--branch: {project} is not in a git repository with a commit")
        check_branch(top, args.branch)  # refused now, not after the checks in staging
    options = flow_options(
        config,
        stage=not args.no_stage,
        rounds=args.rounds,
        interval=args.interval,
        update_pins=args.update_pins,
        pins_branch=args.branch,
        raise_floors=args.raise_floors,
    )
    given = [] if args.outdated else parse_specs(args.specs)  # a bad spec: refused before anything is said
    env = open_env(args)
    env.require_writable(args.break_system_packages)  # before anything runs
    if env.externally_managed:
        say(f"{env.root}: {env.managed_note}; --break-system-packages given: every install passes it")
    index = index_from(args, env, flags)
    say_sources(index)
    say(f"installer: {env.installer_line()}")
    reqs = outdated_targets(env, index, args.bound or "major", args.exclude) if args.outdated else given
    if not reqs:
        say("nothing to upgrade: no outdated distribution" + (" within the bound" if args.bound else ""))
        return 0
    sigterm_as_exit()
    listener = HeadlessListener(assume_yes=args.yes, verbose=args.verbose)
    flow = UpgradeFlow(
        env,
        project,
        reqs,
        index,
        listener=listener,
        options=options,
        config=config,
        allow_externally_managed=args.break_system_packages,
        isolate=args.outdated,
        parallel=args.parallel or default_parallel(),
    )
    # One lock from the plan to the verdict: no other run can slip in between the two, so the
    # staging clone can be made while the plan's dry run runs.
    flow.clone_while_planning = True
    with env_lock(env, "oxwizard upgrade " + " ".join(str(r) for r in reqs), on_stale=note):
        flow.prepare()
        if flow.risk is not None:  # shown before anything is changed, as in the wizard's plan panel
            say(f"          risk: {flow.risk.level}, {flow.risk.recommendation}")
            for reason in flow.risk.reasons:
                say(f"            - {reason}")
        plan = flow.plan
        waits = flow.risk is not None and flow.risk.recommendation == "wait"
        if args.yes and waits and not args.force and plan is not None and not plan.is_empty:
            why = "the risk summary says wait, and --yes does not override it (--force does)"
            if plan.resolutions:
                why += "; " + plan.resolutions[0].sentence()
            return finish(flow, flow.stop_before_change(why), assume_yes=args.yes)
        return finish(flow, flow.run(), assume_yes=args.yes)


def outdated_targets(
    env: Environment, index: IndexOptions, bound: Target, exclude: list[str]
) -> list[Requirement]:
    """``--outdated``: every outdated distribution pinned to its newest version within ``bound``."""
    from oxwizard.env.outdated import find_outdated
    from oxwizard.env.specs import parse_specs

    rows = find_outdated(env, index, bound, skip=exclude)
    pins = [
        f"{r.name}=={r.latest_in_target}" for r in sorted(rows, key=lambda r: r.name) if r.latest_in_target
    ]
    if pins:
        say(f"outdated ({bound}): {len(pins)} targets: {' '.join(pins)}")
    return parse_specs(pins)


def finish(flow: UpgradeFlow, outcome: FlowOutcome, *, assume_yes: bool) -> int:
    """The outcome's line, the runbook's path, and the exit code (2 for a decline asked of a person)."""
    say(
        f"{outcome.status}: {outcome.message}"
        if not outcome.message.startswith(outcome.status)
        else outcome.message
    )
    if flow.pins is not None:
        say(f"project files: {flow.pins.line()}")
        for note in [flow.pins.note, *flow.pins.notes]:
            say(f"  {note}")
        if flow.pins.evidence.patch:
            say((flow.project / flow.pins.evidence.patch).read_text("utf-8").rstrip("\n"))
    if flow.runbook is not None:
        say(f"runbook: {flow.repo_path / 'runbooks' / (flow.runbook.id + '.json')}")
    if outcome.status == "declined" and not assume_yes:
        return 2  # a stop before any change under --yes carries its own exit code (2)
    return outcome.exit_code


def sigterm_as_exit() -> None:
    """SIGTERM becomes SystemExit(143), so the flow's guard rolls live back before the exit."""
    import signal

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
