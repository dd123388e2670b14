"""A checklist of flow steps with their live status (marks readable without colour)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from oxwizard.steps import label

if TYPE_CHECKING:
    from oxwizard.flow import StepEvent

MARKS = {
    "running": ("▶", "bold yellow"),
    "passed": ("✔", "green"),
    "failed": ("✘", "bold red"),
    "warned": ("!", "yellow"),
    "skipped": ("–", "dim"),
    "stopped": ("■", "bold magenta"),
}


def render_steps(steps: tuple[str, ...], events: Mapping[str, StepEvent], width: int = 60) -> Text:
    """One line per step: mark, label, elapsed time, and the step's last message (below the
    label, indented, when the column is narrow)."""
    narrow = width < 50
    out = Text()
    for i, step in enumerate(steps):
        event = events.get(step)
        mark, style = MARKS[event.status] if event else ("·", "dim")
        line = Text(f"{mark} ", style=style)
        line.append(f"{label(step):<19}", style="bold" if event and event.status == "running" else "")
        if event is not None:
            if event.elapsed is not None:
                line.append(f"{event.elapsed:5.1f}s ", style="dim")
            message = event.message.replace("\n", " ")
            if narrow:
                line.truncate(width, overflow="ellipsis")
                line = Text.assemble(line, "\n", Text("  " + message, style="dim"))
                line.truncate(width * 2 + 1, overflow="ellipsis")
                line = Text("\n").join(part[:width] for part in line.split("\n"))
            else:
                line.append(message)
        if not narrow:
            line.truncate(width, overflow="ellipsis")
        out.append_text(line)
        if i < len(steps) - 1:
            out.append("\n")
    return out


class StepsChecklist(Static):
    """Shows ``steps`` and the latest event of each."""

    def __init__(self, steps: tuple[str, ...], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.steps = steps
        self._events: dict[str, StepEvent] = {}

    def show(self, events: Mapping[str, StepEvent]) -> None:
        self._events = {s: e for s, e in events.items() if s in self.steps}
        self.update(render_steps(self.steps, self._events, max(20, self.size.width or 60)))

    def on_resize(self) -> None:
        self.update(render_steps(self.steps, self._events, max(20, self.size.width or 60)))
