"""The project's files in the wizard (issue 13): how the project is managed on Prepare, what the plan
would change in its files and the ``u`` key that decides whether they are written, and the diff
dialog that answers the flow's ``pins`` question with ``w`` / ``s`` / escape."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.screen import Screen

from oxwizard.env.project_files import detect, plan_project_files, unified_diff
from oxwizard.flow.upgrade import Question
from oxwizard.tui.messages import PlanResolved, QuestionAsked
from oxwizard.tui.screens.confirm import ConfirmScreen
from oxwizard.tui.screens.help import HelpScreen
from oxwizard.tui.screens.pins import PinsScreen
from oxwizard.tui.screens.runbook import RunbookScreen
from oxwizard.tui.widgets.diff_view import DiffView
from oxwizard.tui.widgets.project_files import managed_text

from .conftest import installed_version, make_app, screen_text, wait_for, wait_question, wait_ready
from .test_flow import _plan_and_stage
from .test_snapshots import PLAN, RISK, screen_lines

PINS_TEXT = "Write the upgrade into the project files on branch oxwizard/20260101-oxzep7?"


def _pins(detail: str = "") -> Question:
    return Question("pins", PINS_TEXT, ("write", "skip"), "write", detail)  # type: ignore[arg-type]


def _keys(app: Any) -> str:
    return str(app.screen.query_one("#keys").render())


async def _planned_with_files(pilot: Pilot[Any]) -> Any:
    """The demo's Prepare with a plan of oxzep7 1.4.2 -> 2.0.0 whose file edits are planned from the
    demo project's real files (its requirements.txt pins oxzep7==1.4.2)."""
    app: Any = pilot.app
    await wait_ready(pilot)
    plan = PLAN.model_copy(update={"project_files": plan_project_files(app.project, PLAN.changes)})
    app.post_message(PlanResolved(plan, RISK, None))
    await wait_for(pilot, lambda: app.state.plan is not None)
    await pilot.pause()
    return plan


async def test_prepare_shows_how_the_project_is_managed_and_the_files_the_plan_changes(
    demo_template: Any,
) -> None:
    app: Any = make_app(demo_template)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        # the facts box is 46 cells wide: the managers' files, not their long labels
        lines = screen_lines(app)
        assert any("│managed by requirements.txt, pyproject.toml " in line for line in lines), lines
        assert "u Files" not in _keys(app), "no plan yet: no key for the files"

        await _planned_with_files(pilot)

        text = " ".join(screen_text(app).split())
        assert "Files: 1 line in requirements.txt, written on a branch (u)" in text
        assert "requirements.txt pins oxzep7==1.4.2: the next `pip install -r requirements.txt` " in text
        assert app.state.pins_on, "on by default: nothing is written before the diff is shown and w pressed"
        assert "u Files: write" in _keys(app)
        await pilot.press("u")
        await pilot.pause()
        assert not app.state.pins_on
        assert "Files: 1 line in requirements.txt, not written (u)" in " ".join(screen_text(app).split())
        assert "u Files: skip" in _keys(app)
        await pilot.press("u")
        assert app.state.pins_on

        app.post_message(PlanResolved(PLAN, RISK, None))  # a plan that changes no file: no key, no part
        await pilot.pause()
        await pilot.pause()
        assert "u Files" not in _keys(app) and "Files:" not in screen_text(app)
        await pilot.press("u")
        assert not app.state.pins_on


def test_managed_by_says_every_manager_when_there_is_room_and_the_files_when_not(demo_template: Any) -> None:
    managers = detect(demo_template.project)
    full = "managed by requirements (requirements.txt), pyproject [project] dependencies"
    assert managed_text(managers, 100).plain == full
    assert managed_text(managers, 46).plain == "managed by requirements.txt, pyproject.toml"
    assert managed_text(managers, 30).plain == "managed by requirements.txt …"
    assert managed_text([], 46).plain == "no dependency files found"


async def test_the_pins_question_shows_the_diff_and_w_s_escape_answer_it(
    demo_template: Any, tmp_path: Path
) -> None:
    app: Any = make_app(demo_template)
    async with app.run_test(size=(80, 24)) as pilot:
        plan = await _planned_with_files(pilot)
        assert plan.project_files is not None and plan.project_files.edits
        long = "".join(f" line {n}\n" for n in range(60))
        long = f"--- a/x.txt\n+++ b/x.txt\n@@ -1,60 +1,60 @@\n{long}"  # only context: scrolls
        detail = unified_diff(app.project, plan.project_files) + long

        for key, expected in (("w", "write"), ("s", "skip"), ("escape", "skip")):
            answered: list[str] = []
            question = _pins(detail)
            # the flow's thread blocks in the listener until the dialog answers, as in a real run
            flow = threading.Thread(target=lambda q=question, a=answered: a.append(app.listener.ask(q)))
            flow.start()
            await wait_for(pilot, lambda: isinstance(app.screen, PinsScreen))
            text = screen_text(app)
            assert PINS_TEXT in text and "requirements.txt, x.txt: +1 -1 lines" in text
            assert "-oxzep7==1.4.2  # record parsing" in text and "+oxzep7==2.0.0  # record parsing" in text
            assert "[w] write them on the branch" in text and "[s] skip (esc)" in text
            assert "w Write files" in _keys(app) and "s/esc Skip" in _keys(app)
            view = app.screen.query_one(DiffView)
            await wait_for(pilot, lambda v=view: app.screen.focused is v)  # focused once mounted
            assert view.scroll_y == 0
            await pilot.press("pagedown")
            await pilot.pause()
            assert view.scroll_y > 0, "the diff scrolls with the keyboard"
            await pilot.press(key)
            flow.join(10)
            assert answered == [expected], key
            await wait_for(pilot, lambda: not isinstance(app.screen, PinsScreen))
            assert app.state.question is None

        # no detail from the flow: the dialog shows the diff of the plan's edits, and above it the
        # lockfiles their own tool regenerates (here a uv.lock beside the demo's files); the question
        # going away unanswered (R does that: the flow stops waiting) closes it
        (tmp_path / "uv.lock").write_text('version = 1\n\n[[package]]\nname = "oxzep7"\nversion = "1.4.2"\n')
        locked = plan_project_files(tmp_path, PLAN.changes).regenerate
        files = plan.project_files.model_copy(update={"regenerate": locked})
        app.post_message(PlanResolved(plan.model_copy(update={"project_files": files}), RISK, None))
        app.post_message(QuestionAsked(_pins()))
        await wait_for(pilot, lambda: isinstance(app.screen, PinsScreen))
        text = screen_text(app)
        assert "--- a/requirements.txt" in text and "+oxzep7==2.0.0  # record parsing" in text
        assert "x.txt" not in text
        assert "uv.lock  regenerated by `uv lock --upgrade-package oxzep7==2.0.0`" in text
        app.update_state(question=None)
        await wait_for(pilot, lambda: not isinstance(app.screen, PinsScreen))


async def test_the_app_keys_work_in_the_project_files_dialog_and_r_rolls_back(demo: Any) -> None:
    """The dialog is a modal screen, under which Textual drops the app's keys: ``l``, ``?`` and
    ``q`` open the runbook, the help and the quit question over it, and ``R`` (in its key bar)
    answers the flow's question with a rollback."""
    sandbox = demo()
    app: Any = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await _plan_and_stage(pilot, "oxzep7==1.5.0")
        await pilot.press("g")
        await wait_question(pilot, "ack-warnings")
        await pilot.press("a")
        await wait_question(pilot, "pins")
        await wait_for(pilot, lambda: isinstance(app.screen, PinsScreen))
        await wait_for(pilot, lambda: "R Roll back" in _keys(app), 10)
        dialogs: list[tuple[str, type[Screen[Any]], str]] = [
            ("l", RunbookScreen, "escape"),
            ("question_mark", HelpScreen, "escape"),
            ("q", ConfirmScreen, "n"),  # "An upgrade is in progress. Quit anyway?"
        ]
        for key, kind, close in dialogs:
            await pilot.press(key)
            await wait_for(pilot, lambda k=kind: isinstance(app.screen, k), 10)
            await pilot.press(close)
            await wait_for(pilot, lambda: isinstance(app.screen, PinsScreen), 10)
        await pilot.press("R")
        await wait_for(pilot, lambda: app.state.outcome is not None)
        assert app.state.outcome.status == "rolled-back", app.state.outcome
        assert not isinstance(app.screen, PinsScreen)
        assert "■ rolled-back: live untouched" in screen_text(app)
    assert installed_version(sandbox, "oxzep7") == "1.4.2"
