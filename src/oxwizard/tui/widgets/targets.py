"""The targets table: every installed distribution, its latest available version and impact.

Filtering rebuilds the rows from an in-memory list (no engine call per keystroke); space picks one
row, ``A`` every outdated row shown (or none, when they all are picked already).
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from oxwizard.tui.widgets.target_row import IMPACT_STYLE, TargetRow

__all__ = ["NAME_WIDTH", "TargetRow", "TargetsTable"]

NAME_WIDTH = 13
PLACEHOLDER = {"pending": "…", "unknown": "unknown"}  # "latest" before the sources answer, or when they fail


class TargetsTable(DataTable[Text | str]):
    """A filterable, pickable table of :class:`TargetRow`."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self.rows_all: list[TargetRow] = []
        self.picked: set[str] = set()
        self.filter_text = ""
        self._visible: list[TargetRow] = []
        self._cell_cache: dict[TargetRow, list[Text | str]] = {}

    def on_mount(self) -> None:
        self.add_column("  package", key="name", width=NAME_WIDTH + 2)
        self.add_column("current", key="current", width=8)
        self.add_column("latest", key="latest", width=8)
        self.add_column("impact", key="impact", width=6)

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
        current, on_top = self.current_row(), self.cursor_row <= 0
        self.rows_all = rows
        self._cell_cache.clear()  # only the rows shown now are kept
        self.refilter()
        if current is not None and not on_top:
            where = next((i for i, r in enumerate(self._visible) if r.name == current.name), None)
            if where is not None and where != self.cursor_row:
                self.move_cursor(row=where, animate=False)

    def set_picked(self, names: frozenset[str]) -> None:
        """Mark these packages as picked (a pick made here already shows: only a change redraws)."""
        if set(names) != self.picked:
            self.picked = set(names)
            self._visible = []  # the name cells show the marks: draw the rows again
            self.refilter()

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
            latest = r.latest or PLACEHOLDER.get(r.status, "—")
            impact = Text(r.impact if r.latest else "", style=IMPACT_STYLE.get(r.impact, ""))
            cells = self._cell_cache[r] = [r.current, latest, impact]
        return [self._name_cell(r), *cells]

    def _name_cell(self, r: TargetRow) -> Text:
        name = r.name if len(r.name) <= NAME_WIDTH else r.name[: NAME_WIDTH - 1] + "…"
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
