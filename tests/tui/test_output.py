"""The Output log shows its newest lines unless the user scrolled up, and a new plan starts it empty.

Output lines go through the flow listener the app answers to (``WizardListener.on_output``), as a
flow's installer and tests write them; questions and steps are the engine's own objects, posted as
the listener posts them.
"""

from __future__ import annotations

from typing import Any

from textual.widgets import Log

from oxwizard.flow.steps import step
from oxwizard.flow.upgrade import Question, StepEvent
from oxwizard.tui.app import WizardApp
from oxwizard.tui.messages import QuestionAsked, StepChanged
from oxwizard.tui.screens.execute import ExecuteScreen

from .conftest import make_app, screen_text, wait_for, wait_ready

ACK = step("ack-warnings")


def shown_lines(app: WizardApp) -> list[str]:
    """The lines of the active screen's Output log that are on screen now."""
    log = app.screen.query_one("#output", Log)
    return [log.render_line(y).text.rstrip() for y in range(log.scrollable_content_region.height)]


async def _write(pilot: Any, prefix: str, count: int) -> None:
    app = pilot.app
    for n in range(count):
        app.listener.on_output("install-staging", f"{prefix} {n}")
    await wait_for(pilot, lambda: f"{prefix} {count - 1}" in app.output)
    await pilot.pause()


async def _running_on_execute(pilot: Any) -> None:
    app = pilot.app
    await wait_ready(pilot)
    app.update_state(flow_running=True)
    app.post_message(StepChanged(StepEvent("install-staging", "running", "installing in the staging copy")))
    await wait_for(pilot, lambda: isinstance(app.screen, ExecuteScreen))
    await pilot.pause()


async def test_the_log_follows_new_lines_after_a_question_shrinks_it_and_after_a_resize(
    demo_template: Any,
) -> None:
    app = make_app(demo_template)
    async with app.run_test(size=(80, 24)) as pilot:
        await _running_on_execute(pilot)
        await _write(pilot, "pip line", 60)
        assert shown_lines(app)[-1] == "pip line 59"
        # the question (with its detail) takes lines from the log's box
        detail = "\n".join(f"DeprecationWarning {n}: oxzep7.legacy_parse" for n in range(5))
        question = Question("ack-warnings", ACK.question, ACK.choices, ACK.default, detail)
        app.post_message(QuestionAsked(question))
        await wait_for(pilot, lambda: app.state.question is not None)
        await pilot.pause()
        await _write(pilot, "after the question", 3)
        assert shown_lines(app)[-1] == "after the question 2", shown_lines(app)
        await pilot.resize_terminal(80, 20)
        await pilot.pause()
        await _write(pilot, "after the resize", 3)
        assert shown_lines(app)[-1] == "after the resize 2", shown_lines(app)


async def test_the_log_stays_where_the_user_scrolled_to(demo_template: Any) -> None:
    app = make_app(demo_template)
    async with app.run_test(size=(80, 24)) as pilot:
        await _running_on_execute(pilot)
        await _write(pilot, "pip line", 60)
        log = app.screen.query_one("#output", Log)
        log.scroll_to(y=10, animate=False)  # as the wheel or the arrows would
        await pilot.pause()
        before = shown_lines(app)
        await _write(pilot, "more", 5)
        assert shown_lines(app) == before
        log.scroll_end(animate=False)  # back at the bottom: it follows again
        await pilot.pause()
        await _write(pilot, "newest", 2)
        assert shown_lines(app)[-1] == "newest 1", shown_lines(app)


async def test_a_new_plan_starts_with_an_empty_output(demo: Any) -> None:
    app = make_app(demo())
    async with app.run_test(size=(80, 24)) as pilot:
        await _running_on_execute(pilot)
        await _write(pilot, "FAILED test_legacy_parse of the last run", 3)
        app.update_state(flow_running=False)
        await pilot.press("1")
        await pilot.pause()
        assert "FAILED test_legacy_parse of the last run 2" in screen_text(app)
        await pilot.press("slash", *"humbleconf==1.3.0", "enter")
        await wait_for(pilot, lambda: app.state.plan is not None or app.state.plan_error, 120)
        assert app.state.plan is not None, app.state.plan_error
        assert "the last run" not in screen_text(app)
        await pilot.press("2")
        await pilot.pause()
        assert "the last run" not in screen_text(app)
