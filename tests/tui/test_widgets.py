"""Widgets' renderers: what a user reads at 80 columns."""

from __future__ import annotations

from oxwizard.flow import Question
from oxwizard.tui.widgets.question import DETAIL_LINES, render_question


def test_question_detail_wraps_so_lines_that_differ_at_the_end_are_both_readable() -> None:
    base = "DeprecationWarning: oxzep7.legacy_parse is deprecated and will be removed in oxzep7 2.0"
    q = Question("ack-warnings", "2 new warning(s)", ("acknowledge", "stop"), "acknowledge",
                 f"{base} (app.py)\n{base} (test_app.py)")  # fmt: skip
    text = render_question(q, width=78).plain
    assert "(app.py)" in text and "(test_app.py)" in text
    assert all(len(line) <= 78 for line in text.splitlines())
    assert "[a] acknowledge and continue (default)" in text


def test_question_detail_is_capped_and_says_where_the_rest_is() -> None:
    detail = "\n".join(f"warning number {n}" for n in range(20))
    q = Question("ack-warnings", "20 new warning(s)", ("acknowledge", "stop"), "acknowledge", detail)
    lines = render_question(q).plain.splitlines()
    assert "warning number 0" in lines[1]
    assert sum("warning number" in line for line in lines) == DETAIL_LINES - 1
    assert any("more line(s) in the output log" in line for line in lines)
