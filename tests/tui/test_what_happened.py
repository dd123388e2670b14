"""The screens say what happened, after it happened: live read again after a rollback, the plan and
the title of a partial promotion, a resumed run's steps, ``R`` after a finished upgrade (80x24)."""

from __future__ import annotations

import subprocess
from typing import Any

from oxwizard.tui.widgets.targets import TargetsTable

from .conftest import make_app, screen_text, wait_for, wait_question
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
