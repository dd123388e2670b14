"""The one-line title bar: where the wizard is (environment, targets) and which screen is active."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

SCREENS = (("prepare", "1 Prepare"), ("execute", "2 Execute"), ("monitor", "3 Monitor"))


class TitleBar(Static):
    """``oxwizard · <where> ·····  1 Prepare  2 Execute  3 Monitor`` with the active one marked."""

    def __init__(self, active: str, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="title-bar")
        self.active = active
        self.where = ""

    def set_where(self, where: str) -> None:
        if where != self.where:
            self.where = where
            self.update(self.render_title())

    def on_mount(self) -> None:
        self.update(self.render_title())

    def render_title(self) -> Text:
        tabs = Text()
        for key, label in SCREENS:
            if key == self.active:
                tabs.append(f" [{label}] ", style="bold reverse")
            else:
                tabs.append(f"  {label}  ", style="dim")
        left = Text(" oxwizard", style="bold")
        if self.where:
            left.append(" · " + self.where)
        width = max(self.size.width, 80) if self.size.width else 80
        pad = max(1, width - left.cell_len - tabs.cell_len)
        if left.cell_len + tabs.cell_len >= width:
            left.truncate(max(10, width - tabs.cell_len - 1), overflow="ellipsis")
            pad = 1
        return Text.assemble(left, " " * pad, tabs)

    def on_resize(self) -> None:
        self.update(self.render_title())
