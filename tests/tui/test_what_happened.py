"""The screens say what happened, after it happened: live read again after a rollback, the plan and
the title of a partial promotion, a resumed run's steps, ``R`` after a finished upgrade (80x24)."""

from __future__ import annotations

import subprocess
from collections.abc import Awaitable, Callable
from typing import Any

from oxwizard.tui.app import WizardApp
from oxwizard.tui.widgets.plan_view import PlanView
from oxwizard.tui.widgets.targets import TargetsTable

from .conftest import make_app, screen_lines, screen_text, wait_for, wait_question, wait_ready
from .test_flow import _plan_and_stage


def _facts(app: Any) -> str:
    prepare = app._screen_stacks["prepare"][0]  # the prepare screen, shown or not
    return str(prepare.query_one("#facts").render())


def _table_names(app: Any) -> set[str]:
    prepare = app._screen_stacks["prepare"][0]
    return {r.name for r in prepare.query_one(TargetsTable).rows_all}


async def test_after_a_rollback_the_environment_panel_counts_the_dists_live_has_again(demo: Any) -> None:
    """An upgrade that adds a distribution (ziprow, removed from live first, comes back with
    0.3.2), promoted, then ``R`` at the verdict: the panel counts one more after the promotion and
    the original count again after the rollback, and the table has no ziprow row any more."""
    sandbox = demo()
    subprocess.run([str(sandbox.venv / "bin" / "python"), "-m", "pip", "uninstall", "-y", "-q", "ziprow"],
                   check=True, capture_output=True)  # fmt: skip
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await _plan_and_stage(pilot, "ziprow==0.3.2")
        before = len(app.state.env.distributions)
        assert f"{before} dists" in _facts(app), _facts(app)
        await pilot.press("g")
        await wait_question(pilot, "pins")
        await pilot.press("s")
        await wait_question(pilot, "verdict")
        await wait_for(pilot, lambda: f"{before + 1} dists" in _facts(app), 60)
        await wait_for(pilot, lambda: "ziprow" in _table_names(app), 60)
        await pilot.press("R")
        await wait_for(pilot, lambda: app.state.outcome is not None)
        assert app.state.outcome.status == "rolled-back"
        await wait_for(pilot, lambda: not app.state.pip_checking and "ziprow" not in _table_names(app), 60)
        await pilot.press("1")
        await pilot.pause()
        assert f"{before} dists" in screen_text(app), _facts(app)
        assert "pip check ok" in screen_text(app), _facts(app)


async def _answer_until(pilot: Any, last: str, answers: dict[str, str]) -> None:
    """Answer the flow's questions with ``answers`` (step: key) until it asks ``last``."""
    app = pilot.app

    def asked() -> bool:
        if app.state.outcome is not None or app.state.flow_error:
            raise AssertionError(f"flow ended before {last}: {app.state.outcome or app.state.flow_error}")
        return app.state.question is not None

    while True:
        await wait_for(pilot, asked, 300)
        await pilot.pause()
        step = app.state.question.step
        if step == last:
            return
        await pilot.press(answers[step])
        await wait_for(pilot, lambda s=step: app.state.question is None or app.state.question.step != s)


async def test_after_a_partial_promotion_prepare_shows_the_promoted_set_and_a_rollback_ends_it(
    demo: Any,
) -> None:
    """``A``, then the culprit search (real trials on the demo): ``o`` promotes the targets that
    pass. Prepare's plan, its risk and the targets' title are the promoted set's (not oxzep7 2.0.0's
    major bump, not 8 picked); ``R`` at the verdict: no title says "promoted, not …" any more."""
    sandbox = demo()
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        app.screen.query_one(TargetsTable).focus()
        await pilot.press("A", "p")
        await wait_for(pilot, lambda: app.state.plan is not None, 120)
        await pilot.press("c")
        await _answer_until(
            pilot, "verdict", {"go": "g", "promote-set": "o", "ack-warnings": "a", "pins": "s"}
        )
        promoted = len(app.state.plan.targets)
        assert 0 < promoted < 8 and app.state.not_promoted
        await pilot.press("1")
        await wait_for(pilot, lambda: app.state.risk is not None, 30)
        await pilot.pause()
        lines = screen_lines(app)
        text = " ".join(" ".join(lines).split())
        assert f"Promoted {promoted} of 8 targets." in text, text
        assert f"{promoted} picked" in text and "8 picked" not in text, text
        plan = " ".join(str(app.screen.query_one(PlanView).render()).split())  # scrolled out of view too
        assert "Why: major bump:" in plan and "oxzep7" not in plan.split("Why: ")[1], plan
        assert f"{promoted} of 8 promoted, not" in lines[0], lines[0]
        await pilot.press("R")
        await wait_for(pilot, lambda: app.state.outcome is not None, 120)
        assert app.state.outcome.status == "rolled-back"
        for key in ("1", "2", "3"):
            await pilot.press(key)
            await pilot.pause()
            title = screen_lines(app)[0]
            assert "promoted, not" not in title, (key, title)
        assert "promoted, not" not in " ".join(screen_text(app).split())


async def test_a_resumed_run_says_what_was_done_and_marks_the_steps_done(demo: Any) -> None:
    """Checks on live and the monitoring round passed, then ``q`` at the verdict. The next start's
    dialog says what was done (not "promoted, not yet verified"); after ``r`` Execute marks the steps
    the runbook recorded as done, and so does Readiness (not "· checkpoint" beside its id)."""
    from oxwizard.tui.screens.resume import ResumeScreen

    from .test_flow import _quit_at_the_verdict

    sandbox = demo()
    await _quit_at_the_verdict(sandbox)
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ResumeScreen), 60)
        await pilot.pause()
        text = " ".join(screen_text(app).split())
        assert "not yet verified" not in text, text
        assert "checks on live passed" in text and "monitoring: 1 of 1 rounds healthy" in text, text
        assert "verdict not given yet" in text, text
        lines = "\n".join(screen_lines(app))  # the Readiness box behind the dialog
        assert "✔ checkpoint" in lines and "· checkpoint" not in lines, lines
        await pilot.press("r")
        await wait_question(pilot, "verdict")
        await pilot.press("2")
        await pilot.pause()
        steps = str(app.screen.query_one("#steps").render())
        for name in ("install in the copy", "new warnings", "install on live", "checks on live"):
            line = next(ln for ln in steps.splitlines() if name in ln)
            assert line.startswith("✔") or line.startswith("!"), steps
        await pilot.press("1")
        await pilot.pause()
        ready = str(app.screen.query_one("#ready-steps").render())
        assert "· checkpoint" not in ready and "✔ checkpoint" in ready, ready


async def test_r_after_reopening_a_finished_upgrade_says_how_to_undo_it(demo: Any) -> None:
    """oxzep7 1.5.0 upgraded (``s``), the wizard opened again: no checkpoint on screen, but ``R``
    says in one line that the upgrade is on live and the command that undoes it."""
    import sys

    from oxwizard.runbook.model import load_runbook

    sandbox = demo()
    where = ["--env", str(sandbox.venv), "--project", str(sandbox.project)]
    argv = [sys.executable, "-m", "oxwizard", "upgrade", "oxzep7==1.5.0", "--yes", "--rounds", "0", *where]
    done = subprocess.run([*argv, "--find-links", str(sandbox.wheelhouse), "--no-index"],
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (runbook,) = (sandbox.project / ".oxwizard" / "runbooks").glob("*.json")
    checkpoint = load_runbook(runbook).checkpoint_id
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:  # toasts shown
        await wait_ready(pilot)
        app.clear_notifications()
        await pilot.press("R")
        await wait_for(pilot, lambda: any("to undo it" in n.message for n in app._notifications), 10)
        await pilot.pause()
        said = next(n.message for n in app._notifications if "to undo it" in n.message)
        command = f"oxwizard rollback --env {sandbox.venv} --project {sandbox.project} --to {checkpoint}"
        assert "oxzep7==1.5.0" in said and said.endswith(command), said
        await wait_for(pilot, lambda: "to undo it" in " ".join(" ".join(screen_lines(app)).split()), 10)


async def test_a_run_still_going_in_another_oxwizard_is_named_and_not_offered_to_resume(demo: Any) -> None:
    """The SSH session dropped mid-upgrade, the old oxwizard still finishes its step (it holds the
    lock) and the user opens the wizard again: the run is not offered to resume ("Live was not
    changed" could be false the next second), the panel says who holds the environment. Once that
    process has ended, the same start offers to resume it."""
    import os
    import sys

    from oxwizard.tui.screens.resume import ResumeScreen

    sandbox = demo()
    where = ["--env", str(sandbox.venv), "--project", str(sandbox.project), "--find-links",
             str(sandbox.wheelhouse), "--no-index"]  # fmt: skip
    upgrade = [sys.executable, "-m", "oxwizard", "upgrade", "oxzep7==1.5.0", *where, "--yes"]
    killed = subprocess.run(
        upgrade, capture_output=True, env={**os.environ, "OXWIZARD_TEST_KILL_AT": "apply:1"}
    )
    assert killed.returncode < 0  # killed in the staging install: an unfinished run, live untouched
    hold = (
        "import sys, time\nfrom oxwizard.env.environment import Environment\n"
        "from oxwizard.safety.lock import env_lock\n"
        "with env_lock(Environment.open(sys.argv[1]), 'oxwizard upgrade oxzep7==1.5.0'):\n"
        "    print('held', flush=True)\n    time.sleep(60)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(sandbox.venv)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        app = make_app(sandbox)
        async with app.run_test(size=(80, 24)) as pilot:
            await wait_for(pilot, lambda: app.state.env is not None)
            await pilot.pause()
            assert not isinstance(app.screen, ResumeScreen)
            said = "\n".join(screen_lines(app))
            assert f"busy: pid {holder.pid} runs oxwizard upgrade" in said, said
            assert app.state.held_elsewhere is not None
            assert (
                f"is locked by pid {holder.pid} (oxwizard upgrade oxzep7==1.5.0)"
                in app.state.held_elsewhere[1]
            )
    finally:
        holder.kill()
        holder.wait()
    app = make_app(sandbox)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ResumeScreen))


async def test_the_spec_the_wizard_was_started_with_is_what_p_plans_again(demo_template: Any) -> None:
    """`oxwizard wizard oxzep7==1.5.0` plans it at once; `p` then plans it again — not the row under
    the cursor (alpha, the first), which silently replaced the plan the user asked for."""
    app = make_app(demo_template, specs=["oxzep7==1.5.0"])
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        await wait_for(pilot, lambda: app.state.plan is not None or app.state.plan_error, 120)
        assert app.state.plan is not None and list(app.state.plan.targets) == ["oxzep7==1.5.0"]
        assert "oxzep7==1.5.0" in "\n".join(screen_lines(app))  # in the filter, as if typed
        first = app.state.plan
        await pilot.press("p")
        await wait_for(pilot, lambda: app.state.plan is not first and app.state.plan is not None, 120)
        assert list(app.state.plan.targets) == ["oxzep7==1.5.0"]


async def test_the_palettes_screenshot_is_saved_in_the_current_folder(
    demo_template: Any, tmp_path: Any, monkeypatch: Any
) -> None:
    """Over SSH there is often no ~/Downloads (Textual's default): the screenshot goes where the
    wizard was started, and the notification names it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no Downloads folder there
    app = make_app(demo_template)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_ready(pilot)
        app.deliver_screenshot()
        await wait_for(pilot, lambda: list(tmp_path.glob("*.svg")), 30)
        await wait_for(pilot, lambda: "Saved screenshot to" in "\n".join(screen_lines(app)), 30)
    [svg] = tmp_path.glob("*.svg")
    assert "<svg" in svg.read_text(encoding="utf-8")


async def _quit_at_go(sandbox: Any, stage: Callable[[Any], Awaitable[object]]) -> WizardApp:
    """``stage`` plans and stages in one wizard, which is quit at the go question (live untouched,
    the runbook unfinished): a new wizard on the same sandbox, to open again."""
    from oxwizard.tui.screens.confirm import ConfirmScreen

    first = make_app(sandbox)
    async with first.run_test(size=(80, 24)) as pilot:
        await stage(pilot)
        await pilot.press("q")
        await wait_for(pilot, lambda: isinstance(first.screen, ConfirmScreen))
        await pilot.press("y")
        await pilot.pause()
    assert first.flow_done.wait(60)
    return make_app(sandbox)


async def _resume(pilot: Any) -> Any:
    """``r`` at the resume dialog: the plan it made, once the targets table takes keys."""
    from oxwizard.tui.screens.resume import ResumeScreen

    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, ResumeScreen), 60)
    await pilot.pause()
    await pilot.press("r")
    await wait_for(pilot, lambda: app.state.plan is not None or app.state.plan_error, 120)
    await wait_ready(pilot)
    assert app.state.plan is not None, app.state.plan_error
    return app.state.plan


async def _p_again(pilot: Any) -> Any:
    """``p`` with the cursor on the first row (not what p should plan): the plan it made."""
    app = pilot.app
    before = app.state.plan
    await pilot.press("home")
    await pilot.press("p")
    await wait_for(pilot, lambda: app.state.plan is not before and app.state.plan is not None, 120)
    return app.state.plan


async def test_after_r_resume_p_plans_the_resumed_targets_again(demo: Any) -> None:
    """Every outdated package picked (``A``), planned, staged, then quit at the go question. At the
    next start ``r`` plans them again, and they are picked again (the title counts them), so ``p``
    plans the same targets — not the row under the cursor, which silently replaced the plan."""
    picked: set[str] = set()

    async def stage(pilot: Any) -> None:
        app = pilot.app
        await wait_ready(pilot)
        await pilot.press("A")
        await pilot.pause()
        picked.update(app.state.picked)
        assert len(picked) > 1, picked
        await pilot.press("p")
        await wait_for(pilot, lambda: app.state.plan is not None or app.state.plan_error, 120)
        assert app.state.plan is not None and set(app.state.plan.targets) == picked
        await pilot.press("c")
        await wait_question(pilot, "go")

    app = await _quit_at_go(demo(), stage)
    async with app.run_test(size=(80, 24)) as pilot:
        assert set((await _resume(pilot)).targets) == picked
        assert f"{len(picked)} picked" in "\n".join(screen_lines(app))  # the targets panel's title
        assert set((await _p_again(pilot)).targets) == picked


async def test_after_r_resume_a_run_of_one_spec_has_it_in_the_filter(demo: Any) -> None:
    """oxzep7==1.5.0 staged, quit at the go question; ``r`` at the next start puts the spec in the
    filter, as if typed, so that ``p`` plans it again (not the row under the cursor)."""
    app = await _quit_at_go(demo(), lambda pilot: _plan_and_stage(pilot, "oxzep7==1.5.0"))
    async with app.run_test(size=(80, 24)) as pilot:
        assert list((await _resume(pilot)).targets) == ["oxzep7==1.5.0"]
        # typed, not the placeholder (which suggests the same spec on the demo)
        assert app.screen.query_one("#filter").value == "oxzep7==1.5.0"
        assert list((await _p_again(pilot)).targets) == ["oxzep7==1.5.0"]
