"""The Output box wraps long lines at word boundaries to its width, again whenever its width changes.

What is checked is the screen as the user sees it (``screen_lines``): the rows inside the Output box,
read off the rendered terminal, must carry every word of a long line whole and in order.
"""

from __future__ import annotations

from typing import Any

from oxwizard.flow.steps import step
from oxwizard.flow.upgrade import Question
from oxwizard.tui.app import WizardApp
from oxwizard.tui.messages import QuestionAsked
from oxwizard.tui.widgets.output_log import OutputLog

from .conftest import make_app, screen_lines, wait_for
from .test_output import _running_on_execute

SMOKE = (
    "fail import-smoke: 1 of 3 imports fail: flask_legacy_extension (ModuleNotFoundError: No module "
    "named 'werkzeug.contrib', removed upstream in werkzeug 1.0) - pin werkzeug below 1.0 or drop it"
)
WARNINGS = (
    "pass warnings: no deprecation warnings were raised by the project's tests in the staging copy at all"
)
BENCH = "skip performance: no benchmark suite was found in the project, so nothing could be compared here"


def box_rows(app: WizardApp) -> list[str]:
    """The text rows inside the Output box (borders and scroll bar left out), as rendered on screen."""
    log = app.screen.query_one("#output", OutputLog)
    region = log.scrollable_content_region
    screen = screen_lines(app)
    return [screen[y][region.x : region.right].rstrip() for y in range(region.y, region.bottom)]


def shows_whole(rows: list[str], line: str) -> bool:
    """``line``'s words appear whole and in order in consecutive rows, the first at a row's start."""
    words = line.split()
    for start, row in enumerate(rows):
        if not row.startswith(words[0]):
            continue
        seen: list[str] = []
        for following in rows[start:]:
            seen += following.split()
            if len(seen) >= len(words):
                break
        if seen[: len(words)] == words:
            return True
    return False


async def _write(pilot: Any, *lines: str) -> None:
    app = pilot.app
    for line in lines:
        app.listener.on_output("checks", line)
    await wait_for(pilot, lambda: lines[-1] in app.output)
    await pilot.pause()


async def test_long_lines_wrap_whole_words_and_rewrap_when_the_box_changes_width(demo_template: Any) -> None:
    app = make_app(demo_template)
    async with app.run_test(size=(80, 24)) as pilot:
        await _running_on_execute(pilot)
        await _write(pilot, WARNINGS, BENCH, SMOKE)
        rows = box_rows(app)
        width = app.screen.query_one(OutputLog).scrollable_content_region.width
        assert width < len(SMOKE)  # the line cannot fit one row: it has to wrap
        for line in (WARNINGS, BENCH, SMOKE):
            assert shows_whole(rows, line), (line, rows)
        for size in ((60, 24), (120, 30), (80, 24)):  # stacked under 80 columns, wider from 120
            await pilot.resize_terminal(*size)
            await pilot.pause()
            rows = box_rows(app)
            new_width = app.screen.query_one(OutputLog).scrollable_content_region.width
            assert new_width != width or size == (80, 24)
            width = new_width
            for line in (WARNINGS, BENCH, SMOKE):
                assert shows_whole(rows, line), (size, line, rows)
            assert [row for row in rows if row][-1].endswith(SMOKE.split()[-1]), (size, rows)


async def test_wrapped_output_keeps_the_newest_line_in_view_after_a_question_shrinks_it(
    demo_template: Any,
) -> None:
    app = make_app(demo_template)
    async with app.run_test(size=(80, 24)) as pilot:
        await _running_on_execute(pilot)
        await _write(pilot, *(f"{n}: {BENCH}" for n in range(40)))
        ack = step("ack-warnings")
        detail = "\n".join(f"DeprecationWarning {n}: oxzep7.legacy_parse" for n in range(5))
        app.post_message(
            QuestionAsked(Question("ack-warnings", ack.question, ack.choices, ack.default, detail))
        )
        await wait_for(pilot, lambda: app.state.question is not None)
        await pilot.pause()
        await _write(pilot, f"newest: {SMOKE}")
        rows = box_rows(app)
        assert shows_whole(rows, f"newest: {SMOKE}"), rows
        assert rows[-1].split()[-1] == SMOKE.split()[-1], rows


async def test_a_capped_log_keeps_its_newest_lines_whole(demo_template: Any) -> None:
    app = make_app(demo_template)
    async with app.run_test(size=(80, 24)) as pilot:
        await _running_on_execute(pilot)
        log = app.screen.query_one(OutputLog)
        assert log.max_lines is not None
        await _write(pilot, *(f"{n}: {SMOKE}" for n in range(log.max_lines + 50)))
        assert len(log.lines) == log.max_lines  # the raw lines as written, the oldest dropped
        assert log.lines[-1] == f"{log.max_lines + 49}: {SMOKE}"
        rows = box_rows(app)
        assert shows_whole(rows, f"{log.max_lines + 49}: {SMOKE}"), rows
        log.scroll_home(animate=False)
        await pilot.pause()
        assert box_rows(app)[0].startswith("50: fail import-smoke:"), box_rows(app)


async def test_a_resize_keeps_the_line_the_user_scrolled_up_to_at_the_top(demo_template: Any) -> None:
    app = make_app(demo_template)
    async with app.run_test(size=(80, 24)) as pilot:
        await _running_on_execute(pilot)
        await _write(pilot, *(f"{n}: {BENCH}" for n in range(40)))
        app.screen.query_one(OutputLog).scroll_to(y=31, animate=False)  # as the wheel would
        await pilot.pause()
        rows = box_rows(app)
        first = next(i for i, row in enumerate(rows) if row[:1].isdigit())
        top = int(rows[first].split(":")[0]) - (first > 0)  # the line whose row is at the top
        await pilot.resize_terminal(120, 30)
        await pilot.pause()
        assert box_rows(app)[0].startswith(f"{top}: skip performance:"), box_rows(app)
        await _write(pilot, "newer")
        assert box_rows(app)[0].startswith(f"{top}: skip performance:"), box_rows(app)
