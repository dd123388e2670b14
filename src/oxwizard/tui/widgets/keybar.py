"""The key bar at the bottom of every screen: the active bindings as one line of text.

Textual's ``Footer`` builds one widget per key and rebuilds them all whenever the bindings change
(focus moves, a question is asked): measured here, that alone made the first paint about 50 ms
slower and repaints the whole footer on every change. The wizard only needs the keys shown, so this
is a single ``Static`` that re-renders its line when, and only when, the text would change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

if TYPE_CHECKING:
    from textual.binding import Binding
    from textual.screen import Screen

PALETTE = "^p palette"
# Which keys stay when the bar is too short (lowest first): the answers to the question on screen,
# the rollback key and a dialog's close key; then help (which lists every key), quit and the
# prepare screen's next step; then the other keys of the screen; the log, the filter and picking last.
RANKS = {
    "answer": 0,
    "rollback": 0,
    "close": 0,
    "help": 1,
    "quit": 1,
    "add_suggested": 1,  # the prepare screen's offer of the targets that clear a predicted conflict
    "runbook": 3,
    "focus_filter": 3,
    "pick": 3,
}


class KeyBar(Static):
    """``key Description`` for each shown, active binding of the screen; the palette key at the right.

    A key that does not fit is left out whole (the least important first, see :data:`RANKS`);
    ``?`` shows them all."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: Text | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_resize(self) -> None:
        self._bindings_changed(self.screen)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if screen is not self.screen:
            return
        text = self.render_keys(max(20, self.size.width or 80))
        if text != self._shown:  # styles count: a key that becomes disabled is dimmed
            self._shown = text
            self.update(text)

    def render_keys(self, width: int) -> Text:
        keys: list[tuple[int, bool, Text]] = []  # (rank, enabled, "key Description")
        seen: set[str] = set()
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            piece = Text(f" {self.app.get_key_display(binding)} ", style="bold reverse" if enabled else "dim")
            piece.append(f"{describe(self.screen, binding)} ", style="" if enabled else "dim")
            keys.append((rank(binding.action), enabled, piece))
        # too long: the least important keys go first, whole (a dimmed one before an active one)
        while keys and sum(k[2].cell_len for k in keys) > width:
            drop = max(range(len(keys)), key=lambda i: (keys[i][0], not keys[i][1], i))
            del keys[drop]
        out = Text(no_wrap=True, overflow="ellipsis")
        for _rank, _enabled, piece in keys:
            out.append_text(piece)
        palette_room = width - len(PALETTE) - 1
        if self.app.ENABLE_COMMAND_PALETTE and out.cell_len <= palette_room:
            out.append(" " * (palette_room - out.cell_len))
            out.append(PALETTE, style="dim")
        return out


def describe(screen: object, binding: Binding) -> str:
    """The binding's description, or the one its screen gives for it now (``key_description``): a
    key whose meaning depends on the state names what it does ("Add requests")."""
    dynamic = getattr(screen, "key_description", None)
    text = dynamic(binding.action) if callable(dynamic) else None
    return str(text) if text else binding.description


def rank(action: str) -> int:
    """How much a key matters when the bar is too short for all: 0 stays longest."""
    name = action.split("(")[0].removeprefix("app.")  # a dialog's binding of the app's action
    return RANKS.get(name, 2)
