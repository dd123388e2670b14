"""The one-line title bar: where the wizard is (environment, targets) and which screen is active.

When the line is too short for everything, "where" loses whole words from its end (shown by "…");
once it would keep fewer than WHERE_KEPT cells (or than the part of it that must stay), the
inactive screens shrink to their numbers instead. The active screen's name always stays.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from oxwizard.tui.widgets.fit import shorten

WHERE_KEPT = 30  # the screens' names give way to their numbers before "where" gets shorter than this
SCREENS = (("prepare", "1 Prepare"), ("execute", "2 Execute"), ("monitor", "3 Monitor"))


class TitleBar(Static):
    """``oxwizard · <where> ·····  1 Prepare  2 Execute  3 Monitor`` with the active one marked."""

    def __init__(self, active: str, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="title-bar")
        self.active = active
        self.where = ""
        self.keep = 0

    def set_where(self, where: str, *, keep: int = 0) -> None:
        """``keep``: the cells at the start of ``where`` the tabs give way to (the culprits' names)."""
        if (where, keep) != (self.where, self.keep):
            self.where, self.keep = where, keep
            self.update(self.render_title())

    def on_mount(self) -> None:
        self.update(self.render_title())

    def render_title(self, width: int | None = None) -> Text:
        width = width or self.size.width or 80
        full, compact = render_tabs(self.active, compact=False), render_tabs(self.active, compact=True)
        name = Text(" oxwizard", style="bold")
        where = f" · {self.where}" if self.where else ""
        tabs = full
        room = width - tabs.cell_len - 1 - name.cell_len
        if len(shorten(where, room)) < min(len(where), max(WHERE_KEPT, self.keep + 3)):
            tabs = compact
            room = width - tabs.cell_len - 1 - name.cell_len
        left = name + shorten(where, room) if where else name
        pad = max(1, width - left.cell_len - tabs.cell_len)
        return Text.assemble(left, " " * pad, tabs)

    def on_resize(self) -> None:
        self.update(self.render_title())


def render_tabs(active: str, *, compact: bool) -> Text:
    """The three screens, the active one marked; ``compact`` shows the others by number only."""
    tabs = Text()
    for key, label in SCREENS:
        if key == active:
            tabs.append(f" [{label}] ", style="bold reverse")
        elif compact:
            tabs.append(f" {label.split()[0]} ", style="dim")
        else:
            tabs.append(f" {label} ", style="dim")
    return tabs
