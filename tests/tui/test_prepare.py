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


async def test_the_targets_table_uses_its_width_never_cuts_a_version_silently_and_takes_home_end(
    demo_template: Any,
) -> None:
    """Names as long as the room allows (two names that differ after 13 letters stay two names),
    a version longer than its column ends with "…", and Home / End go to the first / last row."""
    from oxwizard.tui.widgets.target_row import TargetRow

    from .test_snapshots import region_lines, screen_lines

    rows = [
        TargetRow("certifi", "2024.8.30", "2026.10.19.post1", "major"),
        TargetRow("jupyter-server", "2.14.2", "2.15.0", "minor"),
        TargetRow("jupyter-server-terminals", "0.5.3", None, ""),
        *(TargetRow(f"pkg{n:02}", "1.0", None, "") for n in range(30)),
    ]
    app = make_app(demo_template)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await _showing(pilot, rows)
        shown = region_lines(screen_lines(app), table)
        jupyter = [line for line in shown if "jupyter" in line]
        assert len(set(jupyter)) == 2, shown  # two packages, two different rows
        server, terminals = jupyter
        assert server.split()[0] == "jupyter-server" and "2.14.2" in server, shown
        assert _whole_or_cut(terminals.split()[0], "jupyter-server-terminals"), shown
        assert terminals.startswith("  jupyter-server-"), shown
        certifi = next(line for line in shown if "certifi" in line).split()
        assert _whole_or_cut(certifi[1], "2024.8.30") and _whole_or_cut(certifi[2], "2026.10.19.post1"), shown
        await pilot.press("end")
        assert table.cursor_row == len(rows) - 1
        await pilot.press("home")
        assert table.cursor_row == 0


async def _showing(pilot: Any, rows: list[Any]) -> TargetsTable:
    """The wizard's targets table, once ready, showing ``rows`` instead of the environment's."""
    await wait_ready(pilot)
    pilot.app.update_state(targets=tuple(rows))
    await pilot.pause()
    return pilot.app.screen.query_one(TargetsTable)


def _whole_or_cut(shown: str, value: str) -> bool:
    """``value`` as shown, or its start followed by "…" (never cut without saying so)."""
    return shown == value or (shown.endswith("…") and value.startswith(shown[:-1]))


async def test_the_cursor_stays_on_its_package_when_the_table_is_drawn_again(demo_template: Any) -> None:
    """A resize that changes the columns' widths, and picking with A, draw the rows again: the
    cursor stays on the package the user was on (a redraw used to put it on the first row)."""
    from oxwizard.tui.widgets.target_row import TargetRow

    rows = [TargetRow(f"a-package-with-a-long-name-{n:02}", "1.0", "2.0", "major") for n in range(30)]
    app = make_app(demo_template)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await _showing(pilot, rows)
        table.focus()
        await pilot.press("down", "down", "down")
        on = table.current_row()
        assert on is not None and on.name.endswith("-03")
        widths = [c.width for c in table.ordered_columns]
        await pilot.resize_terminal(70, 30)  # under 80 columns the targets take the whole width
        await wait_for(pilot, lambda: [c.width for c in table.ordered_columns] != widths, 10)
        assert table.current_row() == on
        await pilot.press("A")
        await wait_for(pilot, lambda: len(app.state.picked) == len(rows), 10)
        await pilot.pause()
        assert table.current_row() is not None and table.current_row().name == on.name  # type: ignore[union-attr]


async def test_the_cursor_follows_its_package_through_the_top_row_as_answers_sort_the_table(
    demo_template: Any,
) -> None:
    """Answers sort the outdated packages first, one batch at a time. The package the user is on
    may pass through the first row on its way (answered before those above it): the cursor stays
    on it when the next answer sorts another package above it (it stayed on the first row's new
    package, a CI failure of test_latest)."""
    from oxwizard.tui.tasks import sort_rows
    from oxwizard.tui.widgets.target_row import TargetRow

    pending = [TargetRow(name, "1.0", None, "", "pending") for name in ("alpha", "beta", "gamma")]
    app = make_app(demo_template)
    async with app.run_test(size=(80, 24)) as pilot:
        table = await _showing(pilot, list(sort_rows(pending)))
        table.focus()
        await pilot.press("down")
        assert table.current_row() == pending[1]  # beta, on the second row
        alpha, beta = TargetRow("alpha", "1.0", "1.1", "minor"), TargetRow("beta", "1.0", "2.0", "major")
        app.update_state(targets=sort_rows([pending[0], beta, pending[2]]))  # beta answered first
        await pilot.pause()
        assert table.cursor_row == 0 and table.current_row() == beta
        app.update_state(targets=sort_rows([alpha, beta, pending[2]]))  # then alpha, sorted above it
        await pilot.pause()
        assert table.current_row() == beta
        await pilot.press("home")  # the user's own first row stays the first row
        aardvark = TargetRow("aardvark", "1.0", "1.0.1", "patch")
        app.update_state(targets=sort_rows([aardvark, alpha, beta, pending[2]]))
        await pilot.pause()
        assert table.cursor_row == 0 and table.current_row() == aardvark
