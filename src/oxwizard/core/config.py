"""Check configuration: which checks run, with which commands and thresholds.

Defaults come from an optional ``[tool.oxwizard]`` table in the project's ``pyproject.toml``; the
resolved configuration is stored in the runbook so that a replay runs the same checks with the same
thresholds. Commands are argument lists (never a shell string).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from oxwizard.core.errors import UsageError


class DataSchema(BaseModel):
    """A data file (CSV or JSON) and the JSON schema-like description it must satisfy."""

    model_config = ConfigDict(extra="forbid")

    file: str
    schema_file: str = Field(alias="schema")


class ChecksConfig(BaseModel):
    """Every check's settings. Field aliases are the ``[tool.oxwizard]`` key spellings."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    test_command: list[str] | None = Field(default=None, alias="test-command")
    test_timeout: float = Field(default=900.0, alias="test-timeout")
    benchmark_command: list[str] | None = Field(default=None, alias="benchmark-command")
    benchmark_runs: int = Field(default=5, alias="benchmark-runs", ge=1, le=100)
    benchmark_threshold: float = Field(default=1.10, alias="benchmark-threshold", gt=0)
    log_files: list[str] = Field(default_factory=list, alias="log-files")
    log_pattern: str = Field(default="ERROR|CRITICAL|Traceback", alias="log-pattern")
    log_threshold: int = Field(default=0, alias="log-threshold", ge=0)
    data_command: list[str] | None = Field(default=None, alias="data-command")
    data_schemas: list[DataSchema] = Field(default_factory=list, alias="data-schemas")
    advisories: str | None = None
    command_timeout: float = Field(default=300.0, alias="command-timeout", gt=0)
    monitor_rounds: int = Field(default=3, alias="monitor-rounds", ge=1)
    monitor_interval: float = Field(default=2.0, alias="monitor-interval", ge=0)


def load_project_config(project: Path | None) -> ChecksConfig:
    """Read ``[tool.oxwizard]`` from ``project/pyproject.toml``; defaults when absent."""
    if project is None:
        return ChecksConfig()
    path = project / "pyproject.toml"
    if not path.is_file():
        return ChecksConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    table = data.get("tool", {}).get("oxwizard", {})
    try:
        return ChecksConfig.model_validate(table)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise UsageError(f"{path}: [tool.oxwizard] {loc}: {err['msg']}") from None
