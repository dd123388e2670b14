"""``oxwizard monitor``: the checks repeated on live for N rounds, then a verdict."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from oxwizard.commands.common import add_env, add_json, add_project, open_env, print_json, project_from, say
from oxwizard.errors import UsageError

if TYPE_CHECKING:
    from oxwizard.runbook import Runbook
    from oxwizard.runbook_repo import RunbookRepo


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "monitor",
        help="repeat the checks on live for a monitoring window; exit 0 healthy, 1 a check failed",
        description="Run the project's checks on the live environment every INTERVAL seconds for N "
        "rounds, comparing with the newest baseline recorded in PROJECT/.oxwizard/evidence/ when there "
        "is one. Each round and the verdict are recorded in the newest runbook. It never rolls back "
        "by itself: run `oxwizard rollback` when it recommends it.",
    )
    add_env(p)
    add_project(p)
    add_json(p)
    p.add_argument("--rounds", type=int, default=None, metavar="N", help="rounds (default: [tool.oxwizard])")
    p.add_argument("--interval", type=float, default=None, metavar="S", help="seconds between rounds")
    p.set_defaults(run=run)


def newest_baseline(project: Path) -> Path | None:
    found = sorted((project / ".oxwizard" / "evidence").glob("*/baseline.json"))
    return found[-1] if found else None


def run(args: argparse.Namespace) -> int:
    from oxwizard.checks.monitor import monitor
    from oxwizard.checks.result import CheckSet, load_checkset
    from oxwizard.config import load_project_config
    from oxwizard.runbook import Decision, Evidence

    project = project_from(args)
    if not project.is_dir():
        raise UsageError(f"project folder not found: {project}")
    config = load_project_config(project)
    rounds = args.rounds if args.rounds is not None else config.monitor_rounds
    interval = args.interval if args.interval is not None else config.monitor_interval
    if rounds < 1 or interval < 0:
        raise UsageError("--rounds must be at least 1 and --interval 0 or more")
    env = open_env(args)
    baseline_path = newest_baseline(project)
    baseline = load_checkset(baseline_path) if baseline_path else None
    quiet = bool(args.json)
    if not quiet:
        say(f"baseline: {baseline_path}" if baseline_path else "baseline: none recorded (absolute checks)")
    runbook, repo = _latest_runbook(project)

    def on_round(n: int, cs: CheckSet) -> None:
        if not quiet:
            say(f"round {n}/{rounds}: {'healthy' if cs.ok else 'FAILED'}")
            for r in cs.results:
                if r.status != "skip":
                    say(f"  {r.status:4} {r.name}: {r.summary}")
        if runbook is not None and repo is not None:
            counts = {"failed_checks": float(len(cs.failed))}
            repo.decide(
                runbook,
                Decision(
                    step="monitor",
                    question=f"Monitoring round {n}: healthy?",
                    answer="healthy" if cs.ok else "failed: " + ", ".join(r.name for r in cs.failed),
                    evidence=Evidence(counts=counts),
                ),
            )

    try:
        result = monitor(
            env, project, config, rounds=rounds, interval=interval, baseline=baseline, on_round=on_round
        )
        verdict = "declare success" if result.healthy else "roll back recommended"
        if runbook is not None and repo is not None:
            repo.decide(
                runbook, Decision(step="monitor-verdict", question="Monitoring verdict?", answer=verdict)
            )
    finally:
        if repo is not None:
            repo.close()
    if quiet:
        data = result.model_dump(mode="json")
        data.update(healthy=result.healthy, verdict=verdict)
        print_json(data)
    else:
        say(f"verdict: {verdict}" + ("" if result.healthy else " (run `oxwizard rollback`)"))
    return 0 if result.healthy else 1


def _latest_runbook(project: Path) -> tuple[Runbook, RunbookRepo] | tuple[None, None]:
    from oxwizard.runbook_repo import RunbookRepo

    if not (project / ".oxwizard" / ".git").is_dir():
        return None, None
    repo = RunbookRepo(project / ".oxwizard")
    runbook = repo.latest()
    if runbook is None:
        repo.close()
        return None, None
    return runbook, repo
