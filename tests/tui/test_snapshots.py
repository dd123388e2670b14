"""Snapshot tests of every screen at 60×20, 80×24 and 120×40 (review a diff before accepting it),
and what a user reads at those sizes: no word cut in the middle at 80×24, everything needed to
decide still on screen at 60×20.

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
from oxwizard.env.plan import Change, Plan
from oxwizard.env.project_files import plan_project_files, unified_diff
from oxwizard.flow.steps import step
from oxwizard.flow.upgrade import FlowOutcome, Question, StepEvent
from oxwizard.tui.messages import ChecksReported, FlowFinished, PlanResolved, QuestionAsked, StepChanged
from oxwizard.tui.widgets.question import CHOICE_KEYS

from .conftest import make_app, screen_lines, wait_ready

SIZES = [(60, 20), (80, 24), (120, 40)]

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
GO, GATE = step("go"), step("checks-staging")
PINS_QUESTION = "Write the upgrade into the project files on branch oxwizard/20260101-120000-oxzep7?"
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
    # the file edits planned from the demo project's real files (its requirements.txt pins 1.4.2)
    plan = PLAN.model_copy(update={"project_files": plan_project_files(app.project, PLAN.changes)})
    app.post_message(PlanResolved(plan, RISK, None))
    await pilot.pause()
    app.update_state(flow_running=True)  # as after c: the flow runs until it ends
    for msg in (
        _ev("checkpoint", "passed", "ck-0007 · 41 files · 180.0 kB", 0.3, 2),
        _ev("stage", "passed", "staging clone ready", 0.4, 3),
        _ev("baseline", "passed", "pip-check pass, tests pass, warnings pass", 1.9, 4),
        QuestionAsked(Question("go", GO.question.format(summary="oxzep7 1.4.2 -> 2.0.0 (major), 2 changes"),
                               GO.choices, GO.default, "stage and test first")),
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
        QuestionAsked(Question("checks-staging", GATE.question.format(reason="tests: 3 newly failing"),
                               GATE.choices, GATE.default, "Live is untouched.")),
    ):  # fmt: skip
        app.post_message(msg)
    await pilot.pause()
    # the log follows its end; when a short log box (60x20) shrinks after its lines came, where the
    # last repaint leaves it depends on timing: show the end, as the log does while it runs
    app.screen.query_one("#output").scroll_end(animate=False, immediate=True)
    await pilot.pause()


async def _pins(pilot: Pilot[Any]) -> None:
    """Checks passed in the staging copy: the flow asks whether to write the project files."""
    await _planned(pilot)
    app: Any = pilot.app
    for msg in (
        _ev("go", "passed", "go", None, 5),
        _ev("install-staging", "passed", "installed in staging", 1.1, 6),
        _ev("checks-staging", "passed", "tests pass, pip-check pass, import-smoke pass", 2.4, 7),
    ):
        app.post_message(msg)
    app.action_show("execute")  # where the flow's steps after go are shown
    await pilot.pause()
    diff = unified_diff(app.project, app.state.plan.project_files)
    app.post_message(QuestionAsked(Question("pins", PINS_QUESTION, ("write", "skip"), "write", diff)))  # type: ignore[arg-type]
    await pilot.pause()
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


async def _help(pilot: Pilot[Any]) -> None:
    await _loaded(pilot)
    await pilot.press("question_mark")
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

    def test_help(self, snap_compare: Any, demo_template: Any, size: tuple[int, int]) -> None:
        assert snap_compare(make_app(demo_template), terminal_size=size, run_before=_help)


def test_execute_outcome_80x24(snap_compare: Any, demo_template: Any) -> None:
    assert snap_compare(make_app(demo_template), terminal_size=(80, 24), run_before=_finished)


def test_pins_diff_80x24(snap_compare: Any, demo_template: Any) -> None:
    assert snap_compare(make_app(demo_template), terminal_size=(80, 24), run_before=_pins)


# -- what a user reads at each size ---------------------------------------------------------------------
def region_lines(lines: list[str], widget: Any) -> list[str]:
    """The part of the screen a widget covers."""
    r = widget.content_region
    return [line[r.x : r.x + r.width] for line in lines[r.y : r.y + r.height]]


def cut_words(shown: str, whole: str) -> list[str]:
    """Words on screen that are not whole words of the full text: a word cut in the middle (a word
    that lost only its trailing punctuation before "…" is whole)."""
    words = set(whole.split()) | {w.rstrip(",;:") for w in whole.split()} | {"…"}
    return [w for w in shown.split() if w not in words and w.rstrip("…") not in words]


SCENES = {"prepare": _loaded, "plan": _planned, "gate": _gate_failed, "monitor": _monitoring}


@pytest.mark.parametrize("scene", list(SCENES))
async def test_no_word_is_cut_at_80x24(demo_template: Any, scene: str) -> None:
    """Title, key bar and checklists at 80×24: every word is whole, or shortened to "…" at a word
    boundary; the checklist shows every step's label from the step table."""
    from oxwizard.flow.steps import label
    from oxwizard.tui.widgets.keybar import KeyBar
    from oxwizard.tui.widgets.steps import StepsChecklist, render_steps
    from oxwizard.tui.widgets.title import TitleBar

    app: Any = make_app(demo_template)
    async with app.run_test(size=(80, 24)) as pilot:
        await SCENES[scene](pilot)
        await pilot.pause()
        lines = screen_lines(app)
        title = app.screen.query_one(TitleBar)
        assert not cut_words(lines[0], title.render_title(1000).plain), lines[0]
        assert "[" in lines[0] and "]" in lines[0], "the active screen is named"
        keys = app.screen.query_one(KeyBar)
        assert lines[-1].split(), "the key bar shows keys"
        assert not cut_words(lines[-1], keys.render_keys(1000).plain), lines[-1]
        for checklist in app.screen.query(StepsChecklist):
            shown = region_lines(lines, checklist)
            whole = render_steps(checklist.steps, checklist._events, 1000).plain
            assert not cut_words("\n".join(shown), whole), shown
            for name in checklist.steps:
                assert any(line[2:].startswith(label(name)) for line in shown), (label(name), shown)


@pytest.mark.parametrize("scene", ["plan", "gate", "monitor"])
async def test_at_60x20_the_plan_the_question_and_the_keys_are_on_screen(
    demo_template: Any, scene: str
) -> None:
    app: Any = make_app(demo_template)
    async with app.run_test(size=(60, 20)) as pilot:
        await SCENES[scene](pilot)
        await pilot.pause()
        lines = screen_lines(app)
        text = "\n".join(lines)
        question = app.state.question
        assert question is not None
        asked = " ".join(
            " ".join(region_lines(lines, app.screen.query_one("#decision, #gate, #verdict"))).split()
        )
        assert question.text in asked, "the question is on screen, whole"
        for choice in question.choices:
            key = CHOICE_KEYS[choice]
            assert f"[{key}]" in text, f"choice {choice} is offered on screen"
            assert any(line.lstrip().startswith(f"{key} ") or f" {key} " in line for line in lines[-1:]), (
                f"{key} is in the key bar: {lines[-1]!r}"
            )
        if scene == "plan":
            assert "oxzep7" in text and "1.4.2 → 2.0.0 MAJOR" in text, "the plan's changes"
            assert "oxzep7-core" in text
        if scene == "monitor":
            for check in ("tests", "warnings", "pip-check", "performance", "error-logs", "data"):
                assert any(f" {check} " in line for line in lines), f"check {check} is visible"
        assert all(len(line) <= 60 for line in lines)
