"""Snapshot tests of every screen at 80×24 and 120×40 (review a diff before accepting it).

The environment is the read-only demo template; everything variable is frozen: the venv path is
replaced, step timings and check results are fixed engine objects fed through the same messages the
flow's listener posts, and no cursor blinks.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from textual.pilot import Pilot

from oxwizard.checks.result import CheckResult, CheckSet
from oxwizard.flow import FlowOutcome, Question, StepEvent
from oxwizard.plan import Change, Plan
from oxwizard.tui.messages import ChecksReported, FlowFinished, PlanResolved, QuestionAsked, StepChanged

from .conftest import make_app, wait_ready

SIZES = [(80, 24), (120, 40)]

PLAN = Plan(
    targets=["oxzep7==2.0.0"],
    env_fingerprint="0" * 16,
    python_version="3.11",
    platform="linux-x86_64",
    installer="pip",
    changes=[
        Change(name="oxzep7", from_version="1.4.2", to_version="2.0.0", kind="upgrade", impact="major",
               requested=True, requires_python=">=3.9"),
        Change(name="oxzep7-core", to_version="2.0.0", kind="new", impact="new"),
    ],
)  # fmt: skip
RISK = SimpleNamespace(
    level="high",
    recommendation="stage and test first",
    reasons=["major bump of oxzep7", "a dependent imports a renamed module"],
)


def _ev(step: str, status: str, message: str, elapsed: float | None, done: int) -> StepChanged:
    return StepChanged(StepEvent(step, status, message, elapsed, (done, 12)))  # type: ignore[arg-type]


async def _loaded(pilot: Pilot[Any]) -> None:
    app: Any = pilot.app
    await wait_ready(pilot)
    app.update_state(env_label="demo/project/.venv")
    await pilot.pause()


async def _planned(pilot: Pilot[Any]) -> None:
    await _loaded(pilot)
    app: Any = pilot.app
    app.post_message(PlanResolved(PLAN, RISK, None))
    await pilot.pause()
    app.update_state(flow_running=True)  # as after c: the flow runs until it ends
    for msg in (
        _ev("checkpoint", "passed", "ck-0007 · 41 files · 180.0 kB", 0.3, 2),
        _ev("stage", "passed", "staging clone ready", 0.4, 3),
        _ev("baseline", "passed", "tests pass, pip-check pass, import-smoke pass", 1.9, 4),
        QuestionAsked(Question("go", "Upgrade oxzep7 1.4.2 -> 2.0.0 (major), 2 changes?",
                               ("go", "wait"), "go", "stage and test first")),
    ):  # fmt: skip
        app.post_message(msg)
    await pilot.pause()


async def _gate_failed(pilot: Pilot[Any]) -> None:
    await _planned(pilot)
    app: Any = pilot.app
    app.post_message(_ev("go", "passed", "go", None, 5))
    app.post_message(_ev("install-staging", "running", "installing oxzep7==2.0.0 in staging", None, 5))
    await pilot.pause()
    for line in [
        "Processing ./wheelhouse/oxzep7-2.0.0-py3-none-any.whl",
        "Installing collected packages: oxzep7-core, oxzep7",
        "Successfully installed oxzep7-2.0.0 oxzep7-core-2.0.0",
        "FAIL: test_parse_legacy (tests.test_app.AppTest)",
    ]:
        app.listener.on_output("install-staging", line)
    for msg in (
        _ev("install-staging", "passed", "installed in staging", 1.1, 6),
        _ev("checks-staging", "failed", "tests: 3 newly failing; import-smoke: oxzep7_plugin", 2.4, 7),
        QuestionAsked(Question("checks-staging", "Gate failed on staging: tests: 3 newly failing",
                               ("rollback", "keep", "retry"), "keep", "Live is untouched.")),
    ):  # fmt: skip
        app.post_message(msg)
    await pilot.pause()


async def _monitoring(pilot: Pilot[Any]) -> None:
    await _planned(pilot)
    app: Any = pilot.app
    app.post_message(PlanResolved(PLAN.model_copy(update={"targets": ["oxzep7==1.5.0"]}), RISK, None))
    checks = [
        CheckResult(name="tests", status="pass", summary="12 passed"),
        CheckResult(name="warnings", status="warn", summary="1 new DeprecationWarning (legacy_parse)"),
        CheckResult(name="pip-check", status="pass", summary="ok"),
        CheckResult(name="performance", status="pass", summary="median 41 ms vs 40 ms (1.02x)",
                    samples=[0.040, 0.042, 0.039, 0.044, 0.041]),
        CheckResult(name="error-logs", status="pass", summary="0 new matches in logs/app.log"),
        CheckResult(name="data", status="pass", summary="data/records.csv valid"),
    ]  # fmt: skip
    for msg in (
        _ev("checks-live", "passed", "tests pass", 2.0, 10),
        _ev("monitor", "running", "1 monitoring round on live", None, 10),
        ChecksReported(CheckSet(phase="monitor", results=checks)),
        _ev("monitor", "passed", "healthy", 3.1, 11),
        QuestionAsked(Question("verdict", "Declare success, or roll back?",
                               ("success", "rollback"), "success")),
    ):  # fmt: skip
        app.post_message(msg)
    await pilot.pause()
    await pilot.pause()


async def _finished(pilot: Pilot[Any]) -> None:
    await _gate_failed(pilot)
    app: Any = pilot.app
    app.post_message(
        FlowFinished(FlowOutcome("failed", "checks failed in staging (tests): live is untouched", 1))
    )
    await pilot.pause()
    app.clear_notifications()
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
class TestScreens:
    def test_prepare_loaded(self, snap_compare: Any, demo_template: Any, size: tuple[int, int]) -> None:
        assert snap_compare(make_app(demo_template), terminal_size=size, run_before=_loaded)

    def test_prepare_plan_and_decision(
        self, snap_compare: Any, demo_template: Any, size: tuple[int, int]
    ) -> None:
        assert snap_compare(make_app(demo_template), terminal_size=size, run_before=_planned)

    def test_execute_gate_failed(self, snap_compare: Any, demo_template: Any, size: tuple[int, int]) -> None:
        assert snap_compare(make_app(demo_template), terminal_size=size, run_before=_gate_failed)

    def test_monitor_verdict(self, snap_compare: Any, demo_template: Any, size: tuple[int, int]) -> None:
        assert snap_compare(make_app(demo_template), terminal_size=size, run_before=_monitoring)


def test_help_80x24(snap_compare: Any, demo_template: Any) -> None:
    async def before(pilot: Pilot[Any]) -> None:
        await _loaded(pilot)
        await pilot.press("question_mark")

    assert snap_compare(make_app(demo_template), terminal_size=(80, 24), run_before=before)


def test_execute_outcome_80x24(snap_compare: Any, demo_template: Any) -> None:
    assert snap_compare(make_app(demo_template), terminal_size=(80, 24), run_before=_finished)
