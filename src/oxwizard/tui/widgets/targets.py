"""The targets table: every installed distribution, its latest available version and impact.

Filtering rebuilds the rows from an in-memory list (no engine call per keystroke); space picks one
row, ``A`` every outdated row shown (or none, when they all are picked already); Home / End go to
the first / last row. The columns share the table's width (:func:`column_widths`): the versions and
the impact as wide as their longest value, the names the rest. When that leaves a name too little
room, the longer versions give some up and end with "…": no name and no version is cut silently.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from oxwizard.tui.widgets.target_row import IMPACT_STYLE, TargetRow

__all__ = ["TargetRow", "TargetsTable", "column_widths"]

MARK = 2  # "✔ " before a picked name
NAME_MIN = 13  # a name's room below which the versions give up theirs
VERSION_ROOM = 8  # a version column's width before the names have had theirs
HEADERS = ("  package", "current", "latest", "impact")
GAP = 1  # between two columns (the cells have no padding of their own)
PLACEHOLDER = {"pending": "…", "unknown": "unknown"}  # "latest" before the sources answer, or when they fail


def column_widths(rows: Iterable[TargetRow], room: int) -> tuple[int, int, int, int]:
    """The widths of the name (with its mark), current, latest and impact columns in ``room`` cells
    (gaps included). The impact is as wide as its longest word and each version column as its
    longest version up to :data:`VERSION_ROOM` (never narrower than its header); the names get the
    rest, down to :data:`NAME_MIN` (the wider version column gives up cells for that) and up to the
    longest name; what is left after that widens the version columns to their longest versions, and
    the rest stays blank at the right (the columns stay together, easy to read across)."""
    name = 0
    want = {"current": len(HEADERS[1]), "latest": len(HEADERS[2]), "impact": len(HEADERS[3])}
    for r in rows:
        name = max(name, MARK + len(r.name))
        want["current"] = max(want["current"], len(r.current))
        want["latest"] = max(want["latest"], len(r.latest or PLACEHOLDER.get(r.status, "—")))
        want["impact"] = max(want["impact"], len(r.impact) if r.latest else 0)
    least = {"current": len(HEADERS[1]), "latest": len(HEADERS[2])}
    width = {k: max(least[k], min(want[k], VERSION_ROOM)) for k in least}
    room -= (len(HEADERS) - 1) * GAP + want["impact"]
    while room - sum(width.values()) < MARK + NAME_MIN:  # the names' least, from the wider version
        wider = max(least, key=lambda k: (width[k] - least[k], k == "latest"))
        if width[wider] == least[wider]:
            break
        width[wider] -= 1
    for k in least:  # what the longest name leaves widens the versions, the current one first
        spare = room - sum(width.values()) - name
        width[k] += max(0, min(spare, want[k] - width[k]))
    names = max(MARK + 1, min(room - sum(width.values()), max(name, MARK + NAME_MIN)))
    return names, width["current"], width["latest"], want["impact"]


def fit(text: str, width: int) -> str:
    """``text``, or its start and "…" when it is longer than ``width``."""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


class TargetsTable(DataTable[Text | str]):
    """A filterable, pickable table of :class:`TargetRow`."""

    # the rows (a row cursor): Home / End go to the first / last one, not to a column
    BINDINGS = [
        Binding("home", "scroll_top", "First row", show=False),
        Binding("end", "scroll_bottom", "Last row", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, cell_padding=0)
        self.rows_all: list[TargetRow] = []
        self.picked: set[str] = set()
        self.filter_text = ""
        self._visible: list[TargetRow] = []
        self._cell_cache: dict[TargetRow, list[Text | str]] = {}
        self._widths = (MARK + NAME_MIN, VERSION_ROOM, VERSION_ROOM, len(HEADERS[3]))
        # the package a redraw put the cursor back on: on the first row, it is still followed
        self._followed: str | None = None

    def on_mount(self) -> None:
        for n, key in enumerate(("name", "current", "latest", "impact")):
            self.add_column(HEADERS[n], key=key, width=self._column_width(n))

    def _column_width(self, n: int) -> int:
        """Column ``n``'s width on screen: its content's, and the gap after it (not after the last)."""
        return self._widths[n] + (GAP if n < len(HEADERS) - 1 else 0)

    def on_resize(self) -> None:
        where = self._where()
        if self._fit_columns():
            self._redraw(where)

    def _fit_columns(self) -> bool:
        """Share the width between the columns (:func:`column_widths`); True when that changed them
        (the rows must then be drawn again). Room is kept for the scroll bar, shown or not."""
        if not self.size.width:
            return False
        room = self.size.width - self.styles.scrollbar_size_vertical
        widths = column_widths(self.rows_all, room)
        if widths == self._widths:
            return False
        self._widths = widths
        for n, column in enumerate(self.ordered_columns):
            column.width = self._column_width(n)
        self._cell_cache.clear()
        self._visible = []
        return True

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        # Every column has a fixed width and every row is one line high, so measuring each new
        # cell (DataTable does it to size auto-width columns) changes nothing: skip it and keep
        # only the virtual-size update. This halves the cost of a keystroke that shows all rows.
        if any(c.auto_width for c in self.columns.values()):
            super()._update_dimensions(new_rows)
        else:
            super()._update_dimensions(())

    def set_rows(self, rows: list[TargetRow]) -> None:
        """Show these rows; the cursor stays on the package it was on (answers from the package
        sources arrive while the user moves around the table, and may move that row). On the
        first row it stays there: the top of the table (the outdated packages, once the answers
        have sorted them) in view, whichever package the row holds."""
        where = self._where()
        self.rows_all = rows
        self._cell_cache.clear()  # only the rows shown now are kept
        self._fit_columns()
        self._redraw(where)

    def _where(self) -> tuple[TargetRow | None, bool]:
        """The package the cursor is on, and whether it stays on the first row (before a redraw):
        the user put it there, it did not reach it by following its package."""
        current = self.current_row()
        followed = current is not None and current.name == self._followed
        return current, self.cursor_row <= 0 and not followed

    def _redraw(self, where: tuple[TargetRow | None, bool]) -> None:
        """The rows drawn again (new answers, other column widths, other marks) with the cursor on
        the package it was on, ``where`` (a redraw starts at the first row), or on the first row when
        it was there."""
        current, on_top = where
        self.refilter()
        self._followed = None
        if current is not None and not on_top:
            row = next((i for i, r in enumerate(self._visible) if r.name == current.name), None)
            if row is not None:
                self._followed = current.name
                if row != self.cursor_row:
                    self.move_cursor(row=row, animate=False)

    def set_picked(self, names: frozenset[str]) -> None:
        """Mark these packages as picked (a pick made here already shows: only a change redraws)."""
        if set(names) != self.picked:
            where = self._where()
            self.picked = set(names)
            self._visible = []  # the name cells show the marks: draw the rows again
            self._redraw(where)

    def set_filter(self, text: str) -> None:
        text = text.strip().lower()
        if text != self.filter_text:
            self.filter_text = text
            self.refilter()

    def visible_rows(self) -> list[TargetRow]:
        needle = self.filter_text
        for op in ("==", ">=", "<=", "~=", "!=", ">", "<", "["):
            needle = needle.split(op)[0]
        needle = needle.strip().replace("_", "-")
        return [r for r in self.rows_all if needle in r.name] if needle else list(self.rows_all)

    def refilter(self) -> None:
        visible = self.visible_rows()
        if visible == self._visible and self.row_count == len(visible):
            return  # a keystroke that keeps the same rows (typing on within a prefix) costs nothing
        self._visible = visible
        self.clear()
        self.add_rows([self._cells(r) for r in visible])

    def _cells(self, r: TargetRow) -> list[Text | str]:
        cells = self._cell_cache.get(r)
        if cells is None:
            _name, current, latest, _impact = self._widths
            shown = fit(r.latest or PLACEHOLDER.get(r.status, "—"), latest)
            impact = Text(r.impact if r.latest else "", style=IMPACT_STYLE.get(r.impact, ""))
            cells = self._cell_cache[r] = [fit(r.current, current), shown, impact]
        return [self._name_cell(r), *cells]

    def _name_cell(self, r: TargetRow) -> Text:
        name = fit(r.name, self._widths[0] - MARK)
        picked = r.name in self.picked
        return Text(("✔ " if picked else "  ") + name, style="bold" if picked else "")

    def current_row(self) -> TargetRow | None:
        rows = self._visible
        if not rows or self.cursor_row < 0 or self.cursor_row >= len(rows):
            return None
        return rows[self.cursor_row]

    def toggle_outdated(self) -> bool:
        """Pick every outdated row shown; when all of them are picked already, unpick them.
        True when the picks changed."""
        outdated = {r.name for r in self._visible if r.latest}
        if not outdated:
            return False
        if outdated <= self.picked:
            self.picked -= outdated
        else:
            self.picked |= outdated
        for n, row in enumerate(self._visible):
            if row.name in outdated:
                self.update_cell_at(Coordinate(n, 0), self._name_cell(row))
        return True

    def toggle_current(self) -> str | None:
        row = self.current_row()
        if row is None:
            return None
        if row.name in self.picked:
            self.picked.discard(row.name)
        else:
            self.picked.add(row.name)
        self.update_cell_at(Coordinate(self.cursor_row, 0), self._name_cell(row))
        return row.name
