"""Every screen tells the truth: each display that was once seen stale on screen, with its test.

The engine events come from real flows on the demo (real pip, real tests) where the situation takes
one; where it takes a particular sequence of results (a failed monitoring round followed by a green
one), the engine's own objects are fed through the same messages the flow's listener posts.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message
from textual.widgets import DataTable

from oxwizard.checks.result import CheckResult, CheckSet
from oxwizard.env.environment import Environment
from oxwizard.flow.steps import label
from oxwizard.flow.upgrade import Question, StepEvent, start_state
from oxwizard.runbook.repo import RunbookRepo
from oxwizard.tui.app import WizardApp
from oxwizard.tui.messages import ChecksReported, PlanResolved, QuestionAsked, StepChanged
from oxwizard.tui.screens.confirm import ConfirmScreen
from oxwizard.tui.screens.help import HelpScreen
from oxwizard.tui.screens.monitor import MonitorScreen
from oxwizard.tui.screens.resume import ResumeScreen
from oxwizard.tui.screens.runbook import RunbookScreen
from oxwizard.tui.widgets.keybar import KeyBar
from oxwizard.tui.widgets.steps import StepsChecklist
from oxwizard.tui.widgets.targets import TargetsTable

from .conftest import (
    installed_version,
    make_app,
    screen_lines,
    screen_text,
    wait_for,
    wait_question,
    wait_ready,
)
from .test_flow import _plan_and_stage, _to_failed_checks_in_staging, _upgrade_to_verdict

TESTS_PASS = CheckResult(name="tests", status="pass", summary="12 passed")


async def _plan(pilot: Any, spec: str) -> None:
    app = pilot.app
    await pilot.press("slash", *spec, "enter")
    await wait_for(pilot, lambda: app.state.plan is not None or app.state.plan_error, 120)
    assert app.state.plan is not None, app.state.plan_error


async def _bottom_keys(pilot: Any) -> str:
    """The key bar the user sees: the widget on the last line of the topmost screen (once that
    screen has been laid out)."""
    app = pilot.app
    await wait_for(pilot, lambda: _bottom(app) is not None)
    widget = _bottom(app)
    assert isinstance(widget, KeyBar), f"the last line shows {widget!r}, not a key bar"
    return str(widget.render())


def _bottom(app: WizardApp) -> object:
    from textual.errors import NoWidget

    try:
        return app.screen.get_widget_at(1, app.size.height - 1)[0]
    except NoWidget:
        return None


def _installed_in_table(app: WizardApp, name: str) -> str:
    """The 'current' column of the targets table for ``name`` (what the user reads)."""
    prepare = app._screen_stacks["prepare"][0]  # the prepare screen, shown or not
    rows = {r.name: r for r in prepare.query_one(TargetsTable).rows_all}
    return rows[name].current


def _monitor_title(app: WizardApp) -> str:
    return str(app.screen.query_one("#checks", DataTable).border_title)


async def test_after_an_upgrade_a_rollback_and_a_new_plan_every_screen_shows_the_new_truth(demo: Any) -> None:
    """The targets table follows live (1.5.0 after promotion, 1.4.2 after the rollback); a new plan
    clears the last run's readiness marks; the monitor title counts this run's rounds; the quit
    confirmation's key bar is the dialog's."""
    sandbox = demo()
    app = make_app(sandbox, monitor_rounds=2)
    async with app.run_test(size=(100, 30)) as pilot:
        await _upgrade_to_verdict(pilot, "oxzep7==1.5.0")
        assert isinstance(app.screen, MonitorScreen)
        assert _monitor_title(app) == "Checks · monitoring round 2 of 2"
        await wait_for(pilot, lambda: _installed_in_table(app, "oxzep7") == "1.5.0", 60)

        await pilot.press("q")  # an upgrade is in progress: quitting asks first
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.pause()
        keys = await _bottom_keys(pilot)
        assert "y Yes" in keys and "n No" in keys, keys
        assert "Roll back" not in keys and "Success" not in keys, keys
        await pilot.press("n")

        await pilot.press("R")
        await wait_for(pilot, lambda: app.state.outcome is not None)
        assert app.state.outcome is not None and app.state.outcome.status == "rolled-back"
        assert installed_version(sandbox, "oxzep7") == "1.4.2"
        await wait_for(pilot, lambda: _installed_in_table(app, "oxzep7") == "1.4.2", 60)

        await pilot.press("1")
        readiness = app.screen.query_one("#ready-steps", StepsChecklist)
        assert "✔" in str(readiness.render())  # the last run's checkpoint, copy and tests
        await pilot.press("escape")
        await pilot.press(*["backspace"] * 20)
        await _plan(pilot, "humbleconf==1.3.0")
        await pilot.pause()
        assert "✔" not in str(readiness.render()), str(readiness.render())
        assert "Roll back" not in str(app.screen.query_one(KeyBar).render())  # a new upgrade: no checkpoint
        await pilot.press("c")
        await wait_question(pilot, "go")
        await pilot.press("g")
        await wait_question(pilot, "pins")
        await pilot.press("s")
        await wait_question(pilot, "verdict")
        assert _monitor_title(app) == "Checks · monitoring round 2 of 2"
        table = app.screen.query_one("#checks", DataTable)
        assert [str(c.label) for c in table.columns.values()][1:-1] == ["live", "1", "2"]
        await pilot.press("s")
        await wait_for(pilot, lambda: app.state.outcome is not None)
        await wait_for(pilot, lambda: _installed_in_table(app, "humbleconf") == "1.3.0", 60)


async def test_the_resume_dialog_shows_its_keys_and_keeps_the_spec_given_on_the_command_line(
    demo: Any,
) -> None:
    """A run quit in staging (live untouched) is offered at the next start. On the dialog ``?`` and
    ``l`` open the help and the runbook over it and ``q`` quits, none of them deciding; ``esc``
    (later) closes it and records nothing, so the next start offers the run again; ``n`` ends it,
    recorded. ``esc`` and ``n`` both go on with the spec given on the command line."""
    sandbox = demo()
    first = make_app(sandbox)
    async with first.run_test(size=(80, 24)) as pilot:
        await _plan_and_stage(pilot, "oxzep7==1.5.0")
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(first.screen, ConfirmScreen))
        await pilot.press("y")
        await pilot.pause()
    assert first.flow_done.wait(60)

    def offered() -> bool:
        return start_state(sandbox.project, Environment.open(sandbox.venv))[0] is not None

    def left_messages() -> list[str]:
        with RunbookRepo(sandbox.project / ".oxwizard") as repo:
            return [e.message for e in repo.log(5) if e.message.startswith("outcome: left")]

    # ?, l and q on the dialog: the help and the runbook over it, then quit, the run left as it is
    second = make_app(sandbox)
    async with second.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(second.screen, ResumeScreen), 60)
        await wait_for(pilot, lambda: "oxzep7==1.5.0" in screen_text(second), 30)
        keys = await _bottom_keys(pilot)
        assert "r Resume" in keys and "n New upgrade" in keys and "esc Later" in keys, keys
        assert "l Log" in keys and "? Help" in keys and "q Quit" in keys, keys
        assert "Filter" not in keys and "Plan" not in keys, keys
        # live was not changed: nothing to roll back, so the dialog does not offer it
        assert "Roll back" not in keys and "[R]" not in screen_text(second)
        assert "[esc] later: the next start offers it again" in screen_text(second)
        for key, kind in (("question_mark", HelpScreen), ("l", RunbookScreen)):
            await pilot.press(key)
            await wait_for(pilot, lambda k=kind: isinstance(second.screen, k), 10)
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(second.screen, ResumeScreen), 10)
        await pilot.press("q")
        await wait_for(pilot, lambda: second.return_code is not None, 10)
    assert second.return_code == 0 and not left_messages() and offered()

    # esc (later), then n: each closes the dialog and the spec given on the command line is planned;
    # esc records nothing (the run is offered again), n ends the run
    for key in ("escape", "n"):
        app = make_app(sandbox, specs=["humbleconf==1.3.0"])
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda a=app: isinstance(a.screen, ResumeScreen), 60)
            await wait_for(pilot, lambda a=app: "oxzep7==1.5.0" in screen_text(a), 30)
            await pilot.press(key)
            await wait_for(pilot, lambda a=app: a.state.plan is not None or a.state.plan_error, 120)
            assert app.state.plan is not None, app.state.plan_error
            assert list(app.state.plan.targets) == ["humbleconf==1.3.0"]
            assert not isinstance(app.screen, ResumeScreen)
        if key == "escape":
            assert not left_messages() and offered()
    # the answer is recorded and ends that run: the next start neither offers it again nor forgets it
    assert left_messages() == ["outcome: left: not resumed at the next start; live was never changed"]
    info, last = start_state(sandbox.project, Environment.open(sandbox.venv))
    assert info is None and last.startswith("oxzep7==1.5.0 left: not resumed at the next start;"), last


async def test_a_typed_text_that_is_not_a_spec_gets_the_reason(demo_template: Any) -> None:
    app = make_app(demo_template)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        await pilot.press("slash", *"oxzep7=1.5.0", "enter")
        await pilot.pause()
        text = screen_text(app)
        assert "invalid package spec 'oxzep7=1.5.0'" in text, text
        assert not any("Pick a package" in n.message for n in app._notifications)
        await pilot.press("slash", *["backspace"] * 12, *"oxzep7 1.5.0", "enter")
        await pilot.pause()
        assert "invalid package spec 'oxzep7 1.5.0'" in screen_text(app)
        assert not any("Pick a package" in n.message for n in app._notifications)


async def _monitoring(pilot: Any, rounds: int, *messages: Message) -> None:
    """A flow of ``rounds`` monitoring rounds under way, then ``messages`` as its listener posts them."""
    app = pilot.app
    await wait_ready(pilot)
    app.update_state(monitor_total=rounds, flow_running=True)
    app.post_message(StepChanged(StepEvent("monitor", "running", f"{rounds} monitoring round(s) on live")))
    for msg in messages:
        app.post_message(msg)


async def test_the_monitor_screen_shows_which_round_failed_and_which_check(demo_template: Any) -> None:
    app = make_app(demo_template, monitor_rounds=2)
    slow = CheckResult(name="performance", status="fail", summary="median 27.6 ms vs 15.5 ms (1.78x)")
    fine = CheckResult(name="performance", status="pass", summary="median 15.9 ms vs 15.5 ms (1.03x)")
    said = "2 new: DeprecationWarning: oxzep7.legacy_parse is deprecated and will be removed in oxzep7 2.0"
    warned = CheckResult(name="warnings", status="warn", summary=said)
    async with app.run_test(size=(80, 24)) as pilot:
        await _monitoring(
            pilot, 2,
            ChecksReported(CheckSet(phase="monitor", results=[TESTS_PASS, slow, warned])),
            ChecksReported(CheckSet(phase="monitor", results=[TESTS_PASS, fine, warned])),
            StepChanged(StepEvent("monitor", "failed", "a check failed")),
            QuestionAsked(Question("verdict", "Monitoring found problems: roll back?",
                                   ("success", "rollback"), "rollback")),
        )  # fmt: skip
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen) and app.state.question)
        await pilot.pause()
        table = app.screen.query_one("#checks", DataTable)
        assert [str(c.label) for c in table.columns.values()] == ["check", "1", "2", "summary"]
        perf = [str(cell) for cell in table.get_row_at(1)]
        assert perf[0] == "performance" and perf[1] == "✘" and perf[2] == "✔", perf
        assert "round 1: median 27.6 ms" in perf[3], perf
        # a summary longer than the box ends with "…" inside it, not cut at its border
        row = next(line for line in screen_lines(app) if "warnings" in line)
        assert row.split("│")[1].rstrip().endswith("…"), row
        text = screen_text(app)
        assert "✘ round 1 of 2: performance — median 27.6 ms vs 15.5 ms" in text, text
        assert _monitor_title(app) == "Checks · monitoring round 2 of 2"


async def test_r_after_failed_checks_in_the_copy_says_once_that_live_was_never_changed(demo: Any) -> None:
    sandbox = demo()
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await _to_failed_checks_in_staging(pilot)
        assert app.state.question is not None and "rollback" not in app.state.question.choices
        assert "k or R both end here: live was never changed" in screen_text(app)
        await pilot.press("R")
        await wait_for(pilot, lambda: app.state.outcome is not None)
        assert app.state.outcome is not None and app.state.outcome.status == "rolled-back"
        rollback = app.state.steps["rollback"]
        assert rollback.status == "passed" and "live untouched" in rollback.message, rollback
        text = screen_text(app)
        assert f"✔ {label('rollback')}" in text and "■ rolled-back: live untouched" in text, text
        # live matches the checkpoint: R is not offered (once the key bar has repainted after the
        # outcome), and pressing it says so (not "rolled back")
        keybar = app.screen.query_one(KeyBar)
        await wait_for(pilot, lambda: "Roll back" not in str(keybar.render()), 10)
        app.clear_notifications()
        await pilot.press("R")
        await pilot.pause()
        notes = list(app._notifications)
        assert all(n.title != "rolled back" for n in notes), notes
        assert any("nothing to roll back" in n.message and "matches" in n.message for n in notes), notes
    assert installed_version(sandbox, "oxzep7") == "1.4.2"


async def test_r_after_success_says_rolled_back_on_every_screen_and_nothing_else(demo: Any) -> None:
    """``s`` then ``R``: live is the checkpoint again, so no screen still says "upgraded … verified
    on live" (Prepare's readiness said it, Execute and Monitor said it under the rollback line)."""
    sandbox = demo()
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await _upgrade_to_verdict(pilot, "oxzep7==1.5.0")
        await pilot.press("s")
        await wait_for(pilot, lambda: app.state.outcome is not None)
        assert app.state.outcome is not None and app.state.outcome.status == "upgraded"
        keybar = app.screen.query_one(KeyBar)
        await wait_for(pilot, lambda: "R Roll back" in str(keybar.render()), 10)
        await pilot.press("R")

        def rolled_back() -> bool:
            return not app.state.rolling_back and app.state.rollback_result.startswith("✔")

        await wait_for(pilot, rolled_back)
        assert installed_version(sandbox, "oxzep7") == "1.4.2"
        for key, line in (("1", "#decision"), ("2", "#gate"), ("3", "#verdict")):
            await pilot.press(key)
            await pilot.pause()
            said = str(app.screen.query_one(line).render())
            assert "■ rolled-back: " in said, (key, said)
            assert "upgraded" not in said and "verified on live" not in said, (key, said)
            assert said.count("■") == 1, (key, said)


async def test_the_monitor_says_no_benchmark_is_configured_and_draws_no_sparkline(demo_template: Any) -> None:
    """Without a benchmark command the performance check is skipped in every phase: the samples box
    says so, instead of "no samples yet" over a flat line that reads like a measured result."""
    from textual.widgets import Sparkline

    app = make_app(demo_template)
    skipped = CheckResult(name="performance", status="skip", summary="no benchmark-command configured")
    async with app.run_test(size=(80, 24)) as pilot:
        await _monitoring(
            pilot, 1,
            ChecksReported(CheckSet(phase="live", results=[TESTS_PASS, skipped])),
            ChecksReported(CheckSet(phase="monitor", results=[TESTS_PASS, skipped])),
        )  # fmt: skip
        await wait_for(pilot, lambda: isinstance(app.screen, MonitorScreen) and len(app.state.checksets) == 2)
        await pilot.pause()
        text = screen_text(app)
        assert "no benchmark-command configured" in text and "no benchmark samples yet" not in text, text
        assert not app.screen.query_one("#samples", Sparkline).display


async def test_with_nothing_running_execute_and_monitor_name_the_keys_where_they_work(
    demo_template: Any,
) -> None:
    """``c`` does nothing on Execute or Monitor: their hint sends the user to Prepare, where it does."""
    from .test_snapshots import PLAN

    app = make_app(demo_template)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        for screen in ("2", "3"):
            await pilot.press(screen)
            await pilot.pause()
            text = " ".join(screen_text(app).split())
            assert "Nothing is running. On Prepare (1): pick targets, then p for the plan." in text, text
        app.post_message(PlanResolved(PLAN, None, None))
        await wait_for(pilot, lambda: app.state.plan is not None)
        await pilot.pause()
        text = " ".join(screen_text(app).split())
        assert "Nothing is running. On Prepare (1), c stages and tests the plan." in text, text
        assert "c" not in app.screen.active_bindings  # as it says: not a key here
