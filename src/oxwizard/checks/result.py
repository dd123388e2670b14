"""Typed check results shared by every check, the flow, the CLI and the TUI."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

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
    calibration: list[float] = Field(default_factory=list)  # performance: the machine's speed around them
    # import smoke: the modules each leaf imported, for the next phase's preloads (in this run only:
    # not part of the evidence, some hundred kilobytes)
    _import_sets: dict[str, list[str]] = PrivateAttr(default_factory=dict)
    # tests: each failing test's error and the (file, line) frames of its traceback (in this run only)
    _failures: dict[str, tuple[str, list[tuple[str, int]]]] = PrivateAttr(default_factory=dict)

    @property
    def import_sets(self) -> dict[str, list[str]]:
        return self._import_sets

    @import_sets.setter
    def import_sets(self, value: dict[str, list[str]]) -> None:
        self._import_sets = value

    @property
    def failures(self) -> dict[str, tuple[str, list[tuple[str, int]]]]:
        return self._failures

    @failures.setter
    def failures(self, value: dict[str, tuple[str, list[tuple[str, int]]]]) -> None:
        self._failures = value

    @property
    def failed(self) -> bool:
        return self.status == "fail"


class LogMark(BaseModel):
    """Where a log file ended when the baseline was taken (so later phases read only what is new)."""

    model_config = ConfigDict(extra="forbid")

    path: str
    exists: bool
    size: int = 0
    inode: int = 0


class CheckSet(BaseModel):
    """The results of one phase (baseline, staging, live, a monitoring round)."""

    model_config = ConfigDict(extra="forbid")

    phase: Phase
    results: list[CheckResult] = Field(default_factory=list)
    log_marks: list[LogMark] = Field(default_factory=list)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if r.failed]

    @property
    def ok(self) -> bool:
        return not self.failed

    def get(self, name: str) -> CheckResult | None:
        return next((r for r in self.results if r.name == name), None)

    def with_result(self, result: CheckResult) -> CheckSet:
        """The same set with ``result`` in the place of the check of its name."""
        return self.model_copy(
            update={"results": [result if r.name == result.name else r for r in self.results]}
        )

    @property
    def new_warnings(self) -> list[str]:
        """Warnings new since the baseline; each must be acknowledged before promotion."""
        result = self.get("warnings")
        return list(result.details.get("new", [])) if result else []


CHECKSET_SCHEMA_VERSION = 1


class StoredCheckSet(BaseModel):
    """A check set as saved to disk (evidence in the runbook repository)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = CHECKSET_SCHEMA_VERSION
    checkset: CheckSet


def save_checkset(path: Path, checkset: CheckSet) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(StoredCheckSet(checkset=checkset).model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def load_checkset(path: Path) -> CheckSet:
    from pydantic import ValidationError

    from oxwizard.core.errors import UsageError

    try:
        stored = StoredCheckSet.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError) as exc:
        raise UsageError(f"{path}: not a readable check set: {str(exc).splitlines()[0]}") from None
    if stored.schema_version != CHECKSET_SCHEMA_VERSION:
        raise UsageError(f"{path}: schema_version: unknown version {stored.schema_version}")
    return stored.checkset
