"""The checks on the demo sandbox with real subprocesses and files (issue 4's acceptance).

What test_checks.py does not already assert with the same inputs: monitoring with no baseline and no
benchmark on 1.5.0, and the risk of the 2.0.0 plan (and of an untested 1.5.0) with no advisory data.
"""

from __future__ import annotations

from collections.abc import Callable

from conftest import pip_install

from oxwizard.checks.monitor import monitor
from oxwizard.checks.risk import assess
from oxwizard.checks.security import security_delta
from oxwizard.core.config import load_project_config
from oxwizard.demo.sandbox import DemoSandbox
from oxwizard.env.environment import Environment
from oxwizard.env.plan import compute_plan
from oxwizard.env.specs import IndexOptions, parse_specs

DemoFactory = Callable[[], DemoSandbox]


def test_monitor_rounds_stream_and_are_healthy_on_150(demo: DemoFactory) -> None:
    sandbox = demo()
    pip_install(sandbox, "oxzep7==1.5.0")
    env = Environment.open(sandbox.venv)
    config = load_project_config(sandbox.project).model_copy(update={"benchmark_command": None})
    seen: list[int] = []
    result = monitor(env, sandbox.project, config, rounds=2, interval=0, baseline=None,
                     on_round=lambda n, cs: seen.append(n))  # fmt: skip
    assert seen == [1, 2] and result.healthy and result.verdict == "declare success"


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
