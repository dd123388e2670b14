"""Data validation: a configured command (exit code 0 = valid) and/or schema checks of CSV/JSON files.

Schema format (JSON): ``{"type": "csv" | "json", "columns": {"name": "str" | "int" | "float"},
"required": ["name", ...]}``; a JSON data file is a list of objects checked the same way.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

from oxwizard.checks.result import CheckResult
from oxwizard.checks.runner import describe_failure, last_line, run_command
from oxwizard.core.config import ChecksConfig, DataSchema
from oxwizard.env.environment import Environment

_KINDS = {"int": int, "float": float}


def validate_data(env: Environment, project: Path, config: ChecksConfig) -> CheckResult:
    if not config.data_command and not config.data_schemas:
        return CheckResult(name="data", status="skip", summary="no data-command or data-schemas configured")
    started = time.monotonic()
    problems: list[str] = []
    passed: list[str] = []
    output = ""
    if config.data_command:
        done = run_command(env, config.data_command, project, timeout=config.command_timeout)
        output = done.stdout + done.stderr
        reason = describe_failure(done, "data command", config.command_timeout)
        if reason or not done.ok:
            problems.append(
                reason or f"data command failed (exit {done.returncode}): {last_line(output)[:120]}"
            )
        else:
            passed.append("data command")
    for schema in config.data_schemas:
        found = check_schema(project, schema)
        if found:
            problems += [f"{schema.file}: {p}" for p in found[:5]]
        else:
            passed.append(schema.file)
    summary = problems[0] if problems else f"valid: {', '.join(passed)}"
    return CheckResult(
        name="data",
        status="fail" if problems else "pass",
        summary=summary,
        numbers={"problems": float(len(problems)), "checked": float(len(passed) + len(problems))},
        duration=time.monotonic() - started,
        output=output[-5000:],
        details={"problems": problems},
    )


def check_schema(project: Path, schema: DataSchema) -> list[str]:
    data_path, schema_path = project / schema.file, project / schema.schema_file
    try:
        spec = json.loads(schema_path.read_text(encoding="utf-8"))
        columns: dict[str, str] = dict(spec.get("columns", {}))
        required: list[str] = list(spec.get("required", []))
    except (OSError, ValueError, AttributeError) as exc:
        return [f"schema {schema.schema_file} unreadable: {exc}"]
    try:
        if spec.get("type", "csv") == "json":
            rows = json.loads(data_path.read_text(encoding="utf-8"))
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                return ["expected a JSON list of objects"]
            header = sorted({k for r in rows for k in r})
        else:
            with data_path.open(newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                header = list(reader.fieldnames or [])
                rows = list(reader)
    except (OSError, ValueError) as exc:
        return [f"unreadable: {exc}"]
    out = [f"missing column {c}" for c in required if c not in header]
    for n, row in enumerate(rows, start=1):
        for column, kind in columns.items():
            value = row.get(column)
            if value in (None, "") and column in required:
                out.append(f"row {n}: {column} is empty")
            elif value not in (None, "") and kind in _KINDS:
                try:
                    _KINDS[kind](value)
                except (TypeError, ValueError):
                    out.append(f"row {n}: {column} is not {kind}: {value!r}")
    return out
