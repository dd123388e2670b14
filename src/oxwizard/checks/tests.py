"""The project's tests, read from a structured report — and the warnings they raised.

The command is the configured one, else pytest when the target env has it and the project has tests
or a pytest configuration, else the standard library's unittest discovery in the project's layout
(:func:`choose_command` says which and why). Results are never scraped from the output: under pytest
a small plugin of ours (``child/oxwizard_pytest_report.py``, passed with ``-p``) and under unittest a
runner of ours (``child/oxwizard_unittest_report.py``, in place of ``-m unittest``) write a JSON
report with each test's outcome and each warning with its category's MRO, message and origin. The
target env does not have oxwizard installed: the ``child`` folder is put on ``PYTHONPATH`` for the
test command only. A configured command that runs neither gives an "unknown" result with its exit
code.

The warnings check counts the deprecation family (any subclass of DeprecationWarning,
PendingDeprecationWarning or FutureWarning), grouped by category, message (memory addresses and the
env's and project's paths normalised) and origin (file relative to site-packages or to the project,
and line). New warnings are the groups absent from the baseline run.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from configparser import ConfigParser
from configparser import Error as ConfigError
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from oxwizard.checks.result import CheckResult
from oxwizard.checks.runner import command_env, describe_failure, last_line, run_command
from oxwizard.core import proc
from oxwizard.core.config import ChecksConfig
from oxwizard.env.environment import Environment

CHILD = Path(__file__).with_name("child")  # put on the test command's PYTHONPATH, nothing else in it
PYTEST_PLUGIN = "oxwizard_pytest_report"
UNITTEST_RUNNER = "oxwizard_unittest_report"
REPORT_VAR = "OXWIZARD_TEST_REPORT"
DEPRECATIONS = ("DeprecationWarning", "PendingDeprecationWarning", "FutureWarning")

Reader = Literal["pytest", "unittest", "unknown"]
_PYTHON = re.compile(r"python(\d+(\.\d+)?)?(\.exe)?", re.IGNORECASE)
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]+\b")
_SKIP_DIRS = {"node_modules", "build", "dist", "site-packages", "__pycache__"}


@dataclass(frozen=True)
class TestCommand:
    """What runs the tests: the argument list as run, how its results are read, and why it was chosen."""

    __test__ = False  # not a pytest test class

    argv: list[str]
    reader: Reader
    why: str
    pythonpath: list[str] = field(default_factory=list)  # project folders the tests need (src layout)


@dataclass
class TestRun:
    """Per-test outcomes and the warnings of one run, as its report gave them."""

    __test__ = False

    outcomes: dict[str, str] = field(default_factory=dict)  # id -> passed|failed|error|skipped
    warnings: list[dict[str, object]] = field(default_factory=list)
    source: str = ""
    failures: dict[str, tuple[str, list[tuple[str, int]]]] = field(
        default_factory=dict
    )  # id -> error, frames

    @property
    def counts(self) -> Counter[str]:
        keys = {"passed": "passed", "failed": "failed", "error": "errors", "skipped": "skipped"}
        return Counter(keys[o] for o in self.outcomes.values() if o in keys)


# -- which command --------------------------------------------------------------------------------
def choose_command(env: Environment, project: Path, config: ChecksConfig) -> TestCommand:
    """The test command for ``project`` in ``env``, how its results are read, and why it was chosen."""
    src = _src_path(env, project)
    if config.test_command:
        return _custom(list(config.test_command), src)
    pytest_config = pytest_configuration(project)
    tests_dir = _tests_dir(project)
    has_pytest = "pytest" in env.distributions
    if has_pytest and (pytest_config or tests_dir or _has_test_files(project)):
        where = f"configured in {pytest_config}" if pytest_config else "its defaults collect test_*.py"
        why = f"pytest is installed in the env ({where})"
        return TestCommand(["python", "-m", "pytest", "-p", PYTEST_PLUGIN], "pytest", _src_why(why, src), src)
    why = "pytest is not installed in the env: unittest discovery"
    if not has_pytest and pytest_config:
        why += f" (the pytest configuration in {pytest_config} is not used)"
    args = ["discover", "-v"]
    if tests_dir is not None:
        args += ["-s", tests_dir.name]
        if (tests_dir / "__init__.py").is_file():
            args += ["-t", "."]
            why += f" in {tests_dir.name}/ (a package: imported from the project root)"
        else:
            why += f" in {tests_dir.name}/ (no __init__.py: the folder itself is the top level)"
    elif src and not _has_test_files(project, skip=("src",)) and _has_test_files(project / "src"):
        args += ["-s", "src", "-t", "src"]
        why += " in src/ (test*.py beside the code)"
    else:
        why += " from the project root (test*.py beside the code)"
    return TestCommand(["python", "-m", UNITTEST_RUNNER, *args], "unittest", _src_why(why, src), src)


def tests_found(project: Path, config: ChecksConfig) -> bool:
    """Whether the project has tests to run (a configured command, a tests folder, test files)."""
    return bool(config.test_command) or _tests_dir(project) is not None or _has_test_files(project)


def _custom(argv: list[str], src: list[str]) -> TestCommand:
    at = _module_at(argv)
    if at is not None and argv[at] in ("pytest", "py.test"):
        return TestCommand(
            [*argv[: at + 1], "-p", PYTEST_PLUGIN, *argv[at + 1 :]], "pytest", "configured test-command", src
        )
    if at is not None and argv[at] == "unittest":
        return TestCommand(
            [*argv[:at], UNITTEST_RUNNER, *argv[at + 1 :]],
            "unittest",
            "configured test-command (run through oxwizard's unittest runner)",
            src,
        )
    if Path(argv[0]).name in ("pytest", "py.test"):
        argv = [argv[0], "-p", PYTEST_PLUGIN, *argv[1:]]
        return TestCommand(argv, "pytest", "configured test-command", src)
    why = "configured test-command: neither pytest nor unittest, its results cannot be read"
    return TestCommand(argv, "unknown", why, src)


def _module_at(argv: list[str]) -> int | None:
    """The index of the module name in ``python [options] -m MODULE ...``, else None."""
    if not argv or not _PYTHON.fullmatch(Path(argv[0]).name):
        return None
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "-m":
            return i + 1 if i + 1 < len(argv) else None
        if arg in ("-W", "-X"):
            i += 2
            continue
        if not arg.startswith("-") or arg == "-c":
            return None
        i += 1
    return None


def pytest_configuration(project: Path) -> str | None:
    """Where the project configures pytest (the file and section), as pytest looks for it."""
    for name in ("pytest.ini", ".pytest.ini"):
        if (project / name).is_file():
            return name
    pyproject = project / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            data = {}
        if "ini_options" in data.get("tool", {}).get("pytest", {}):
            return "pyproject.toml [tool.pytest.ini_options]"
    for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        if (project / name).is_file():
            parser = ConfigParser(interpolation=None)
            try:
                parser.read(project / name, encoding="utf-8")
            except (ConfigError, UnicodeDecodeError):
                continue
            if parser.has_section(section):
                return f"{name} [{section}]"
    return None


def _tests_dir(project: Path) -> Path | None:
    return next((project / n for n in ("tests", "test") if (project / n).is_dir()), None)


def _walk(root: Path, skip: tuple[str, ...] = ()) -> Iterator[Path]:
    """Python files under ``root``, hidden folders, environments and build output left out."""
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = [
            d
            for d in dirs
            if not d.startswith(".")
            and d not in _SKIP_DIRS
            and not (here == root and d in skip)
            and not (here / d / "pyvenv.cfg").exists()
        ]
        yield from (here / f for f in files if f.endswith(".py"))


def _has_test_files(root: Path, skip: tuple[str, ...] = ()) -> bool:
    if not root.is_dir():
        return False
    return any(p.name.startswith("test_") or p.name.endswith("_test.py") for p in _walk(root, skip))


def _src_path(env: Environment, project: Path) -> list[str]:
    """``["src"]`` when the project has a src layout whose packages the env cannot import (not
    installed, not even editable): the tests then find them as the project's own tooling would."""
    src = project / "src"
    if not src.is_dir():
        return []
    names = sorted(
        p.name if p.is_dir() else p.stem
        for p in src.iterdir()
        if (p.is_dir() and (p / "__init__.py").is_file()) or (p.suffix == ".py" and p.stem.isidentifier())
    )
    if not names:
        return []
    code = "import importlib.util, sys; print(all(importlib.util.find_spec(n) for n in sys.argv[1:]))"
    done = proc.run([str(env.python), "-c", code, *names], cwd=project, env=command_env(env), timeout=60)
    return [] if done.ok and done.stdout.strip().endswith("True") else ["src"]


def _src_why(why: str, src: list[str]) -> str:
    return why + ("; src/ on PYTHONPATH (its packages are not installed in the env)" if src else "")


# -- running and reading --------------------------------------------------------------------------
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
    """Run the tests once; return the tests result and the warnings result.

    ``upgraded`` is accepted for the callers' sake: a warning counts as new when it is absent from
    the baseline run, whichever distribution raised it (the baseline is the same project and env
    without the upgrade, so the upgrade is what changed).
    """
    command = choose_command(env, project, config)
    if on_line is not None:
        on_line(f"tests: {shlex.join(command.argv)} ({command.why})")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="oxwizard-tests-") as tmp:
        report = Path(tmp) / "report.json"
        path = [str(CHILD), *(str(project / p) for p in command.pythonpath)]
        extra = {"PYTHONWARNINGS": "default", "PYTHONPATH": os.pathsep.join(path), REPORT_VAR: str(report)}
        done = run_command(
            env, command.argv, project, timeout=config.test_timeout, on_line=on_line, extra_env=extra
        )
        output = done.stdout + ("\n" + done.stderr if done.stderr else "")
        # a runner of ours that wrote no report crashed: a run with no outcomes says so
        run = (read_report(report) or TestRun(source="none")) if command.reader != "unknown" else None
    duration = time.monotonic() - started
    if run is None:
        tests = _unknown_result(command, done.returncode, output, duration, baseline)
    else:
        tests = _tests_result(run, done.returncode, output, duration, baseline, command)
    if (reason := describe_failure(done, "tests", config.test_timeout)) is not None:
        tests = tests.model_copy(update={"status": "fail", "summary": reason})
    if run is None:
        warnings = CheckResult(
            name="warnings",
            status="skip",
            summary="not read: the test command is neither pytest nor unittest",
            duration=duration,
        )
    else:
        warnings = _warnings_result(run, env, project, baseline_warnings, duration)
    return tests, warnings


def read_report(path: Path) -> TestRun | None:
    """The report our plugin or runner wrote, or None when there is none (the runner crashed)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    outcomes = data.get("outcomes")
    warnings = data.get("warnings")
    run = TestRun(source=str(data.get("runner", "")))
    if isinstance(outcomes, dict):
        run.outcomes = {str(k): str(v) for k, v in outcomes.items()}
    if isinstance(warnings, list):
        run.warnings = [w for w in warnings if isinstance(w, dict)]
    failures = data.get("failures")
    for test, failure in (failures or {}).items() if isinstance(failures, dict) else ():
        try:
            frames = [(str(path), int(line)) for path, line in failure["frames"]]
            run.failures[str(test)] = (str(failure["error"]), frames)
        except (KeyError, TypeError, ValueError):
            continue
    return run


def _details(command: TestCommand) -> dict[str, list[str]]:
    return {"command": list(command.argv), "why": [command.why], "reader": [command.reader]}


def _unknown_result(
    command: TestCommand, code: int, output: str, duration: float, baseline: CheckResult | None
) -> CheckResult:
    """A command we cannot read: its exit code is all there is (0: warn, else fail unless the
    baseline run of the same kind of command exited non-zero too)."""
    details = _details(command)
    before = baseline.numbers.get("exit_code") if baseline is not None else None
    summary = f"unknown: the test command is neither pytest nor unittest; exit {code}"
    if code == 0:
        status = "warn"
    elif before is not None and before != 0:
        status, summary = "warn", summary + f" (as on the baseline: exit {before:.0f})"
    else:
        status = "fail"
        summary += f": {last_line(output)[:100]}" if last_line(output) else ""
    return CheckResult(
        name="tests",
        status=status,
        summary=summary,
        numbers={"exit_code": float(code)},
        duration=duration,
        output=output[-20000:],
        details=details,
    )


def _tests_result(
    run: TestRun, code: int, output: str, duration: float, baseline: CheckResult | None, command: TestCommand
) -> CheckResult:
    counts = run.counts
    failing = sorted(n for n, o in run.outcomes.items() if o in ("failed", "error"))
    passing = sorted(n for n, o in run.outcomes.items() if o == "passed")
    numbers = {k: float(counts.get(k, 0)) for k in ("passed", "failed", "errors", "skipped")}
    details = {"failing": failing, "passing": passing, **_details(command)}
    if not run.outcomes:
        # exit 5 is "no tests collected/ran" for pytest and our unittest runner
        crashed = code not in (0, 5)
        why = f"test runner crashed (exit {code}): {last_line(output)[:120]}" if crashed else "no tests found"
        return CheckResult(
            name="tests",
            status="fail" if crashed else "warn",
            summary=why,
            numbers=numbers,
            duration=duration,
            output=output[-20000:],
            details=details,
        )
    summary = f"{counts['passed']} passed · {counts['failed']} failed · {counts['errors']} errors"
    if counts["skipped"]:
        summary += f" · {counts['skipped']} skipped"
    if baseline is not None:
        before_pass = set(baseline.details.get("passing", []))
        before_fail = set(baseline.details.get("failing", []))
        newly_failing = [n for n in failing if n in before_pass or n not in before_fail]
        details["newly_failing"] = newly_failing
        details["newly_passing"] = sorted(n for n in passing if n in before_fail)
        details["failing_before"] = [n for n in failing if n not in newly_failing]
        bad = bool(newly_failing)
        summary += _names(" · newly failing: ", newly_failing)
        summary += _names(" · failing before too: ", details["failing_before"])
    else:
        bad = bool(failing)
        summary += _names(" · failing: ", failing)
    # not one test passed, and none failed because of the upgrade: the run proved nothing (a test
    # module that did not import before either), a warn, never a pass
    proved_nothing = not bad and not passing and bool(failing)
    result = CheckResult(
        name="tests",
        status="fail" if bad else "warn" if proved_nothing else "pass",
        summary=summary + (" · no test passed" if proved_nothing else ""),
        numbers=numbers,
        duration=duration,
        output=output[-20000:],
        details=details,
    )
    result.failures = {n: run.failures[n] for n in failing if n in run.failures}
    return result


def _names(label: str, names: list[str], limit: int = 3) -> str:
    if not names:
        return ""
    return label + ", ".join(short_name(n) for n in names[:limit]) + ("…" if len(names) > limit else "")


def short_name(name: str) -> str:
    """A test's own name: ``tests/test_x.py::T::test_a[1.5]`` and ``tests.test_x.T.test_a`` give
    ``test_a[1.5]`` and ``test_a``; a file pytest could not collect keeps its path."""
    if "::" in name:
        return name.rsplit("::", 1)[-1]
    if name.endswith(".py"):  # a test file that could not be collected: its path is its name
        return name
    return name.rsplit(".", 1)[-1]


# -- warnings -------------------------------------------------------------------------------------
def _warnings_result(
    run: TestRun, env: Environment, project: Path, baseline: CheckResult | None, duration: float
) -> CheckResult:
    groups: Counter[str] = Counter()
    where: dict[str, tuple[str, int]] = {}  # each group's first place: the line that was warned about
    for w in run.warnings:
        key = warning_key(w, env, project)
        if key is not None:
            groups[key] += 1
            lineno = w.get("lineno")
            where.setdefault(key, (str(w.get("filename", "")), lineno if isinstance(lineno, int) else 0))
    before = set(baseline.details.get("groups", [])) if baseline else set()
    new = sorted(g for g in groups if g not in before) if baseline is not None else []
    total = sum(groups.values())
    summary = f"{total} warning(s) in {len(groups)} group(s)" if groups else "no deprecation warnings"
    if new:
        summary = f"{len(new)} new: {new[0]}" + (" …" if len(new) > 1 else "")
    result = CheckResult(
        name="warnings",
        status="warn" if new else "pass",
        summary=summary,
        numbers={"warnings": float(total), "groups": float(len(groups)), "new": float(len(new))},
        duration=duration,
        details={"groups": sorted(groups), "new": new},
    )
    result.failures = {group: ("", [where[group]]) for group in new}  # the plan's predictions meet these
    return result


def warning_key(warning: dict[str, object], env: Environment, project: Path) -> str | None:
    """``Category: message (origin)`` for a deprecation-family warning, else None; the origin has
    its line when it is the project's own code.

    A subclass is named with the family it belongs to: ``lib.LibDeprecation (DeprecationWarning): …``.
    """
    mro = warning.get("mro")
    names = [str(n) for n in mro] if isinstance(mro, list) else []
    family = next((n for n in names if n in DEPRECATIONS), None)
    if family is None:
        return None
    category = str(warning.get("category", family))
    label = category if category == family else f"{category} ({family})"
    message = normalise_message(str(warning.get("message", "")), env, project)
    where, origin = _locate(str(warning.get("filename", "")), env, project)
    if where == "<project>" and not _in_an_env(origin):
        # the project's own line is stable across the upgrade; a library's lines move between its
        # versions, so there the same deprecation from the same file is the same warning
        origin += f":{warning.get('lineno', 0)}"
    return f"{label}: {message} ({origin})"


def _in_an_env(rel: str) -> bool:
    """A project-relative path inside some environment kept in the project (``.venv*``, a
    ``site-packages``): a library's file, not the project's own code."""
    return any(p in ("site-packages", "dist-packages") or p.startswith(".venv") for p in Path(rel).parts)


def _prefixes(env: Environment, project: Path) -> list[tuple[Path, str]]:
    """Known folders and how they are written in normalised text, most specific first."""
    pairs = [(p, "<site-packages>") for p in env.site_paths]
    pairs += [(env.stdlib, "<stdlib>"), (env.prefix, "<env>"), (project, "<project>")]
    out: list[tuple[Path, str]] = []
    for path, label in pairs:
        out.append((path, label))
        resolved = path.resolve()
        if resolved != path:
            out.append((resolved, label))
    return sorted(out, key=lambda pair: len(str(pair[0])), reverse=True)


def normalise_message(message: str, env: Environment, project: Path) -> str:
    """One line, memory addresses as ``0x…``, the env's and project's folders as placeholders (the
    staging clone and live have different prefixes)."""
    text = " ".join(message.split())
    text = _ADDRESS.sub("0x…", text)
    for path, label in _prefixes(env, project):
        text = text.replace(str(path), label)
    return text[:300]


def origin_of(filename: str, env: Environment, project: Path) -> str:
    """The file relative to site-packages, the project (or the stdlib / env, marked), else as given."""
    return _locate(filename, env, project)[1]


def _locate(filename: str, env: Environment, project: Path) -> tuple[str, str]:
    """(the known folder ``filename`` is in, the origin as :func:`origin_of` writes it); a relative
    name is the project's, as the runner saw it from the project folder; "" for none known."""
    if not filename or not os.path.isabs(filename):
        return "<project>", filename
    path = Path(filename)
    for folder, label in _prefixes(env, project):
        for candidate in (path, path.resolve()):
            if candidate.is_relative_to(folder):
                rel = candidate.relative_to(folder).as_posix()
                return label, rel if label in ("<site-packages>", "<project>") else f"{label}/{rel}"
    return "", filename
