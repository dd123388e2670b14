"""The project's tests, read from a machine format — and the warnings they raised.

The command is the configured one, else pytest when the target env has it and the project has
tests, else the standard library's unittest discovery. Results come from pytest's JUnit XML, from
unittest's verbose result lines, or from a plain ``N passed, N failed`` line — never from the exit
code alone. The same run yields the warnings check (DeprecationWarning, PendingDeprecationWarning,
FutureWarning), grouped by category, message and source.
"""

from __future__ import annotations

import re
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from oxwizard.checks.result import CheckResult
from oxwizard.checks.runner import describe_failure, last_line, run_command
from oxwizard.config import ChecksConfig
from oxwizard.environment import Environment

_UNITTEST_HEAD = re.compile(r"^(?P<name>\w+) \((?P<where>[\w.]+)\)(?:\s.*?)? \.\.\. ?(?P<rest>.*)$")
_UNITTEST_NAME_ONLY = re.compile(r"^\w+ \([\w.]+\)$")  # a test with a docstring: "... outcome" follows
_OUTCOME = re.compile(r"^(ok|FAIL|ERROR|skipped.*|expected failure|unexpected success)$")
_PLAIN = re.compile(
    r"^(?:\w+:\s*)?(?P<passed>\d+) passed, (?P<failed>\d+) failed(?:, (?P<skipped>\d+) skipped)?\s*$", re.M
)
_WARNING = re.compile(
    r"^(?P<source>[^\s:][^:]*):(?P<line>\d+): "
    r"(?P<cat>DeprecationWarning|PendingDeprecationWarning|FutureWarning): (?P<msg>.+)$",
    re.MULTILINE,
)


@dataclass
class TestRun:
    """Per-test outcomes of one run."""

    outcomes: dict[str, str] = field(default_factory=dict)  # name -> passed|failed|error|skipped
    counts: Counter[str] = field(default_factory=Counter)
    source: str = ""


def test_command(env: Environment, project: Path, config: ChecksConfig) -> tuple[list[str], bool]:
    """The command to run, and whether it writes JUnit XML (pytest)."""
    if config.test_command:
        return list(config.test_command), False
    has_pytest = any((p / "pytest").is_dir() or (p / "_pytest").is_dir() for p in env.site_paths)
    tests = project / "tests"
    if has_pytest and (tests.is_dir() or any(project.glob("test_*.py"))):
        return ["python", "-m", "pytest", "-q", "-W", "default"], True
    argv = ["python", "-m", "unittest", "discover", "-v"]
    if tests.is_dir():
        argv += ["-s", "tests", "-t", "."]
    return argv, False


def run_tests(
    env: Environment,
    project: Path,
    config: ChecksConfig,
    *,
    baseline: CheckResult | None = None,
    upgraded: list[str] | None = None,
    baseline_warnings: CheckResult | None = None,
    on_line: Callable[[str], None] | None = None,
) -> tuple[CheckResult, CheckResult]:
    """Run the tests once; return the tests result and the warnings result."""
    argv, junit = test_command(env, project, config)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="oxwizard-tests-") as tmp:
        xml = Path(tmp) / "junit.xml"
        if junit:
            argv = [*argv, f"--junitxml={xml}"]
        done = run_command(
            env,
            argv,
            project,
            timeout=config.test_timeout,
            on_line=on_line,
            extra_env={"PYTHONWARNINGS": "default"},
        )
        output = done.stdout + ("\n" + done.stderr if done.stderr else "")
        run = _parse_junit(xml) if junit and xml.is_file() else _parse_text(output)
    duration = time.monotonic() - started
    tests = _tests_result(run, done.returncode, output, duration, baseline, argv)
    if (reason := describe_failure(done, "tests", config.test_timeout)) is not None:
        tests = tests.model_copy(update={"status": "fail", "summary": reason})
    warnings = _warnings_result(output, upgraded or [], baseline_warnings, duration)
    return tests, warnings


def _tests_result(
    run: TestRun, code: int, output: str, duration: float, baseline: CheckResult | None, argv: list[str]
) -> CheckResult:
    failing = sorted(n for n, o in run.outcomes.items() if o in ("failed", "error"))
    passing = sorted(n for n, o in run.outcomes.items() if o == "passed")
    numbers = {k: float(run.counts.get(k, 0)) for k in ("passed", "failed", "errors", "skipped")}
    details: dict[str, list[str]] = {"failing": failing, "passing": passing, "command": argv}
    total = sum(run.counts.values())
    if total == 0:
        # exit 5 is "no tests collected/ran" for pytest and for unittest since Python 3.12
        crashed = code not in (0, 5)
        status = "fail" if crashed else "warn"
        why = f"test runner crashed (exit {code}): {last_line(output)[:120]}" if crashed else "no tests found"
        return CheckResult(
            name="tests",
            status=status,
            summary=why,
            numbers=numbers,
            duration=duration,
            output=output[-20000:],
            details=details,
        )
    newly_failing: list[str] = []
    if baseline is not None:
        before_pass = set(baseline.details.get("passing", []))
        before_fail = set(baseline.details.get("failing", []))
        newly_failing = sorted(n for n in failing if n in before_pass or n not in before_fail)
        details["newly_failing"] = newly_failing
        details["newly_passing"] = sorted(n for n in passing if n in before_fail)
        bad = bool(newly_failing)
        if not run.outcomes:  # a plain "N passed, N failed" line: compare the counts
            before = baseline.numbers.get("failed", 0) + baseline.numbers.get("errors", 0)
            bad = run.counts["failed"] + run.counts["errors"] > before
    else:
        bad = bool(failing) or run.counts["failed"] + run.counts["errors"] > 0
    summary = f"{run.counts['passed']} passed · {run.counts['failed']} failed · {run.counts['errors']} errors"
    if run.counts["skipped"]:
        summary += f" · {run.counts['skipped']} skipped"
    if newly_failing:
        summary += f" · newly failing: {', '.join(_short(n) for n in newly_failing[:3])}"
        summary += "…" if len(newly_failing) > 3 else ""
    return CheckResult(
        name="tests",
        status="fail" if bad else "pass",
        summary=summary,
        numbers=numbers,
        duration=duration,
        output=output[-20000:],
        details=details,
    )


def _warnings_result(
    output: str, upgraded: list[str], baseline: CheckResult | None, duration: float
) -> CheckResult:
    groups: Counter[str] = Counter()
    for m in _WARNING.finditer(output):
        msg, cat, source = m.group("msg").strip(), m.group("cat"), Path(m.group("source")).name
        if upgraded and not _mentions(msg + " " + m.group("source"), upgraded):
            continue
        groups[f"{cat}: {msg} ({source})"] += 1
    before = set(baseline.details.get("groups", [])) if baseline else set()
    new = sorted(g for g in groups if g not in before) if baseline is not None else []
    total = sum(groups.values())
    summary = f"{total} warning(s) in {len(groups)} group(s)" if groups else "no deprecation warnings"
    if new:
        summary = f"{len(new)} new: {new[0]}" + (" …" if len(new) > 1 else "")
    return CheckResult(
        name="warnings",
        status="warn" if new else "pass",
        summary=summary,
        numbers={"warnings": float(total), "groups": float(len(groups)), "new": float(len(new))},
        duration=duration,
        details={"groups": sorted(groups), "new": new},
    )


def _mentions(text: str, names: list[str]) -> bool:
    low = text.lower()
    return any(n.lower() in low or n.replace("-", "_").lower() in low for n in names)


def _parse_junit(path: Path) -> TestRun:
    run = TestRun(source="junit")
    root = ET.parse(path).getroot()
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '')}.{case.get('name', '')}".strip(".")
        if case.find("failure") is not None:
            outcome, key = "failed", "failed"
        elif case.find("error") is not None:
            outcome, key = "error", "errors"
        elif case.find("skipped") is not None:
            outcome, key = "skipped", "skipped"
        else:
            outcome, key = "passed", "passed"
        run.outcomes[name] = outcome
        run.counts[key] += 1
    return run


def _parse_text(output: str) -> TestRun:
    run = TestRun(source="unittest")
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if _UNITTEST_NAME_ONLY.match(line) and i + 1 < len(lines) and " ..." in lines[i + 1]:
            # verbose unittest prints a docstring's first line under the name, then " ... outcome"
            line = f"{line} {lines[i + 1]}"
        head = _UNITTEST_HEAD.match(line)
        if head is None:
            continue
        word = head.group("rest").strip()
        if not _OUTCOME.match(word):
            # a test that printed (e.g. a warning) has its outcome on a later line of its own
            word = next((ln.strip() for ln in lines[i + 1 : i + 40] if _OUTCOME.match(ln.strip())), "")
        if not word:
            continue
        outcome, key = {
            "ok": ("passed", "passed"),
            "FAIL": ("failed", "failed"),
            "ERROR": ("error", "errors"),
            "expected failure": ("passed", "passed"),
            "unexpected success": ("failed", "failed"),
        }.get(word, ("skipped", "skipped"))
        where, name = head.group("where"), head.group("name")
        # Python >= 3.11 prints "name (module.Class.name)", older versions "name (module.Class)"
        run.outcomes[where if where.endswith(f".{name}") else f"{where}.{name}"] = outcome
        run.counts[key] += 1
    if run.outcomes:
        return run
    plain = list(_PLAIN.finditer(output))
    if plain:
        m = plain[-1]
        run.source = "plain"
        run.counts.update(
            passed=int(m.group("passed")), failed=int(m.group("failed")), skipped=int(m.group("skipped") or 0)
        )
    return run


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]
