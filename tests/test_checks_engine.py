"""The checks on the demo sandbox with real subprocesses and files (issue 4's acceptance)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from conftest import pip_install

from oxwizard.checks.logs import mark_logs, scan_logs
from oxwizard.checks.monitor import monitor
from oxwizard.checks.performance import run_benchmark
from oxwizard.checks.risk import assess
from oxwizard.checks.security import security_delta
from oxwizard.checks.suite import run_checks
from oxwizard.checks.tests import run_tests
from oxwizard.core.config import ChecksConfig, load_project_config
from oxwizard.demo.sandbox import DemoSandbox
from oxwizard.env.environment import Environment
from oxwizard.env.plan import compute_plan
from oxwizard.env.specs import IndexOptions, parse_specs

DemoFactory = Callable[[], DemoSandbox]


def test_baseline_then_150_then_200_on_the_demo(demo: DemoFactory) -> None:
    sandbox = demo()
    env = Environment.open(sandbox.venv)
    config = load_project_config(sandbox.project)
    lines: list[str] = []
    baseline = run_checks(env, sandbox.project, config, "baseline", on_line=lines.append)
    assert baseline.ok, [r.summary for r in baseline.failed]
    assert baseline.get("tests").numbers["passed"] == 8  # type: ignore[union-attr]
    assert len(baseline.get("performance").samples) == config.benchmark_runs  # type: ignore[union-attr]
    assert baseline.log_marks and baseline.log_marks[0].exists
    assert any("test_legacy_parse" in ln for ln in lines), "test output is streamed line by line"

    pip_install(sandbox, "oxzep7==1.5.0")
    env.refresh()
    on_150 = run_checks(env, sandbox.project, config, "staging", upgraded=["oxzep7"], baseline=baseline)
    assert on_150.ok, [r.summary for r in on_150.failed]
    assert any("oxzep7.legacy_parse is deprecated" in w for w in on_150.new_warnings)
    assert on_150.get("warnings").status == "warn"  # type: ignore[union-attr]
    assert on_150.get("data").status == "pass"  # type: ignore[union-attr]

    pip_install(sandbox, "oxzep7==2.0.0")
    env.refresh()
    on_200 = run_checks(
        env, sandbox.project, config, "staging", upgraded=["oxzep7", "oxzep7-core"], baseline=baseline
    )
    failed = {r.name: r for r in on_200.failed}
    assert {"tests", "import-smoke", "performance", "error-logs"} <= set(failed)
    newly = failed["tests"].details["newly_failing"]
    assert any(n.endswith("test_legacy_parse") for n in newly) and any(
        n.endswith("test_render") for n in newly
    )
    assert any("oxzep7_plugin" in f for f in failed["import-smoke"].details["failed"])
    assert failed["performance"].numbers["ratio"] > config.benchmark_threshold
    assert failed["error-logs"].numbers["matches"] >= 1
    assert on_200.get("data").status == "pass"  # type: ignore[union-attr]


def test_monitor_rounds_stream_and_are_healthy_on_150(demo: DemoFactory) -> None:
    sandbox = demo()
    pip_install(sandbox, "oxzep7==1.5.0")
    env = Environment.open(sandbox.venv)
    config = load_project_config(sandbox.project).model_copy(update={"benchmark_command": None})
    seen: list[int] = []
    result = monitor(env, sandbox.project, config, rounds=2, interval=0, baseline=None,
                     on_round=lambda n, cs: seen.append(n))  # fmt: skip
    assert seen == [1, 2] and result.healthy and result.verdict == "declare success"


def test_failure_modes_are_results_not_crashes(demo_template: DemoSandbox, tmp_path: Path) -> None:
    env = Environment.open(demo_template.venv)
    project = tmp_path / "p"
    project.mkdir()
    crash = ChecksConfig(test_command=["python", "-c", "import sys; sys.exit(3)"])
    tests, _ = run_tests(env, project, crash)
    assert tests.status == "fail" and tests.summary.startswith("unknown:") and "exit 3" in tests.summary
    hang = ChecksConfig(test_command=["python", "-c", "import time; time.sleep(30)"], test_timeout=1)
    tests, _ = run_tests(env, project, hang)
    assert tests.status == "fail" and "timed out" in tests.summary
    missing_bench = ChecksConfig(benchmark_command=["no-such-benchmark-oxw"], benchmark_runs=2)
    bench = run_benchmark(env, project, missing_bench)
    assert bench.status == "fail" and "not found" in bench.summary
    logs = scan_logs(project, ChecksConfig(log_files=["logs/missing.log"]), None)
    assert logs.status == "fail" and "missing" in logs.summary
    # issue 11: a text summary is not read (never "no tests found" when tests ran): unknown, exit 0
    plain = ChecksConfig(test_command=["python", "-c", "print('suite: 5 passed, 2 failed')"])
    tests, _ = run_tests(env, project, plain)
    assert (tests.numbers, tests.status) == ({"exit_code": 0.0}, "warn")
    assert tests.summary.startswith("unknown:")


def test_log_rotation_counts_the_rotated_tail_and_the_new_file(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_text("INFO old\nERROR before the mark\n")
    config = ChecksConfig(log_files=["logs/app.log"])
    marks = mark_logs(tmp_path, config)
    with log.open("a") as fh:
        fh.write("ERROR after the mark, before rotation\n")
    os.rename(log, f"{log}.1")
    log.write_text("INFO fresh\nTraceback (most recent call last):\n")
    result = scan_logs(tmp_path, config, marks)
    assert result.numbers["matches"] == 2
    assert result.status == "fail"
    assert not any("before the mark" in e for e in result.details["new_errors"])


def test_pytest_junit_results_are_read(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_x.py").write_text(
        "def test_ok():\n    pass\n\ndef test_bad():\n    assert 0\n"
    )
    env = Environment.open(Path(os.environ.get("VIRTUAL_ENV") or Path(__file__).parents[1] / ".venv"))
    tests, _ = run_tests(env, project, ChecksConfig())
    assert tests.details["command"][:3] == ["python", "-m", "pytest"]
    assert (tests.numbers["passed"], tests.numbers["failed"]) == (1.0, 1.0)
    assert tests.details["failing"] == ["tests/test_x.py::test_bad"]


def test_security_and_risk_on_the_demo_plans(demo_template: DemoSandbox) -> None:
    env = Environment.open(demo_template.venv)
    index = IndexOptions.build(find_links=[str(demo_template.wheelhouse)], no_index=True)
    config = load_project_config(demo_template.project)
    plan_150 = compute_plan(env, parse_specs(["oxzep7==1.5.0"]), index)
    report = security_delta(plan_150, env, config, demo_template.project, offline=True)
    assert report is not None and report.fixes == ["OXZ-2026-0001"] and "fixes 1" in report.line()
    plan_200 = compute_plan(env, parse_specs(["oxzep7==2.0.0"]), index)
    risk = assess(plan_200, security=None, tests_found=True)
    assert risk.level in ("medium", "high") and risk.recommendation != "upgrade now"
    assert any(r.startswith("major bump") for r in risk.reasons)
    untested = assess(plan_150, tests_found=False)
    assert any("no tests found" in r for r in untested.reasons)
