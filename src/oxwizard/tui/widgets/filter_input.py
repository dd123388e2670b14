"""The targets filter on Prepare: an ``Input`` whose keys say what they do there.

While the filter has the keyboard it takes every printable key, so the key bar would show little
more than ``/ Filter``; these bindings put what ``enter`` does (plan the spec typed, or the rows it
leaves) and the way back to the table (``escape``) in the key bar.
"""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input


class FilterInput(Input):
    """An ``Input`` with ``⏎ Plan`` and ``esc Table`` in the key bar."""

    BINDINGS = [
        Binding("enter", "submit", "Plan", key_display="⏎", id="filter-plan",
                tooltip="Plan the spec typed, or the picked / filtered packages"),
        Binding("escape", "screen.leave_filter", "Table", key_display="esc", id="filter-leave",
                tooltip="Back to the targets table"),
    ]  # fmt: skip
