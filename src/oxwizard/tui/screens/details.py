"""``d``: the whole reason behind the question on screen, on a page of its own.

Under a question there is room for a few lines of its detail (80x24 leaves no more); a failed gate's
reasons — every failed check's summary, every newly failing test, what the plan predicted — can be
many more, and in the output log they are cut at the box's width. This page shows all of it, word-
wrapped to the terminal's width (a line is never cut), and scrolls with the arrows, page up / down,
home / end. ``escape``, ``d`` or ``q`` go back to the question.

The question's answers are keys here as under it (``k`` keep, ``t`` run the checks again...): the
page closes with the answer. As over the project files' dialog, the app's keys that work on every
screen are bound here too: ``R`` rolls back (which answers the question, as ``R`` does elsewhere,
and closes this page), ``l`` and ``?`` open the runbook and the help over it. The page closes by
itself when the question goes away (answered elsewhere, a rollback, a stop).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from oxwizard.flow.steps import label
from oxwizard.tui.screens.base import answer_keys, app_keys
from oxwizard.tui.widgets.fit import Fitted
from oxwizard.tui.widgets.keybar import KeyBar
from oxwizard.tui.widgets.question import wrap_detail

if TYPE_CHECKING:
    from oxwizard.flow.upgrade import Question


HINT = "↑↓ PgUp PgDn Home End scroll · esc, d or q: back"


class DetailsScreen(ModalScreen[None]):
    """The question's text and its whole detail, scrollable; dismissed with None."""

    CSS_PATH = "details.tcss"
    BINDINGS = [
        Binding("escape,d,q", "close", "Back to the question", id="details-close", key_display="esc"),
        *answer_keys("app.", "details-"),
        *app_keys("details"),
    ]

    def __init__(self, question: Question) -> None:
        super().__init__()
        self.question = question
        self._done = False

    def compose(self) -> ComposeResult:
        with Vertical(id="details"):
            with VerticalScroll(id="details-body"):
                yield Static(details_text(self.question), id="details-text")
            yield Static(Text(HINT, style="dim"), id="details-hint")
        yield KeyBar(id="keys")  # the page's keys, over the screen's

    def on_mount(self) -> None:
        self.query_one("#details").border_title = f"Details · {label(self.question.step)}"
        self.query_one("#details-body").focus()
        self.watch(self.app, "state", self._state_changed, init=False)

    def _state_changed(self, state: Any) -> None:
        if state.question is not self.question and not self._done:
            self._done = True  # answered, or cancelled by a rollback or a stop: nothing left to read
            self.dismiss(None)

    def action_close(self) -> None:
        if not self._done:
            self._done = True
            self.dismiss(None)


def details_text(question: Question, width: int | None = None) -> Text:
    """The question, then every line of its detail wrapped to ``width`` (continuations indented)."""
    if width is None:
        return Fitted(lambda w: details_text(question, w))
    width = max(20, width)
    out = Text()
    out.append("\n".join(wrap_detail(question.text, width)), style="bold")
    for line in wrap_detail(question.detail, width):
        out.append("\n" + line)
    return out
