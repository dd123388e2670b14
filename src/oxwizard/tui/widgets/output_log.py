"""The Output box of Prepare and Execute: the installer's and the tests' lines, the newest in view.

Textual's ``Log`` follows new lines only while its scroll offset is at the bottom at that moment. A
box that gets shorter (a question appears under it, the terminal shrinks) keeps its offset, is no
longer "at the bottom", and never followed again: a new question could sit beside an older run's
output. This log remembers instead whether the user scrolled away from the bottom (the wheel, the
keys, the scroll bar); until they do, and again once they scroll back down, it shows the newest lines
whatever its height.

``Log`` also shows each line on one row, cut at the box's edge ("no benchma"). This log wraps a line
longer than the box at its spaces, the continuation rows indented by two, and breaks only a word
longer than a row. ``Log``'s rows (``_lines``, what it draws and selects) are these wrapped rows;
``lines`` are the lines as written, kept to wrap them again when the box's width changes (a terminal
resize, the panels stacking). A line is wrapped once when it comes and again only on a change of
width, so thousands of lines of pip output cost no more than they did; ``max_lines`` caps the lines
as written (with their rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from textwrap import TextWrapper
from typing import Self

from rich.cells import cell_len
from rich.text import Text
from textual.geometry import Size
from textual.widgets import Log


class OutputLog(Log):
    """A ``Log`` that wraps long lines to its width and keeps its newest lines in view unless the
    user scrolled up."""

    DEFAULT_CSS = """
    OutputLog {
        overflow-x: hidden;  /* every row fits: nothing to scroll sideways to */
    }
    """

    def __init__(self, *, max_lines: int | None = None, id: str | None = None) -> None:
        super().__init__(max_lines=max_lines, auto_scroll=True, id=id)
        self.following = True  # the newest lines are in view, and stay so as lines come
        self._written: list[str] = []  # the lines as written; Log's _lines are their rows
        self._heights: list[int] = []  # how many rows each line took
        self._open = False  # the last line came from write() without its end: the next continues it
        self._wrap_width = 0  # the width the rows are wrapped for (0: not laid out yet, no wrapping)

    @property
    def lines(self) -> Sequence[str]:
        """The lines as written (the oldest dropped past ``max_lines``), not wrapped."""
        return self._written

    @property
    def line_count(self) -> int:
        """The number of rows, the wrapped lines."""
        return len(self._lines)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # only a scroll moves the offset (a box that gets shorter keeps it): the user's, or ours
        self.following = new_value >= self.max_scroll_y

    def _wrap(self, line: str) -> list[str]:
        """The rows ``line`` takes at the current width."""
        text = self._process_line(line)  # tabs expanded, control codes shown: as Log draws them
        width = self._wrap_width
        if width <= 0 or cell_len(text) <= width:
            return [text]
        lead = len(text) - len(text.lstrip(" "))
        indent = " " * min(lead + 2, width // 2)
        wrapper = TextWrapper(width, subsequent_indent=indent, break_on_hyphens=False, expand_tabs=False)
        rows = wrapper.wrap(text) or [""]
        if any(cell_len(row) > width for row in rows):  # wide characters: count cells, not characters
            rows = [row.plain.rstrip() for row in Text(text).wrap(self.app.console, width, overflow="fold")]
        return rows

    def _append(self, lines: Iterable[str]) -> None:
        for line in lines:
            rows = self._wrap(line)
            self._written.append(line)
            self._heights.append(len(rows))
            self._lines.extend(rows)
            self._width = max(self._width, *map(cell_len, rows))

    def _prune_max_lines(self) -> None:
        """Drop the oldest lines as written past ``max_lines``, and their rows."""
        excess = 0 if self.max_lines is None else len(self._written) - self.max_lines
        if excess > 0:
            del self._lines[: sum(self._heights[:excess])]
            del self._written[:excess], self._heights[:excess]
            self._render_line_cache.clear()  # the rows moved up

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> Self:
        follow = self.following if scroll_end is None else scroll_end
        start, before = len(self._lines), len(self._written)
        self._append(piece for line in lines for piece in line.splitlines())
        added = len(self._written) - before
        self._open = False
        self._prune_max_lines()
        self.virtual_size = Size(self._width, len(self._lines))
        if len(self._written) < before + added:
            self.refresh()  # the oldest lines went: every row in view moved up
        else:
            self.refresh_lines(start, len(self._lines) - start)
        if follow:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        return self

    def write(self, data: str, scroll_end: bool | None = None) -> Self:
        """Write ``data``; a last line without its end is continued by the next ``write``."""
        pieces = data.splitlines(keepends=True)
        if not pieces:
            return self
        if self._open and self._written:
            pieces[0] = self._written.pop() + pieces[0]
            del self._lines[len(self._lines) - self._heights.pop() :]
        ends = pieces[-1].endswith(("\n", "\r"))
        self.write_lines([piece.rstrip("\r\n") for piece in pieces], scroll_end)
        self._open = not ends
        return self

    def clear(self) -> Self:
        super().clear()
        self._written.clear()
        self._heights.clear()
        self._open = False
        self.following = True
        return self

    def on_resize(self) -> None:
        self._rewrap(self.scrollable_content_region.width)
        if self.following:  # once the new layout is known
            self.scroll_end(animate=False, x_axis=False)

    def _rewrap(self, width: int) -> None:
        """Wrap every line again for ``width``, keeping the line at the top in view if the user
        scrolled up to it."""
        if width == self._wrap_width:
            return  # only the height changed (a question under the box): the rows stay
        top, row = 0, round(self.scroll_y)
        while top < len(self._heights) - 1 and row >= self._heights[top]:
            row -= self._heights[top]
            top += 1
        self._wrap_width = width
        written = list(self._written)
        self._lines.clear()
        self._written.clear()
        self._heights.clear()
        self._width = 0
        self._append(written)
        self._render_line_cache.clear()
        self.virtual_size = Size(self._width, len(self._lines))
        if not self.following:
            self.scroll_to(y=sum(self._heights[:top]), animate=False, immediate=True)
        self.refresh()
