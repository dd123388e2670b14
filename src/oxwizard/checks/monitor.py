"""The monitoring window: the checks repeated on live every INTERVAL for N rounds, then a verdict."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from oxwizard.checks.result import CheckSet
from oxwizard.checks.suite import run_checks
from oxwizard.config import ChecksConfig
from oxwizard.environment import Environment


class MonitorResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rounds: list[CheckSet] = Field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return all(r.ok for r in self.rounds)

    @property
    def verdict(self) -> str:
        return "declare success" if self.healthy else "roll back"


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
) -> MonitorResult:
    result = MonitorResult()
    for n in range(1, rounds + 1):
        if n > 1 and interval > 0:
            time.sleep(interval)
        cs = run_checks(
            env, project, config, "monitor", upgraded=upgraded, baseline=baseline, on_line=on_line
        )
        result.rounds.append(cs)
        if on_round is not None:
            on_round(n, cs)
    return result
