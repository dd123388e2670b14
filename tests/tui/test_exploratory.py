"""What an exploratory tester found hard at 80x24 over SSH, each with what the user sees now: a failed
gate's whole reason (``d``), the keys while typing in the filter."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from textual.geometry import Region
from textual.widgets import Static

from oxwizard.flow.steps import label
from oxwizard.runbook.repo import RunbookRepo
from oxwizard.tui.app import WizardApp
from oxwizard.tui.screens.details import DetailsScreen
from oxwizard.tui.screens.execute import ExecuteScreen
from oxwizard.tui.tasks import Sources
from oxwizard.tui.widgets.steps import StepsChecklist
from oxwizard.tui.widgets.targets import TargetsTable

from .conftest import installed_version, make_app, screen_lines, wait_for, wait_question, wait_ready
from .test_flow import _plan_and_stage, _to_failed_checks_in_staging
from .test_truth import _bottom_keys


def _details_lines(app: WizardApp) -> tuple[list[str], int]:
    """The details page's lines as drawn (all of them, scrolled or not), and the width they had."""
    text = app.screen.query_one("#details-text", Static)
    width, height = text.size
    return [strip.text.rstrip() for strip in text.render_lines(Region(0, 0, width, height))], width


async def test_d_at_a_failed_gate_shows_every_reason_wrapped_and_r_still_rolls_back(demo: Any) -> None:
    sandbox = demo()
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await _to_failed_checks_in_staging(pilot)
        question = app.state.question
        assert question is not None
        keys = await _bottom_keys(pilot)
        assert "d Details" in keys and "k Keep" in keys and "R Roll back" in keys, keys
        assert "d shows them all" in str(app.screen.query_one("#gate").render())

        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailsScreen), 10)
        await pilot.pause()
        lines, width = _details_lines(app)
        shown = " ".join(" ".join(lines).split())
        # every failed check, every newly failing test, the plan's predictions: all there, none cut
        for name in ("import-smoke:", "tests:", "performance:", "error-logs:"):
            assert name in shown, name
        for test in ("test_process_logs_no_errors", "test_legacy_parse", "test_render"):
            assert test in shown, test
        assert "the plan predicted" in shown
        # what the plan predicted of a check is under that check, not under the last one
        detail = question.detail.splitlines()
        heads = [i for i, line in enumerate(detail) if not line.startswith(" ")]
        tests = next(i for i in heads if detail[i].startswith("tests:"))
        under = detail[tests + 1 : min([i for i in heads if i > tests] + [len(detail)])]
        assert any("test_render" in line for line in under), detail
        assert all(len(line) <= width for line in lines)
        assert len(lines) > 12, "more than the question has room for"
        words = question.detail.split()
        missing = [w for w in words if w not in shown.split()]
        assert not missing, f"words of the detail not on the page: {missing[:5]}"
        keys = await _bottom_keys(pilot)
        assert "esc Back to the question" in keys and "R Roll back" in keys, keys
        assert "k Keep" in keys and "t Retry" in keys, keys  # the question's answers, as under it

        for close in ("escape", "d", "q"):  # each goes back to the question, which still waits
            await pilot.press(close)
            await wait_for(pilot, lambda: isinstance(app.screen, ExecuteScreen), 10)
            assert app.state.question is question
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, DetailsScreen), 10)

        first = app.state.latest_checks
        await pilot.press("t")  # answered from the page: the checks run again, and fail again
        await wait_for(pilot, lambda: isinstance(app.screen, ExecuteScreen), 10)
        await wait_question(pilot, "checks-staging")
        assert app.state.question is not question
        again = app.state.latest_checks
        assert first is not None and again is not None and again is not first
        logs, logs_again = first.get("error-logs"), again.get("error-logs")
        assert logs is not None and logs_again is not None and logs.status == logs_again.status == "fail"
        # only what this attempt wrote: the first attempt's log lines are not counted again
        assert logs_again.summary == logs.summary, (logs.summary, logs_again.summary)
        # the retry is seen to have run: the step says which attempt failed
        assert app.state.steps["checks-staging"].message.startswith("attempt 2: ")
        assert "attempt 2" in "\n".join(screen_lines(app))  # seen at 80x24, not cut off by "…"
        with RunbookRepo(sandbox.project / ".oxwizard") as repo:
            assert "checks-staging: retry" in [e.message for e in repo.log(20)]
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailsScreen), 10)

        await pilot.press("R")  # from the page: answers the question with a rollback, as elsewhere
        await wait_for(pilot, lambda: app.state.outcome is not None, 60)
        assert isinstance(app.screen, ExecuteScreen)
        assert app.state.outcome is not None and app.state.outcome.status == "rolled-back"
        assert re.search(r"rolled.back", str(app.screen.query_one("#gate").render()))
    assert installed_version(sandbox, "oxzep7") == "1.4.2"


async def test_typing_in_the_filter_the_key_bar_says_what_enter_and_escape_do(demo_template: Any) -> None:
    app = make_app(demo_template)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        await pilot.press("slash", *"oxzep7==1.5.0")
        keys = await _bottom_keys(pilot)
        assert "⏎ Plan" in keys and "esc Table" in keys, keys
        await pilot.press("escape")  # back to the table, the filter kept
        await wait_for(pilot, lambda: isinstance(app.screen.focused, TargetsTable), 10)
        keys = await _bottom_keys(pilot)
        assert "⏎ Plan" not in keys and "esc Table" not in keys and "space Pick" in keys, keys
        await pilot.press("slash", "enter")  # enter does what the bar said: the plan of the spec typed
        await wait_for(pilot, lambda: app.state.plan is not None or app.state.plan_error, 120)
        assert app.state.plan is not None and app.state.spec_text == "oxzep7==1.5.0"


def _hints(app: WizardApp) -> tuple[str, str]:
    """The filter's placeholder and the plan box's "No plan yet" hint, as shown."""
    from textual.widgets import Input

    return app.screen.query_one("#filter", Input).placeholder, str(app.screen.query_one("#plan").render())


async def test_the_example_spec_is_this_environments_own_and_the_demos_only_on_the_demo(
    demo_template: Any, tmp_path: Path
) -> None:
    # the demo's environment with a project of its own: to the wizard, an environment like any other
    app = WizardApp(
        env_path=str(demo_template.venv),
        project=tmp_path,
        sources=Sources(find_links=[str(demo_template.wheelhouse)], no_index=True),
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        first = next(r for r in app.state.targets if r.latest)  # the first outdated row of the table
        placeholder, hint = _hints(app)
        assert f"{first.name}=={first.latest}" in placeholder and "oxzep7" not in placeholder, placeholder
        assert f"such as {first.name}=={first.latest} in the filter" in " ".join(hint.split()), hint
        assert "oxzep7==1.5.0" not in hint
    demo_app = make_app(demo_template)
    async with demo_app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        placeholder, hint = _hints(demo_app)
        assert "oxzep7==1.5.0" in placeholder and "such as oxzep7==1.5.0" in " ".join(hint.split())


async def test_the_step_a_question_waits_at_is_marked_as_waiting_for_the_user(demo: Any) -> None:
    app = make_app(demo())
    async with app.run_test(size=(80, 24)) as pilot:
        await _plan_and_stage(pilot, "oxzep7==1.5.0")  # at the go question, on Prepare
        steps = str(app.screen.query_one(StepsChecklist).render())
        assert f"▶ {label('go')}" in steps and "waiting for your answer" in steps, steps
        await pilot.press("g")
        await wait_question(pilot, "ack-warnings")
        assert isinstance(app.screen, ExecuteScreen)
        steps = str(app.screen.query_one(StepsChecklist).render())
        assert f"▶ {label('ack-warnings')}" in steps and "waiting for your answer" in steps, steps
        assert f"· {label('ack-warnings')}" not in steps
        execute = app.screen
        await pilot.press("a")  # answered: no longer waiting (the project files' dialog may be over it)
        await wait_for(pilot, lambda: app.state.question is None or app.state.question.step != "ack-warnings")
        await pilot.pause()
        steps = str(execute.query_one(StepsChecklist).render())
        assert "waiting for your answer" not in steps.split(label("ack-warnings"))[1].split("\n")[0]


async def test_a_says_how_many_it_picked_when_the_rows_are_out_of_view(demo_template: Any) -> None:
    app = make_app(demo_template)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        outdated = [r.name for r in app.state.targets if r.latest]
        await pilot.press("A")
        await wait_for(pilot, lambda: len(app.state.picked) == len(outdated), 10)
        await pilot.pause()
        title = str(app.screen.query_one("#left").border_title)
        assert f"{len(outdated)} picked" in title, title
        assert any(f"{len(outdated)} picked" in str(n.message) for n in app._notifications)
        await pilot.press("A")  # again: none
        await wait_for(pilot, lambda: not app.state.picked, 10)
        await pilot.pause()
        assert "picked" not in str(app.screen.query_one("#left").border_title)
        assert any("none picked" in str(n.message) for n in app._notifications)
