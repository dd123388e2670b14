"""A progress line without timers (Textual's ProgressBar ticks every second: output while idle)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


def render_progress(done: int, total: int, width: int, label: str = "") -> Text:
    total = max(total, 1)
    done = max(0, min(done, total))
    counter = f" {done}/{total}"
    room = max(10, width - len(counter) - (len(label) + 1 if label else 0) - 1)
    filled = room * done // total
    out = Text()
    if label:
        out.append(label + " ", style="bold")
    out.append("█" * filled, style="green")
    out.append("░" * (room - filled), style="dim")
    out.append(counter)
    return out


class ProgressLine(Static):
    """``label ████████░░░░ 4/12`` — redraws only when the numbers change."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.value: tuple[int, int, str] = (0, 12, "")

    def set_progress(self, done: int, total: int, label: str = "") -> None:
        if (done, total, label) != self.value:
            self.value = (done, total, label)
            self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        done, total, label = self.value
        self.update(render_progress(done, total, self.size.width or 78, label))
