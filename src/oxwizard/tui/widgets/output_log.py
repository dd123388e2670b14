"""The Output box of Prepare and Execute: the installer's and the tests' lines, the newest in view.

Textual's ``Log`` follows new lines only while its scroll offset is at the bottom at that moment. A
box that gets shorter (a question appears under it, the terminal shrinks) keeps its offset, is no
longer "at the bottom", and never followed again: a new question could sit beside an older run's
output. This log remembers instead whether the user scrolled away from the bottom (the wheel, the
keys, the scroll bar); until they do, and again once they scroll back down, it shows the newest lines
whatever its height.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Self

from textual.widgets import Log


class OutputLog(Log):
    """A ``Log`` that keeps its newest lines in view unless the user scrolled up."""

    def __init__(self, *, max_lines: int | None = None, id: str | None = None) -> None:
        super().__init__(max_lines=max_lines, auto_scroll=True, id=id)
        self.following = True  # the newest lines are in view, and stay so as lines come

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # only a scroll moves the offset (a box that gets shorter keeps it): the user's, or ours
        self.following = new_value >= self.max_scroll_y

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> Self:
        follow = self.following if scroll_end is None else scroll_end
        super().write_lines(lines, scroll_end=False)
        if follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        return self

    def clear(self) -> Self:
        super().clear()
        self.following = True
        return self

    def on_resize(self) -> None:
        if self.following:  # once the new layout is known
            self.scroll_end(animate=False, x_axis=False)
