"""The project files the upgrade would write, as a diff, and the question whether to write them.

Shown over Execute when the flow asks its ``pins`` question (after the checks in the staging copy
passed, before the install on live): the question, what the diff changes, the diff itself (scrolled
with the arrows, page up / down, home / end), and one key per answer: ``w`` writes, ``s`` or escape
skips — nothing is written, the upgrade goes on. When skipping stops the upgrade instead (the
question's ``skip_stops``, set by the flow: the project's own requirement conflicts with the
upgrade, which only the edits clear, and live is untouched), ``s`` says so in the dialog and in the
key bar, and escape answers nothing: it says what ``s`` and ``w`` do and leaves the dialog open.
Nothing here writes a file: the answer goes to the flow like any other (``WizardApp.action_answer``),
which writes the files on a branch, never on the user's work tree. The dialog closes by itself when
the question goes away unanswered (``R``, quit).

Textual does not look at the app's keys below a modal screen, so the app's keys that work on every
screen are bound here too, to the app's actions: ``R`` rolls back (the flow's question is then
answered with a rollback, as ``R`` answers it elsewhere), ``q`` asks to quit, ``l`` and ``?`` open
the runbook and the help over the dialog, which is there again when they close.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from oxwizard.tui.screens.base import app_keys
from oxwizard.tui.widgets.diff_view import DiffView, diff_stats
from oxwizard.tui.widgets.keybar import KeyBar

if TYPE_CHECKING:
    from oxwizard.flow.upgrade import Question

NOTE_LINES = 3  # lockfiles to regenerate and notes shown above the diff


class PinsScreen(ModalScreen[str | None]):
    """Dismissed with the answer ("write" / "skip"), or None when the question went away."""

    CSS_PATH = "pins.tcss"
    BINDINGS = [
        Binding("w", "choose('write')", "Write files", id="pins-write"),
        # skipping goes on with the upgrade: s or escape; skipping stops it: s only, and escape says so
        Binding("s,escape", "choose('skip')", "Skip", id="pins-skip", key_display="s/esc"),
        Binding("s", "stop", "Skip: stop upgrade", id="pins-stop"),
        Binding("escape", "escape_stops", show=False),
        *app_keys("pins"),
        Binding("q", "app.quit", "Quit", id="pins-quit"),
    ]

    def __init__(
        self, question: Question, diff: str, notes: Sequence[str] = (), rewritten: Sequence[str] = ()
    ) -> None:
        super().__init__()
        self.question = question
        # "" when skipping lets the upgrade go on; else the conflict that then stops it (the flow says)
        self.stops = question.skip_stops
        self.diff = diff
        self.notes = list(notes)  # lockfiles their tool regenerates, what could not be planned
        self.rewritten = list(rewritten)  # those lockfiles' paths
        self._done = False

    def compose(self) -> ComposeResult:
        with Vertical(id="pins", classes="dialog"):
            yield Static(Text(self.question.text, style="bold"), id="pins-question")
            yield Static(summary_text(self.diff, self.notes, self.rewritten), id="pins-summary")
            yield DiffView(self.diff, id="pins-diff")
            yield Static(keys_text(self.question, self.stops), id="pins-keys")
        yield KeyBar(id="keys")  # the dialog's keys, over the page's

    def on_mount(self) -> None:
        self.query_one("#pins").border_title = "Project files"
        self.query_one(DiffView).focus()
        self.watch(self.app, "state", self._state_changed, init=False)

    def _state_changed(self, state: Any) -> None:
        if state.question is not self.question and not self._done:
            self._done = True  # answered elsewhere, or cancelled by a rollback or a stop
            self.dismiss(None)

    def action_choose(self, choice: str) -> None:
        if self._done or choice not in self.question.choices:
            return
        self._done = True
        self.dismiss(choice)

    def action_stop(self) -> None:
        self.action_choose("skip")

    def action_escape_stops(self) -> None:
        self.notify(
            "Skipping here stops the upgrade (live untouched): s skips and stops, w writes the files.",
            title="esc does not skip",
            severity="warning",
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        skips = "skip" in self.question.choices
        if action == "choose":
            if not parameters or parameters[0] not in self.question.choices:
                return False
            return parameters[0] != "skip" or not self.stops  # s and escape: the upgrade goes on
        if action in ("stop", "escape_stops"):  # skipping stops the upgrade: s says so, escape asks
            return skips and bool(self.stops)
        return True


def summary_text(diff: str, notes: Sequence[str] = (), rewritten: Sequence[str] = ()) -> Text:
    """What the diff changes, the lockfiles their tool ``rewritten`` (whose new text is known once
    the tool has run), and the notes (at most :data:`NOTE_LINES`, each on its own line)."""
    stats = diff_stats(diff)
    said = stats.line()
    if rewritten and not stats.files:
        said = f"no line edits; {', '.join(rewritten)} rewritten by its tool on w (the commit shows how)"
    elif rewritten:
        said += f"; {', '.join(rewritten)} rewritten by its tool on w"
    out = Text(said, style="dim")
    out.append(" · ↑↓ ←→ PgUp PgDn scroll", style="dim")
    for note in notes[:NOTE_LINES]:
        out.append(f"\n{note}", style="yellow")
    if len(notes) > NOTE_LINES:
        out.append(f"\n… {len(notes) - NOTE_LINES} more", style="dim")
    return out


def keys_text(question: Question, stops: str = "") -> Text:
    """The answers; ``stops``: the conflict that ends the upgrade when the files are not written."""
    out = Text()
    if "write" in question.choices:
        out.append("[w]", style="bold reverse")
        out.append(" write them on the branch   ")
    if "skip" in question.choices and stops:
        out.append("[s]", style="bold reverse")
        out.append(" skip: stops the upgrade, live untouched", style="yellow")
        out.append(f"\n(without the edits the project's own requirement conflicts: {stops})", style="dim")
    elif "skip" in question.choices:
        out.append("[s]", style="bold reverse")
        out.append(" skip (esc): files untouched")
    return out
