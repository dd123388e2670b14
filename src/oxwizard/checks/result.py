"""Typed check results shared by every check, the flow, the CLI and the TUI."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CheckStatus = Literal["pass", "warn", "fail", "skip"]
Phase = Literal["baseline", "staging", "live", "monitor"]


class CheckResult(BaseModel):
    """One check's outcome: status, a one-line summary, numbers, duration and raw output."""

    model_config = ConfigDict(extra="forbid")

    name: str  # "tests", "warnings", "pip-check", "import-smoke", "requires-python",
    #            "performance", "error-logs", "data", "security"
    status: CheckStatus
    summary: str
    numbers: dict[str, float] = Field(default_factory=dict)
    duration: float = 0.0
    output: str = ""  # raw output, capped
    details: dict[str, list[str]] = Field(default_factory=dict)
    samples: list[float] = Field(default_factory=list)  # e.g. benchmark timings

    @property
    def failed(self) -> bool:
        return self.status == "fail"


class CheckSet(BaseModel):
    """The results of one phase (baseline, staging, live, a monitoring round)."""

    model_config = ConfigDict(extra="forbid")

    phase: Phase
    results: list[CheckResult] = Field(default_factory=list)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.failed]

    @property
    def ok(self) -> bool:
        return not self.failed

    def get(self, name: str) -> CheckResult | None:
        return next((r for r in self.results if r.name == name), None)

    @property
    def new_warnings(self) -> list[str]:
        """Warnings new since the baseline; each must be acknowledged before promotion."""
        result = self.get("warnings")
        return list(result.details.get("new", [])) if result else []
