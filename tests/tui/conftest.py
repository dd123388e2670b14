"""Helpers for the wizard's pilot, snapshot and tmux tests (fixtures come from tests/conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from oxwizard.tui.app import WizardApp
from oxwizard.tui.tasks import Sources


def make_app(sandbox: Any, **kw: Any) -> WizardApp:
    """The wizard on a demo sandbox, offline, with one quick monitoring round."""
    kw.setdefault("monitor_rounds", 1)
    kw.setdefault("monitor_interval", 0.0)
    return WizardApp(
        env_path=str(sandbox.venv),
        project=Path(sandbox.project),
        sources=Sources(find_links=[str(sandbox.wheelhouse)], no_index=True),
        **kw,
    )


async def wait_for(pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 120.0) -> None:
    """Let the app run until ``predicate()`` is true (workers run real pip and tests)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {getattr(predicate, '__name__', predicate)}")
        await pilot.pause(0.05)


async def wait_ready(pilot: Pilot[Any], timeout: float = 60.0) -> None:
    """Wait until the prepare screen shows the environment and its targets table takes keys (the
    table is mounted once the environment has been read, after the first paint), pip check has
    answered and so has every package source (the "latest" column is complete)."""
    from oxwizard.tui.widgets.targets import TargetsTable

    app = pilot.app
    assert isinstance(app, WizardApp)

    def ready() -> bool:
        if app.state.env_error:
            return True
        tables = app.screen.query(TargetsTable)
        done, total = app.state.latest_progress
        answered = done == total and not app.state.pip_checking
        return app.state.env is not None and bool(tables) and tables.first().row_count > 0 and answered

    ready.__name__ = "the targets table"
    await wait_for(pilot, ready, timeout)
    await pilot.pause()


async def wait_usable(pilot: Pilot[Any], timeout: float = 60.0) -> None:
    """Wait only until the targets table takes keys (the sources and pip check may still be busy)."""
    from oxwizard.tui.widgets.targets import TargetsTable

    app = pilot.app
    assert isinstance(app, WizardApp)

    def usable() -> bool:
        tables = app.screen.query(TargetsTable)
        return app.state.env is not None and bool(tables) and tables.first().row_count > 0

    usable.__name__ = "a targets table taking keys"
    await wait_for(pilot, usable, timeout)


async def wait_question(pilot: Pilot[Any], step: str, timeout: float = 180.0) -> None:
    app = pilot.app
    assert isinstance(app, WizardApp)

    def asked() -> bool:
        q = app.state.question
        if app.state.outcome is not None or app.state.flow_error:
            raise AssertionError(f"flow ended before {step}: {app.state.outcome or app.state.flow_error}")
        return q is not None and q.step == step

    asked.__name__ = f"question {step}"
    await wait_for(pilot, asked, timeout)
    await pilot.pause()


def installed_version(sandbox: Any, name: str) -> str:
    """What the live environment really has installed (read from disk, not from the app)."""
    from oxwizard.env.environment import Environment

    return Environment.open(sandbox.venv).distributions[name].version


def screen_text(app: WizardApp) -> str:
    """Every Static's and the Log's text on the active screen, for assertions about what users read."""
    from textual.widgets import Log, Static

    parts: list[str] = []
    for widget in app.screen.query(Static):
        parts.append(str(widget.render()))
    for log in app.screen.query(Log):
        parts.extend(log.lines)
    return "\n".join(parts)


@pytest.fixture(autouse=True)
def _no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    from textual.widgets import Input

    monkeypatch.setattr(Input, "cursor_blink", False)


def screen_lines(app: Any) -> list[str]:
    """The terminal as the user sees it, one string per line (the same rendering as the snapshots)."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, record=True,
                      color_system="truecolor", legacy_windows=False, safe_box=False)  # fmt: skip
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text(styles=False).splitlines()
