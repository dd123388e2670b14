"""One row of the targets table, and the impact colours the plan shares with it.

Apart from :mod:`oxwizard.tui.widgets.targets` so that the prepare screen and the plan view can use
them without importing Textual's data table before the first paint.
"""

from __future__ import annotations

from dataclasses import dataclass

IMPACT_STYLE = {"major": "bold red", "minor": "yellow", "patch": "green", "pre-release": "magenta"}


@dataclass(frozen=True)
class TargetRow:
    name: str
    current: str
    latest: str | None
    impact: str
    status: str = ""  # "" answered, "pending" (the sources have not answered yet), "unknown" (they failed)
