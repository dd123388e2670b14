"""The wizard never waits for the network: the targets table takes keys as soon as the environment is
read, and the "latest" column fills in as a real index on 127.0.0.1 answers (or says it cannot)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import wheel_install
from simple_index import SimpleIndex, closed_port, serve

from oxwizard.demo.wheels import build_wheel
from oxwizard.tui.app import WizardApp
from oxwizard.tui.tasks import Sources
from oxwizard.tui.widgets.targets import TargetsTable

from .conftest import screen_lines, wait_for, wait_usable


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OXWIZARD_INDEX_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def held_index(demo_template: Any) -> Iterator[tuple[SimpleIndex, threading.Event]]:
    """The demo's wheels on a local index that answers only once the test lets it."""
    gate = threading.Event()
    with serve(SimpleIndex(Path(demo_template.wheelhouse), gate=gate)) as index:
        try:
            yield index, gate
        finally:
            gate.set()


def app_on(sandbox: Any, url: str) -> WizardApp:
    return WizardApp(
        env_path=str(sandbox.venv),
        project=Path(sandbox.project),
        sources=Sources(index_url=url, isolated=True),
        monitor_rounds=1,
        monitor_interval=0.0,
    )


async def test_table_usable_before_the_index_answers_then_latest_fills_in(
    demo_template: Any, held_index: tuple[SimpleIndex, threading.Event]
) -> None:
    index, gate = held_index
    app = app_on(demo_template, index.url)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_usable(pilot)
        table = app.screen.query_one(TargetsTable)
        total = len(table.rows_all)
        assert {r.status for r in table.rows_all} == {"pending"}  # nothing answered yet
        assert str(table.get_row_at(0)[2]) == "…"
        title = str(app.screen.query_one("#left").border_title)
        assert title == f"Environment · targets · latest: 0/{total}…"
        # the table takes keys meanwhile: filter, pick, move
        await pilot.press("slash", "z", "i", "p", "escape", "space")
        assert app.state.picked == {"ziprow"}
        await pilot.press("slash", "backspace", "backspace", "backspace", "escape", "down")
        on = table.current_row()
        assert on is not None and on.status == "pending" and index.statuses.total() == 0
        gate.set()  # the index answers now

        def filled() -> bool:
            return app.state.latest_progress == (total, total) and not any(r.status for r in table.rows_all)

        await wait_for(pilot, filled, 30)
        rows = {r.name: r for r in table.rows_all}
        assert (rows["oxzep7"].latest, rows["oxzep7"].impact) == ("2.0.0", "major")
        assert rows["ziprow"].impact == "patch"
        assert str(app.screen.query_one("#left").border_title) == "Environment · targets · 1 picked"
        assert app.state.picked == {"ziprow"}
        still = table.current_row()
        assert still is not None and still.name == on.name  # the cursor stayed on its package


async def test_a_table_left_alone_shows_its_top_once_the_answers_have_sorted_it(
    demo: Any, held_index: tuple[SimpleIndex, threading.Event], tmp_path: Path
) -> None:
    """Answers sort the outdated packages first. A cursor the user never moved stays on the first row
    (the top of the table in view), not on the package that was first before: on a 115-package
    environment that package ends below the outdated ones, and the view followed it down."""
    sandbox = demo()
    wheel_install(sandbox.venv, build_wheel(tmp_path / "w", "aardvark", "1.0", {"aardvark.py": ""}).parent,
                  "aardvark")  # fmt: skip  # first by name, and on no index: sorted after the outdated
    index, gate = held_index
    app = app_on(sandbox, index.url)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_usable(pilot)
        table = app.screen.query_one(TargetsTable)
        first = table.current_row()
        assert first is not None and first.name == "aardvark" and table.cursor_row == 0
        gate.set()
        total = len(table.rows_all)
        await wait_for(pilot, lambda: app.state.latest_progress == (total, total), 30)
        await pilot.pause()
        top = table.current_row()
        assert table.cursor_row == 0 and top is not None and top.latest, top
        assert [r.name for r in table.rows_all].index("aardvark") > 0  # it did move down
        assert table.scroll_y == 0


async def test_unreachable_index_shows_as_such(demo_template: Any) -> None:
    app = app_on(demo_template, f"http://127.0.0.1:{closed_port()}/simple")
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_usable(pilot)
        await wait_for(pilot, lambda: bool(app.state.latest_errors), 30)
        table = app.screen.query_one(TargetsTable)
        await wait_for(pilot, lambda: all(r.status == "unknown" for r in table.rows_all), 30)
        title = str(app.screen.query_one("#left").border_title)
        assert title == "Environment · targets · index unreachable"
        assert str(table.get_row_at(0)[2]) == "unknown"
        await pilot.press("slash", "o", "x", "escape", "space")
        assert len(app.state.picked) == 1  # still usable
        await pilot.pause()
        title = "Targets · index unreachable · 1 picked"  # whole in the 80x24 panel, not cut
        assert str(app.screen.query_one("#left").border_title) == title
        assert any(title in line for line in screen_lines(app))
