"""Pilot tests: the whole flow on a fresh demo sandbox, driven with the keys a user presses."""

from __future__ import annotations

import subprocess
from typing import Any

from oxwizard.flow.steps import label, step
from oxwizard.runbook.repo import RunbookRepo
from oxwizard.tui.screens.execute import ExecuteScreen
from oxwizard.tui.screens.monitor import MonitorScreen
from oxwizard.tui.screens.resume import ResumeScreen

from .conftest import installed_version, make_app, screen_text, wait_for, wait_question, wait_ready


async def _plan_and_stage(pilot: Any, spec: str) -> None:
    app = pilot.app
    await wait_ready(pilot)
    await pilot.press("slash")
    await pilot.press(*spec)
    await pilot.press("enter")
    await wait_for(pilot, lambda: app.state.plan is not None or app.state.plan_error, 120)
    assert app.state.plan is not None, app.state.plan_error
    keys = app.screen.query_one("#keys")
    await wait_for(pilot, lambda: "c Stage & test" in str(keys.render()))
    assert "R Roll back" not in str(keys.render()), "no rollback key before there is a checkpoint"
    await pilot.press("c")
    await wait_question(pilot, "go")
    assert "checkpoint" in screen_text(app)
    assert "R" in app.screen.active_bindings, "the rollback key is offered once a checkpoint exists"
    await wait_for(pilot, lambda: "g Go" in str(keys.render()) and "R Roll back" in str(keys.render()))


async def _to_failed_checks_in_staging(pilot: Any) -> None:
    """oxzep7 2.0.0: planned, staged, go; its checks fail in the staging copy."""
    await _plan_and_stage(pilot, "oxzep7==2.0.0")
    await pilot.press("g")
    await wait_question(pilot, "checks-staging")


async def _upgrade_to_verdict(pilot: Any, spec: str, pins: str = "s") -> None:
    """Plan, stage, go, acknowledge the new warnings, skip (``s``) or write (``w``) the project
    files: promoted, monitored, at the verdict."""
    await _plan_and_stage(pilot, spec)
    await pilot.press("g")
    await wait_question(pilot, "ack-warnings")
    await pilot.press("a")
    await wait_question(pilot, "pins")  # the demo's requirements.txt pins oxzep7: write it?
    await pilot.press(pins)
    await wait_question(pilot, "verdict")


def _log(sandbox: Any) -> list[str]:
    with RunbookRepo(sandbox.project / ".oxwizard") as repo:
        return [e.message for e in repo.log()]


async def test_upgrade_to_150_succeeds(demo: Any) -> None:
    sandbox = demo()
    app = make_app(sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await _plan_and_stage(pilot, "oxzep7==1.5.0")
        assert "oxzep7" in screen_text(app) and "1.5.0" in screen_text(app)
        await pilot.press("g")
        await wait_question(pilot, "ack-warnings")
        assert isinstance(app.screen, ExecuteScreen)
        assert "legacy_parse" in screen_text(app) or "Deprecation" in screen_text(app)
        await pilot.press("a")
        # before anything reaches live: the project files' diff, asked (u on Prepare is on by default)
        await wait_question(pilot, "pins")
        assert "-oxzep7==1.4.2" in screen_text(app) and "+oxzep7==1.5.0" in screen_text(app)
        await pilot.press("w")
        await wait_question(pilot, "verdict")
        assert isinstance(app.screen, MonitorScreen)
        assert installed_version(sandbox, "oxzep7") == "1.5.0"
        await pilot.press("s")
        await wait_for(pilot, lambda: app.state.outcome is not None)
        assert app.state.outcome is not None and app.state.outcome.status == "upgraded"
        assert "upgraded" in screen_text(app)
    assert installed_version(sandbox, "oxzep7") == "1.5.0"
    messages = _log(sandbox)
    assert messages[0].startswith("outcome: upgraded")
    assert any(m.startswith("verdict: success") for m in messages)
    assert any(m.startswith("go: go") for m in messages)
    # the pin moved on a branch of its own; the user's checkout is as it was
    branch = next(m.split(" on branch ")[1].split()[0] for m in messages if m.startswith("pins: committed"))
    shown = subprocess.run(["git", "-C", str(sandbox.project), "show", f"{branch}:requirements.txt"],
                           capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert "oxzep7==1.5.0  # record parsing" in shown
    assert "oxzep7==1.4.2" in (sandbox.project / "requirements.txt").read_text()


async def test_200_fails_in_staging_and_live_is_untouched(demo: Any) -> None:
    sandbox = demo()
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await _to_failed_checks_in_staging(pilot)
        assert isinstance(app.screen, ExecuteScreen)
        text = screen_text(app)
        assert step("checks-staging").question.split(":")[0] in text and "tests" in text
        # keep or retry; R ends it too, and the screen says live was never changed either way
        assert "[k]" in text and "[t]" in text and "k or R both end here: live was never changed" in text
        # the reasons are on the screen at 80x24: the broken dependent and the newly failing tests
        assert "No module named 'oxzep7.fmt'" in text and "test_legacy_parse" in text
        await pilot.press("k")
        await wait_for(pilot, lambda: app.state.outcome is not None)
        assert app.state.outcome is not None and app.state.outcome.status == "failed"
        assert "live is untouched" in screen_text(app)
        checks = app.state.steps["checks-staging"]
        assert checks.status == "failed", "keeping the old version does not turn the failed gate green"
        assert f"✘ {label('checks-staging')}" in screen_text(app)
    assert installed_version(sandbox, "oxzep7") == "1.4.2"
    again = make_app(sandbox)
    async with again.run_test(size=(100, 30)) as pilot:  # the next start says how the last run ended
        await wait_ready(pilot)
        assert "last: oxzep7==2.0.0 failed: checks failed in staging" in screen_text(again)


async def _quit_at_the_verdict(sandbox: Any, pins: str = "s") -> None:
    """oxzep7 1.5.0 promoted, then the wizard quit before the verdict: the runbook is unfinished."""
    first = make_app(sandbox)
    async with first.run_test(size=(80, 24)) as pilot:
        await _upgrade_to_verdict(pilot, "oxzep7==1.5.0", pins=pins)
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")  # "An upgrade is in progress. Quit anyway?"
        await pilot.pause()
    assert first.flow_done.wait(60), "the flow thread did not stop after quitting"
    assert installed_version(sandbox, "oxzep7") == "1.5.0"  # promoted; verdict not given


async def _at_the_resume_dialog(pilot: Any) -> None:
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, ResumeScreen), 60)
    # the resume screen is pushed before its text is composed: wait for what the user reads
    await wait_for(pilot, lambda: "oxzep7==1.5.0" in screen_text(app), 30)
    assert "Live HAS the new versions: checks on live passed; monitoring: 1 of 1 rounds healthy" in " ".join(
        screen_text(app).split()
    )


async def test_quit_after_promotion_then_resume_and_roll_back_with_one_key(demo: Any) -> None:
    sandbox = demo()
    await _quit_at_the_verdict(sandbox, pins="w")

    second = make_app(sandbox)
    async with second.run_test(size=(80, 24)) as pilot:
        await _at_the_resume_dialog(pilot)
        await pilot.press("r")  # resume: checks on live, monitoring, verdict
        await wait_question(pilot, "verdict")
        await pilot.press("R")  # the one rollback key
        await wait_for(pilot, lambda: second.state.outcome is not None)
        assert second.state.outcome is not None and second.state.outcome.status == "rolled-back"
        assert "rolled back" in screen_text(second)
        # verified by signatures at once, then by the sha256 of every restored file in the background
        await wait_for(pilot, lambda: second.state.rollback_result.endswith("verified (sha256)"), 60)
        assert "verified (sha256)" in screen_text(second).replace("\n", " ")
    assert installed_version(sandbox, "oxzep7") == "1.4.2"
    messages = _log(sandbox)
    assert any(m.startswith("rollback: rolled back to") for m in messages)
    # R also took away the branch the project files were written on (unmerged, still oxwizard's)
    assert any(m.startswith("pins: branch oxwizard/") and " removed " in m for m in messages), messages
    branches = subprocess.run(["git", "-C", str(sandbox.project), "branch", "--list", "oxwizard/*"],
                              capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert branches == ""


async def test_an_unfinished_upgrade_left_as_it_is_is_still_rolled_back_by_r(demo: Any) -> None:
    """``n`` (leave it) at the resume dialog while live has the new version: ``R`` is offered, and
    it restores live to the checkpoint through the engine, recorded in the runbook; it does not
    say live already matches the checkpoint."""
    sandbox = demo()
    await _quit_at_the_verdict(sandbox)

    second = make_app(sandbox)
    async with second.run_test(size=(80, 24)) as pilot:
        await _at_the_resume_dialog(pilot)
        await pilot.press("n")
        await wait_for(pilot, lambda: not isinstance(second.screen, ResumeScreen))
        keys = second.screen.query_one("#keys")
        await wait_for(pilot, lambda: "R Roll back" in str(keys.render()), 10)
        assert "(R rolls back to it)" in str(second.screen.query_one("#decision").render())
        await pilot.press("R")
        await pilot.pause()
        notes = [n.message for n in second._notifications]
        assert not any("nothing to roll back" in n for n in notes), notes
        await wait_for(pilot, lambda: not second.state.rolling_back and second.state.rollback_result, 120)
        assert second.state.rollback_result.startswith("✔"), second.state.rollback_result
        assert installed_version(sandbox, "oxzep7") == "1.4.2"
        decision = str(second.screen.query_one("#decision").render())  # Prepare's readiness
        assert "■ rolled-back: " in decision and "(live matches it)" in decision, decision
        await wait_for(pilot, lambda: "R Roll back" not in str(keys.render()), 10)  # nothing left to undo
    messages = _log(sandbox)
    assert messages[0].startswith("rollback: rolled back to"), messages


def test_a_plan_still_running_when_the_user_leaves_stops_at_its_next_step() -> None:
    """Comparing many large APIs can take seconds: quitting the wizard meanwhile does not wait for
    it (nothing has changed yet). Every other step still reaches the app, as before."""
    import pytest

    from oxwizard.flow.upgrade import StepEvent
    from oxwizard.tui.listener import FlowAbandoned, WizardListener

    class App:
        posted: list[object] = []

        def post_message(self, message: object) -> bool:
            self.posted.append(message)
            return True

    app = App()
    listener = WizardListener(app)  # type: ignore[arg-type]
    listener.on_step(StepEvent("plan", "running", "API impact: comparing numpy"))
    assert len(app.posted) == 1
    listener.abandon()
    with pytest.raises(FlowAbandoned, match="left the wizard while planning"):
        listener.on_step(StepEvent("plan", "running", "API impact: comparing pandas"))
    listener.on_step(StepEvent("promote", "running", "installing on live"))  # never cut short
    assert len(app.posted) == 2
