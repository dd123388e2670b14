"""Pilot tests of the prepare screen: facts, the targets table, filtering, picking, help, palette."""

from __future__ import annotations

from typing import Any

from oxwizard.tui.screens.help import HelpScreen
from oxwizard.tui.screens.runbook import RunbookScreen
from oxwizard.tui.widgets.targets import TargetsTable

from .conftest import make_app, screen_text, wait_for, wait_ready


async def test_prepare_shows_facts_targets_and_filters(demo_template: Any) -> None:
    app = make_app(demo_template)
    async with app.run_test(size=(80, 24)) as pilot:
        assert "R" not in app.screen.active_bindings  # no checkpoint yet: no rollback key
        await wait_ready(pilot)
        await pilot.pause()
        text = screen_text(app)
        assert "installer pip" in text and "pip check ok" in text and ".oxwizard/" in text
        table = app.screen.query_one(TargetsTable)
        rows = {r.name: r for r in table.rows_all}
        assert rows["oxzep7"].current == "1.4.2" and rows["oxzep7"].latest == "2.0.0"
        assert rows["oxzep7"].impact == "major" and rows["ziprow"].impact == "patch"
        await pilot.press("slash", "z", "i", "p")
        assert [r.name for r in table.visible_rows()] == ["ziprow"]
        await pilot.press("escape", "space")
        assert app.state.picked == {"ziprow"}
        assert "✔ ziprow" in str(table.get_row_at(0)[0])
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "l")
        assert isinstance(app.screen, RunbookScreen)
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "CommandPalette"
        await pilot.press("escape")


async def test_plan_for_a_typed_spec(demo: Any) -> None:
    sandbox = demo()
    app = make_app(sandbox)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("slash", *"oxzep7==2.0.0", "enter")
        await wait_for(pilot, lambda: app.state.plan is not None or app.state.plan_error, 120)
        text = screen_text(app)
        assert "1.4.2 → 2.0.0 MAJOR" in text
        assert "oxzep7-core" in text and "new → 2.0.0" in text
        assert "Risk: " in text and "Recommendation:" in text
        assert "c" in app.screen.active_bindings  # staging is offered once there is a plan
        # the demo's requirements.txt pins 1.4.2: the files are written with the upgrade by default (u),
        # so what would undo it is no risk; with u it is again, and the flow goes with that risk
        undone = app.state.plan.project_files.undone
        assert undone and [r for r in app.state.risk.reasons if "requirements.txt" in r] == [
            f"{u} (the upgrade rewrites it)" for u in undone
        ]
        assert "✔ requirements.txt pins oxzep7==1.4.2" in text
        written = app.state.risk
        await pilot.press("u")
        await pilot.pause()
        assert [r for r in app.state.risk.reasons if "requirements.txt" in r] == undone
        assert app.flow.risk == app.state.risk != written
        assert "⚠ requirements.txt pins oxzep7==1.4.2" in screen_text(app)
