"""``oxwizard monitor``: the checks repeated on live for N rounds, then a verdict.

The baseline is the newest ``PROJECT/.oxwizard/evidence/*/baseline.json`` (else only absolute checks
run). When the project's runbook repository has a runbook for this environment, the newest one gives
the upgraded distributions (for the import smoke of them and their dependents) and the recorded check
settings, and each round (with its check set as evidence) and the verdict are committed to it. The
verdict is "declare success" when every round is healthy, else "roll back recommended": this command
never rolls back by itself; ``oxwizard rollback`` does. When that runbook's upgrade is not on live
(rolled back, or never installed there) it says so, smokes no upgraded distribution, and its verdict
is live's health only (``HEALTHY``, ``FAILING`` of :mod:`oxwizard.checks.monitor`): there is no
upgrade to declare a success of or to roll back. Recorded after the run ended, none of this reopens
it (:func:`oxwizard.flow.upgrade.start_state`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from oxwizard.commands.common import (
    add_env,
    add_json,
    add_project,
    existing_project,
    open_env,
    print_json,
    say,
)
from oxwizard.core.errors import UsageError

if TYPE_CHECKING:
    from oxwizard.checks.result import CheckSet
    from oxwizard.env.environment import Environment
    from oxwizard.env.plan import Judged
    from oxwizard.runbook.model import Runbook
    from oxwizard.runbook.repo import RunbookRepo


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "monitor",
        help="repeat the checks on live for a monitoring window; exit 0 healthy, 1 a check failed",
        description="Run the project's checks on the live environment every INTERVAL seconds for N "
        "rounds, comparing with the newest baseline recorded in PROJECT/.oxwizard/evidence/ when there "
        "is one (else only absolute checks). Each round and the verdict are recorded in the newest "
        "runbook of this environment. It never rolls back by itself: run `oxwizard rollback` when it "
        "recommends it.",
    )
    add_env(p)
    add_project(p)
    add_json(p)
    p.add_argument(
        "--rounds", type=int, default=None, metavar="N", help="rounds (default: monitor-rounds, 3)"
    )
    p.add_argument(
        "--interval",
        type=float,
        default=None,
        metavar="S",
        help="seconds between rounds (default: monitor-interval, 2)",
    )
    p.set_defaults(run=run)


def newest_baseline(project: Path) -> Path | None:
    """The most recently written ``baseline.json`` of the project's evidence, if any."""
    from oxwizard.core.places import runbook_repo_path

    found = (runbook_repo_path(project) / "evidence").glob("*/baseline.json")
    ranked = sorted(found, key=lambda p: (p.stat().st_mtime_ns, str(p)))
    return ranked[-1] if ranked else None


def _judged(project: Path, env: Environment, runbook: Runbook | None) -> Judged:
    """When the upgrade's project files were written (on a branch, or as a patch): the project's own
    requirements they rewrite, judged as the checks on live judged them (until the project is
    installed again from the edited files, the installed one keeps its old requirement)."""
    from oxwizard.env.plan import cleared_by_pins
    from oxwizard.env.project_files import own_distribution

    pins = runbook.last("pins") if runbook is not None else None
    if (
        runbook is None
        or runbook.plan is None
        or pins is None
        or not pins.answer.startswith(("committed", "written"))
    ):
        return {}
    return cleared_by_pins(own_distribution(project, env.distributions), runbook.plan)


def run(args: argparse.Namespace) -> int:
    from oxwizard.checks.monitor import (
        FAILING,
        HEALTHY,
        ROLL_BACK,
        SUCCESS,
        monitor,
        record_round,
        record_verdict,
    )
    from oxwizard.checks.result import load_checkset
    from oxwizard.core.config import load_project_config
    from oxwizard.flow.upgrade import flow_options, where_the_upgrade_is

    project = existing_project(args)
    if args.rounds is not None and args.rounds < 1:
        raise UsageError("--rounds must be at least 1")
    if args.interval is not None and args.interval < 0:
        raise UsageError("--interval must be 0 or more")
    quiet = bool(args.json)
    tell = (lambda line: None) if quiet else say
    env = open_env(args)
    baseline_path = newest_baseline(project)
    baseline = load_checkset(baseline_path) if baseline_path else None
    tell(f"baseline: {baseline_path}" if baseline_path else "baseline: none recorded (absolute checks only)")
    runbook, repo = _latest_runbook(project, env, tell)
    try:
        config = runbook.checks if runbook is not None else load_project_config(project)
        options = flow_options(config, rounds=args.rounds, interval=args.interval)
        rounds, interval = options.monitor_rounds, options.monitor_interval
        planned = _upgraded(runbook)
        where = where_the_upgrade_is(runbook) if runbook is not None and planned else "on live"
        gone = None if where == "on live" else where
        upgraded = planned if gone is None else []
        if runbook is not None:
            said = f"upgraded: {', '.join(upgraded) or 'none'}"
            if gone is not None:
                said = f"its upgrade of {', '.join(planned)} {gone}: monitoring live as it is"
            tell(f"runbook: {runbook.id} (checks as recorded; {said})")

        def on_round(n: int, cs: CheckSet) -> None:
            tell(f"round {n}/{rounds}: {'healthy' if cs.ok else 'FAILED'}")
            for r in cs.results:
                if r.status != "skip":
                    tell(f"  {r.status:4} {r.name}: {r.summary}")
            if runbook is not None and repo is not None:
                record_round(repo, runbook, n, rounds, cs, command=["oxwizard", "monitor"])

        result = monitor(
            env,
            project,
            config,
            rounds=rounds,
            interval=interval,
            baseline=baseline,
            upgraded=upgraded,
            on_round=on_round,
            judged=_judged(project, env, runbook) if gone is None else None,
        )
        if gone is None:
            verdict = SUCCESS if result.healthy else ROLL_BACK
        else:
            verdict = HEALTHY if result.healthy else FAILING
        if runbook is not None and repo is not None:
            record_verdict(repo, runbook, verdict, [r for cs in result.rounds for r in cs.failed])
    finally:
        if repo is not None:
            repo.close()
    if quiet:
        data = result.model_dump(mode="json")
        data.update(
            healthy=result.healthy,
            verdict=verdict,
            baseline=str(baseline_path) if baseline_path else None,
            runbook=runbook.id if runbook is not None else None,
        )
        print_json(data)
    else:
        advice = " (run `oxwizard rollback` to roll back)" if verdict == ROLL_BACK else ""
        say(f"verdict: {verdict}{advice}")
    return 0 if result.healthy else 1


def _upgraded(runbook: Runbook | None) -> list[str]:
    """The distributions the runbook's plan installs (their imports, and their dependents', are smoked)."""
    if runbook is None or runbook.plan is None:
        return []
    return sorted({c.name for c in runbook.plan.changes if c.to_version is not None})


def _latest_runbook(
    project: Path, env: Environment, tell: Callable[[str], None]
) -> tuple[Runbook, RunbookRepo] | tuple[None, None]:
    """The newest runbook of the project's repository, when it was recorded for this environment."""
    from oxwizard.core.places import runbook_repo_path
    from oxwizard.runbook.repo import RunbookRepo

    if not (runbook_repo_path(project) / ".git").is_dir():
        return None, None
    repo = RunbookRepo.for_project(project)
    try:
        runbook = repo.latest()
    except BaseException:
        repo.close()
        raise
    if runbook is None or not runbook.is_for(env.prefix):
        if runbook is not None:
            tell(f"runbook {runbook.id} is for {runbook.environment.prefix}: nothing recorded")
        repo.close()
        return None, None
    return runbook, repo
