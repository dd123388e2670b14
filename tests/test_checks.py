"""Issue 4's acceptance: the checks on the demo project with real subprocesses, real files, real pip.

One fresh sandbox goes baseline (1.4.2) → 1.5.0 → monitoring → 2.0.0, so the expensive part runs once;
the failure modes, the parsers and the risk summary use the read-only template or small projects.
"""

from __future__ import annotations

import os
import re
import statistics
from collections.abc import Callable
from pathlib import Path

from oxwizard.checks.logs import mark_logs, scan_logs
from oxwizard.checks.monitor import monitor
from oxwizard.checks.performance import run_benchmark
from oxwizard.checks.result import CheckResult, CheckSet, load_checkset, save_checkset
from oxwizard.checks.risk import assess
from oxwizard.checks.security import security_delta
from oxwizard.checks.suite import run_checks
from oxwizard.checks.tests import run_tests
from oxwizard.core import proc
from oxwizard.core.config import ChecksConfig, load_project_config
from oxwizard.demo.sandbox import PROJECT_FILES, DemoSandbox
from oxwizard.env.environment import Environment
from oxwizard.env.plan import compute_plan
from oxwizard.env.specs import IndexOptions, parse_specs

DemoFactory = Callable[[], DemoSandbox]
REPO_VENV = Path(__file__).resolve().parents[1] / ".venv"  # has pytest


def _pip_install(sandbox: DemoSandbox, spec: str) -> None:
    wh = str(sandbox.wheelhouse)
    done = proc.run(
        [str(sandbox.python), "-m", "pip", "install", "-q", "--no-index", "--find-links", wh, spec],
        env=proc.pip_environment(),
        timeout=300,
    )
    assert done.ok, done.stderr


def _get(cs: CheckSet, name: str) -> CheckResult:
    result = cs.get(name)
    assert result is not None, f"no {name} result in {[r.name for r in cs.results]}"
    return result


def _errors_after(log: Path, offset: int) -> int:
    with log.open("rb") as fh:
        fh.seek(offset)
        text = fh.read().decode()
    return sum(1 for line in text.splitlines() if re.search("ERROR|CRITICAL|Traceback", line))


def test_demo_baseline_then_150_then_monitoring_then_200(demo: DemoFactory, tmp_path: Path) -> None:
    sandbox = demo()
    env = Environment.open(sandbox.venv)
    config = load_project_config(sandbox.project)

    # -- baseline on 1.4.2: green, with real numbers ------------------------------------------------
    streamed: list[str] = []
    baseline = run_checks(env, sandbox.project, config, "baseline", on_line=streamed.append)
    assert baseline.ok, [r.summary for r in baseline.failed]
    tests = _get(baseline, "tests")
    assert tests.status == "pass" and tests.numbers["passed"] == 8 and tests.numbers["failed"] == 0
    assert any(n.endswith("test_legacy_parse") for n in tests.details["passing"])
    assert _get(baseline, "warnings").details["new"] == []
    bench = _get(baseline, "performance")
    assert len(bench.samples) == config.benchmark_runs and all(s > 0 for s in bench.samples)
    data = _get(baseline, "data")
    assert data.status == "pass" and data.numbers == {"problems": 0.0, "checked": 2.0}
    assert _get(baseline, "pip-check").status == "pass"
    [mark] = baseline.log_marks
    shipped = PROJECT_FILES / "logs" / "app.log"
    assert mark.exists and mark.size == shipped.stat().st_size, "the mark is taken before the tests run"
    assert any("test_legacy_parse" in line for line in streamed), "the test output is streamed"
    # the baseline survives a round trip to disk (the CLI's monitor reads it back)
    save_checkset(tmp_path / "baseline.json", baseline)
    baseline = load_checkset(tmp_path / "baseline.json")

    # -- 1.5.0 in place: passes, with the new DeprecationWarning named by its message ---------------
    _pip_install(sandbox, "oxzep7==1.5.0")
    env.refresh()
    on_150 = run_checks(env, sandbox.project, config, "staging", upgraded=["oxzep7"], baseline=baseline)
    assert on_150.ok, [r.summary for r in on_150.failed]
    warnings = _get(on_150, "warnings")
    assert warnings.status == "warn"
    assert any(
        w.startswith(
            "DeprecationWarning: oxzep7.legacy_parse is deprecated and will be removed in oxzep7 2.0"
        )
        for w in warnings.details["new"]
    ), warnings.details
    assert on_150.new_warnings == warnings.details["new"]
    assert _get(on_150, "tests").details["newly_failing"] == []
    assert _get(on_150, "data").status == "pass"
    assert _get(on_150, "import-smoke").status == "pass"
    assert "oxzep7_plugin" in _get(on_150, "import-smoke").details["modules"]
    logs = _get(on_150, "error-logs")
    assert logs.status == "pass" and logs.numbers["matches"] == 0

    # -- monitoring on 1.5.0: two rounds, each handed over as soon as it is done -------------------
    lines: list[str] = []
    seen: list[tuple[int, str, bool, int]] = []
    result = monitor(
        env, sandbox.project, config, rounds=2, interval=0, baseline=baseline, upgraded=["oxzep7"],
        on_round=lambda n, cs: seen.append((n, cs.phase, cs.ok, len(lines))), on_line=lines.append,
    )  # fmt: skip
    assert [(n, phase, ok) for n, phase, ok, _ in seen] == [(1, "monitor", True), (2, "monitor", True)]
    assert 0 < seen[0][3] < seen[1][3] <= len(lines), "round 1 is reported before round 2 runs"
    assert result.healthy and result.verdict == "declare success" and len(result.rounds) == 2

    # -- 2.0.0: the tests, a dependent's import, the benchmark and the logs all fail -----------------
    _pip_install(sandbox, "oxzep7==2.0.0")
    env.refresh()
    on_200 = run_checks(
        env, sandbox.project, config, "staging", upgraded=["oxzep7", "oxzep7-core"], baseline=baseline
    )
    assert not on_200.ok
    tests = _get(on_200, "tests")
    assert tests.status == "fail"
    newly = sorted(n.rsplit(".", 1)[-1] for n in tests.details["newly_failing"])
    # legacy_parse is gone, oxzep7.fmt is renamed, and the app now logs errors while processing
    assert newly == ["test_legacy_parse", "test_process_logs_no_errors", "test_render"], tests.details
    assert tests.numbers["failed"] + tests.numbers["errors"] == 3 and tests.numbers["passed"] == 5
    assert "newly failing: test_process_logs_no_errors, test_legacy_parse, test_render" in tests.summary
    smoke = _get(on_200, "import-smoke")
    assert smoke.status == "fail" and "oxzep7-plugin" in smoke.details["dependents"]
    assert [f for f in smoke.details["failed"] if f.startswith("oxzep7_plugin (oxzep7-plugin)")], (
        smoke.details
    )
    perf = _get(on_200, "performance")
    assert perf.status == "fail" and perf.numbers["ratio"] > config.benchmark_threshold
    assert len(perf.samples) == config.benchmark_runs
    assert perf.numbers["before"] == statistics.median(bench.samples)
    logs = _get(on_200, "error-logs")
    written = _errors_after(sandbox.project / "logs" / "app.log", mark.size)
    assert logs.status == "fail" and written >= 1 and logs.numbers["matches"] == written
    assert any("legacy_parse is gone" in e for e in logs.details["new_errors"]), logs.details
    data = _get(on_200, "data")
    assert data.status == "pass" and data.numbers == {"problems": 0.0, "checked": 2.0}


def test_crash_hang_missing_log_and_missing_benchmark_are_failed_results(
    demo_template: DemoSandbox, tmp_path: Path
) -> None:
    env = Environment.open(demo_template.venv)
    crash = ChecksConfig(test_command=["python", "-c", "import sys; sys.exit(3)"])
    tests, warnings = run_tests(env, tmp_path, crash)
    # a command that is neither pytest nor unittest cannot be read: its exit code is all there is
    assert (tests.status, tests.summary) == (
        "fail",
        "unknown: the test command is neither pytest nor unittest; exit 3",
    )
    assert warnings.status == "skip"
    hang = ChecksConfig(test_command=["python", "-c", "import time; time.sleep(30)"], test_timeout=1)
    tests, _ = run_tests(env, tmp_path, hang)
    assert (tests.status, tests.summary) == ("fail", "tests timed out after 1 s")
    no_bench = ChecksConfig(benchmark_command=["no-such-benchmark-oxw"], benchmark_runs=3)
    bench = run_benchmark(env, tmp_path, no_bench)
    assert bench.status == "fail" and bench.summary == "benchmark: command not found (no-such-benchmark-oxw)"
    missing = scan_logs(tmp_path, ChecksConfig(log_files=["logs/app.log"]), None)
    assert (missing.status, missing.summary) == ("fail", "log file missing: logs/app.log")

    # all of them in one phase: a check set with every failure named, no exception
    broken = ChecksConfig(
        test_command=["python", "-c", "import sys; sys.exit(3)"],
        benchmark_command=["no-such-benchmark-oxw"],
        log_files=["logs/app.log"],
        data_command=["python", "-c", "import sys; print('row 3 is bad'); sys.exit(1)"],
    )
    cs = run_checks(env, tmp_path, broken, "staging", upgraded=["oxzep7"])
    assert {r.name for r in cs.failed} == {"tests", "performance", "error-logs", "data"}
    assert _get(cs, "data").summary == "data command failed (exit 1): row 3 is bad"


def test_log_rotation_reads_the_rotated_tail_and_the_new_file(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "app.log"
    log.parent.mkdir()
    log.write_text("2026-01-01 10:00:00 INFO up\n2026-01-01 10:00:01 ERROR before the mark\n")
    config = ChecksConfig(log_files=["logs/app.log"])
    marks = mark_logs(tmp_path, config)
    with log.open("a") as fh:
        fh.write("2026-01-01 10:00:02 ERROR after the mark, before rotation\n")
    os.rename(log, tmp_path / "logs" / "app.log.1")
    log.write_text(
        "2026-01-01 10:00:03 INFO fresh file\n2026-01-01 10:00:04 ERROR in the new file\n"
        "Traceback (most recent call last):\n"  # counted by the default log-pattern too
    )
    result = scan_logs(tmp_path, config, marks)
    assert result.status == "fail" and result.numbers["matches"] == 3
    assert result.details["new_errors"] == [
        "logs/app.log: ERROR after the mark, before rotation",
        "logs/app.log: ERROR in the new file",
        "logs/app.log: Traceback (most recent call last):",
    ]
    statuses = [
        scan_logs(tmp_path, config.model_copy(update={"log_threshold": n}), marks).status for n in (2, 3)
    ]
    assert statuses == ["fail", "pass"]


_UNITTEST_SUITE = '''
import unittest, warnings


class T(unittest.TestCase):
    def test_doc(self):
        """A docstring puts the outcome on the line under the name."""

    def test_warns(self):
        warnings.warn("old_api is deprecated", DeprecationWarning)

    def test_bad(self):
        self.assertEqual(1, 2)

    @unittest.skip("not today")
    def test_skip(self):
        pass
'''


def test_unittest_output_is_read_per_test_even_when_a_warning_splits_the_line(
    demo_template: DemoSandbox, tmp_path: Path
) -> None:
    env = Environment.open(demo_template.venv)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "__init__.py").write_text("")
    (tmp_path / "tests" / "test_w.py").write_text(_UNITTEST_SUITE)
    tests, warnings = run_tests(env, tmp_path, ChecksConfig())  # no pytest in the demo env: unittest
    assert tests.details["command"][:4] == ["python", "-m", "oxwizard_unittest_report", "discover"]
    assert tests.numbers == {"passed": 2.0, "failed": 1.0, "errors": 0.0, "skipped": 1.0}
    assert tests.details["passing"] == ["tests.test_w.T.test_doc", "tests.test_w.T.test_warns"]
    assert tests.details["failing"] == ["tests.test_w.T.test_bad"] and tests.status == "fail"
    assert warnings.details["groups"] == ["DeprecationWarning: old_api is deprecated (tests/test_w.py:10)"]
    # what failed it and where its traceback went: matched with the plan's API impact by the flow
    error, frames = tests.failures["tests.test_w.T.test_bad"]
    assert error == "AssertionError: 1 != 2"
    assert (str(tmp_path / "tests" / "test_w.py"), 13) in frames

    # compared with a baseline where test_bad already failed and test_warns failed: only changes count
    before = tests.model_copy(
        update={"details": {"passing": ["tests.test_w.T.test_doc"], "failing": ["tests.test_w.T.test_bad",
                                                                               "tests.test_w.T.test_warns"]}}
    )  # fmt: skip
    again, _ = run_tests(env, tmp_path, ChecksConfig(), baseline=before)
    assert again.status == "pass" and again.details["newly_failing"] == []
    assert again.details["newly_passing"] == ["tests.test_w.T.test_warns"]


def test_an_unreadable_command_is_unknown_with_its_exit_code(
    demo_template: DemoSandbox, tmp_path: Path
) -> None:
    # issue 11: results are never scraped from text; a command we cannot read says "unknown"
    env = Environment.open(demo_template.venv)
    config = ChecksConfig(
        test_command=["python", "-c", "print('running...'); print('suite: 5 passed, 2 failed'); exit(1)"]
    )
    tests, _ = run_tests(env, tmp_path, config)
    assert (tests.status, tests.numbers) == ("fail", {"exit_code": 1.0})
    assert tests.summary.startswith("unknown: the test command is neither pytest nor unittest; exit 1")
    same, _ = run_tests(env, tmp_path, config, baseline=tests)  # it exited 1 on the baseline too
    assert same.status == "warn" and same.summary.endswith("(as on the baseline: exit 1)")
    green = ChecksConfig(test_command=["python", "-c", "print('12 passed, 0 failed, 1 skipped')"])
    tests, _ = run_tests(env, tmp_path, green)
    assert (tests.status, tests.summary) == (
        "warn",
        "unknown: the test command is neither pytest nor unittest; exit 0",
    )
    assert tests.numbers == {"exit_code": 0.0}, "nothing is read from the text it printed"


def test_pytest_report_is_read(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(
        "import pytest\n\n\ndef test_ok():\n    pass\n\n\ndef test_bad():\n    assert 1 == 2\n\n\n"
        "@pytest.mark.skip(reason='later')\ndef test_later():\n    pass\n"
    )
    env = Environment.open(REPO_VENV)
    tests, _ = run_tests(env, tmp_path, ChecksConfig())
    assert tests.details["command"] == ["python", "-m", "pytest", "-p", "oxwizard_pytest_report"]
    assert tests.numbers == {"passed": 1.0, "failed": 1.0, "errors": 0.0, "skipped": 1.0}
    assert (tests.details["failing"], tests.details["passing"]) == (
        ["tests/test_x.py::test_bad"],
        ["tests/test_x.py::test_ok"],
    )
    assert tests.status == "fail"

    empty = tmp_path / "empty"
    (empty / "tests").mkdir(parents=True)  # pytest collects nothing and exits 5: not a crash
    nothing, _ = run_tests(env, empty, ChecksConfig())
    assert (nothing.status, nothing.summary) == ("warn", "no tests found")


def test_security_from_the_advisory_file_and_the_risk_summary(demo_template: DemoSandbox) -> None:
    env = Environment.open(demo_template.venv)
    index = IndexOptions.build(find_links=[str(demo_template.wheelhouse)], no_index=True)
    config = load_project_config(demo_template.project)
    plan_150 = compute_plan(env, parse_specs(["oxzep7==1.5.0"]), index)
    report = security_delta(plan_150, env, config, demo_template.project, offline=True)
    assert report is not None
    assert (report.before, report.after, report.fixes, report.introduces) == (
        ["OXZ-2026-0001"],
        [],
        ["OXZ-2026-0001"],
        [],
    )
    assert report.line().startswith("the upgrade fixes 1 advisories / introduces 0")
    assert security_delta(plan_150, env, ChecksConfig(), demo_template.project, offline=True) is None

    easy = assess(plan_150, security=report, tests_found=True)
    assert (easy.level, easy.recommendation) == ("low", "upgrade now")
    assert "fixes advisories: OXZ-2026-0001" in easy.reasons

    plan_200 = compute_plan(env, parse_specs(["oxzep7==2.0.0"]), index)
    risky = assess(plan_200, security=security_delta(plan_200, env, config, demo_template.project, True),
                   tests_found=True)  # fmt: skip
    assert risky.level in ("medium", "high") and risky.recommendation != "upgrade now"
    assert any(r.startswith("major bump: oxzep7 1.4.2") for r in risky.reasons), risky.reasons
    assert any(r.startswith("1 transitive change(s): oxzep7-core") for r in risky.reasons), risky.reasons

    untested = assess(plan_150, security=report, tests_found=False)
    assert "no tests found: nothing will prove the upgrade works" in untested.reasons
    assert untested.recommendation != "upgrade now"
    failing = CheckSet(phase="baseline", results=[CheckResult(name="tests", status="fail", summary="x")])
    assert "baseline already failing: tests" in assess(plan_150, baseline=failing).reasons
    no_data = assess(plan_150, tests_found=True)
    assert "no advisory data: security impact unknown" in no_data.reasons


def test_the_risk_summary_of_a_downgrade_and_of_a_package_not_installed(
    demo: DemoFactory, demo_template: DemoSandbox
) -> None:
    """A downgrade is never low and never "upgrade now"; a requested package the environment does
    not have is named as an addition, and alone it is "install now" (real plans on the demo)."""
    from oxwizard.checks.security import SecurityReport
    from oxwizard.tui.widgets.plan_view import render_plan

    sandbox = demo()
    _pip_install(sandbox, "oxzep7==1.5.0")  # by hand: 1.4.2 is then a downgrade
    env = Environment.open(sandbox.venv)
    index = IndexOptions.build(find_links=[str(sandbox.wheelhouse)], no_index=True)
    config = load_project_config(sandbox.project)
    down = compute_plan(env, parse_specs(["oxzep7==1.4.2"]), index)
    said = "oxzep7 1.5.0 -> 1.4.2 is a downgrade: code written for 1.5.0 may use what 1.4.2 lacks"
    risk = assess(down, tests_found=True)
    assert (risk.level, risk.recommendation) == ("medium", "stage and test first")
    assert said in risk.reasons, risk.reasons
    panel = render_plan(down, risk, width=200).plain  # the wizard's plan panel
    assert "Risk: MEDIUM\nRecommendation: stage and test first\n" in panel and said in panel, panel
    # back to 1.4.2 brings its advisory back: the demo's advisory file says so, and it waits
    report = security_delta(down, env, config, sandbox.project, offline=True)
    assert report is not None and report.introduces == ["OXZ-2026-0001"]
    assert assess(down, security=report, tests_found=True).recommendation == "wait"
    # a downgrade that fixes an advisory is worth doing, not safe
    fixing = assess(down, security=SecurityReport(source="s", before=["X-1"]), tests_found=True)
    assert (fixing.level, fixing.recommendation) == ("medium", "stage and test first"), fixing.reasons

    template = Environment.open(demo_template.venv)
    assert "oxzep7-core" not in template.distributions  # in the wheelhouse, not installed
    added = compute_plan(template, parse_specs(["oxzep7-core==2.0.0"]), index)
    new_report = security_delta(added, template, config, demo_template.project, offline=True)
    fresh = assess(added, security=new_report, tests_found=True)
    said = "oxzep7-core is not installed: this adds it (2.0.0) to the environment"
    assert (fresh.level, fresh.recommendation) == ("low", "install now"), fresh.reasons
    assert said in fresh.reasons, fresh.reasons
    panel = render_plan(added, fresh, width=200).plain
    assert "Recommendation: install now\n" in panel and said in panel, panel
    # with an upgrade requested too, it is an upgrade that also adds a package
    both = compute_plan(template, parse_specs(["oxzep7-core==2.0.0", "oxzep7==1.5.0"]), index)
    mixed = assess(both, security=security_delta(both, template, config, demo_template.project, True),
                   tests_found=True)  # fmt: skip
    assert (mixed.level, mixed.recommendation) == ("low", "upgrade now"), mixed.reasons
    assert [r for r in mixed.reasons if "not installed" in r] == [said], mixed.reasons


def test_pip_checks_new_problem_still_fails_beside_one_that_was_there_before() -> None:
    from oxwizard.checks.compat import against_baseline
    from oxwizard.checks.result import CheckResult

    old, new = (
        "needy 1.0 requires missingdep, which is not installed.",
        "app 1.0 has requirement x<2, but you have x 2.0.",
    )
    before = CheckResult(name="pip-check", status="fail", summary=old, details={"problems": [old]})
    after = CheckResult(name="pip-check", status="fail", summary=new, details={"problems": [old, new]})
    judged = against_baseline(after, before)
    assert (judged.status, judged.summary) == ("fail", f"{new} (+1 more, 1 as before the upgrade)")
    assert judged.details["problems"] == [new] and judged.details["failing_before"] == [old]
    assert against_baseline(after, None) is after  # no baseline: nothing is forgiven
