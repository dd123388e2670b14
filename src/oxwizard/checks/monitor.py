"""The monitoring window: the checks repeated on live every INTERVAL for N rounds, then a verdict.

Both the flow (after an upgrade) and ``oxwizard monitor`` run it and record it the same way: each
round is one runbook decision with its check set as evidence, and the verdict one more.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from oxwizard.checks.result import CheckResult, CheckSet, save_checkset
from oxwizard.checks.suite import run_checks
from oxwizard.core.config import ChecksConfig
from oxwizard.env.environment import Environment
from oxwizard.runbook.model import Decision, Evidence, Runbook

if TYPE_CHECKING:
    from oxwizard.env.plan import Judged
    from oxwizard.runbook.repo import RunbookRepo

SUCCESS = "declare success"
ROLL_BACK = "roll back recommended"
# the verdicts of `oxwizard monitor` when the runbook's upgrade is not on live (rolled back, or never
# installed there): live's health only, no upgrade to declare a success of or to roll back
HEALTHY = "healthy (the upgrade is not on live: no success to declare)"
FAILING = "checks failed (the upgrade is not on live: nothing of it to roll back)"


class MonitorResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rounds: list[CheckSet] = Field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(r.ok for r in self.rounds)

    @property
    def verdict(self) -> str:
        return "declare success" if self.healthy else "roll back"

    def failures(self) -> list[str]:
        """One line per failed round: which round, which checks."""
        return [
            f"round {n} of {len(self.rounds)}: "
            + "; ".join(f"{r.name} failed ({r.summary})" for r in cs.failed)
            for n, cs in enumerate(self.rounds, start=1)
            if not cs.ok
        ]


def monitor(
    env: Environment,
    project: Path,
    config: ChecksConfig,
    *,
    rounds: int,
    interval: float,
    baseline: CheckSet | None,
    upgraded: list[str] | None = None,
    on_round: Callable[[int, CheckSet], None] | None = None,
    on_line: Callable[[str], None] | None = None,
    stop: threading.Event | None = None,
    judged: Judged | None = None,
) -> MonitorResult:
    """Run the rounds; ``stop`` (set from another thread) ends them at once, the round that was
    interrupted left out (its checks were killed: they are not evidence). ``judged``: the project's
    own requirements its files' edits rewrite, as the checks on live judge them (see
    :func:`~oxwizard.checks.compat.pip_check`): a round judges them the same way."""
    stop = stop or threading.Event()
    result = MonitorResult()
    for n in range(1, rounds + 1):
        if n > 1 and interval > 0 and stop.wait(interval):
            break
        if stop.is_set():
            break
        cs = run_checks(
            env,
            project,
            config,
            "monitor",
            upgraded=upgraded,
            baseline=baseline,
            on_line=on_line,
            judged=judged,
        )
        if stop.is_set():
            break
        result.rounds.append(cs)
        if on_round is not None:
            on_round(n, cs)
    return result


def record_round(
    repo: RunbookRepo, runbook: Runbook, n: int, total: int, cs: CheckSet, command: list[str] | None = None
) -> None:
    """One monitoring round as a runbook decision, its check set committed as evidence."""
    path = repo.path / "evidence" / runbook.id / "monitor.json"
    save_checkset(path, cs)
    counts = {f"{r.name}.{k}": v for r in cs.results for k, v in r.numbers.items()}
    counts["failed_checks"] = float(len(cs.failed))
    counts["round"], counts["rounds"] = float(n), float(total)
    answer = "healthy" if cs.ok else "failed: " + ", ".join(r.name for r in cs.failed)
    evidence = Evidence(
        command=command or [],
        counts=counts,
        duration=sum(r.duration for r in cs.results),
        detail="\n".join(f"{r.name}: {r.summary}" for r in cs.failed),
    )
    question = f"Monitoring round {n}: healthy?"
    repo.decide(
        runbook, Decision(step="monitor", question=question, answer=answer, evidence=evidence), [path]
    )


def record_verdict(repo: RunbookRepo, runbook: Runbook, verdict: str, failed: list[CheckResult]) -> None:
    """The verdict of ``oxwizard monitor`` (which never rolls back by itself)."""
    detail = "not rolled back by the monitor: run `oxwizard rollback`" if verdict == ROLL_BACK else ""
    evidence = Evidence(counts={"failed_checks": float(len(failed))}, detail=detail)
    decision = Decision(
        step="monitor-verdict", question="Monitoring verdict?", answer=verdict, evidence=evidence
    )
    repo.decide(runbook, decision)
