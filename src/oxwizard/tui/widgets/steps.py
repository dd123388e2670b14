"""A checklist of flow steps with their live status (marks readable without colour).

Labels come from the step table (:mod:`oxwizard.flow.steps`). Each step's last message follows its
label on the same line when there is room for it (shortened to whole words and "…" if it is longer
than the line), else it goes under the label, wrapped at word boundaries on at most
:data:`MESSAGE_LINES` lines. A word is never cut in the middle (a single word longer than the whole
line excepted: a path keeps its end).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Static

from oxwizard.flow.steps import label
from oxwizard.tui.widgets.fit import shorten

if TYPE_CHECKING:
    from oxwizard.flow.upgrade import StepEvent
    from oxwizard.tui.state import WizardState

MARKS = {
    "running": ("▶", "bold yellow"),
    "passed": ("✔", "green"),
    "failed": ("✘", "bold red"),
    "warned": ("!", "yellow"),
    "skipped": ("–", "dim"),
    "stopped": ("■", "bold magenta"),
}
WAITING_MESSAGE = "waiting for your answer"  # a step whose question waits for the user
MESSAGE_LINES = 2  # a step's message takes at most this many lines
BESIDE = 24  # a message narrower than this goes under the label instead of beside it
TIME = 7  # " 12.3s "


def render_steps(steps: tuple[str, ...], events: Mapping[str, StepEvent], width: int = 60) -> Text:
    """One line per step: mark, label, elapsed time, and the step's last message."""
    width = max(12, width)
    label_width = max((len(label(s)) for s in steps), default=0) + 1
    timed = any(e.elapsed is not None for s, e in events.items() if s in steps)
    timed = timed and 2 + label_width + TIME <= width
    prefix = 2 + label_width + (TIME if timed else 0)
    beside = width - prefix >= BESIDE
    lines: list[Text] = []
    for step in steps:
        event = events.get(step)
        mark, style = MARKS[event.status] if event else ("·", "dim")
        line = Text(f"{mark} ", style=style)
        name = label(step)
        if 2 + len(name) > width:
            name = shorten(name, width - 2) or name
        line.append(name, style="bold" if event and event.status == "running" else "")
        if event is None:
            lines.append(line)
            continue
        if timed and event.elapsed is not None:
            line.append(" " * (label_width - len(name)))
            line.append(f"{event.elapsed:5.1f}s ", style="dim")
        elif beside:
            line.append(" " * (prefix - line.cell_len))
        message = " ".join(event.message.split())
        if beside and message:
            line.append(_wrapped(message, width - prefix, 1)[0], style="dim")
            lines.append(line)
        else:
            lines.append(line)
            if message:
                lines.extend(Text("  " + part, style="dim") for part in _wrapped(message, width - 2))
    return Text("\n").join(lines)


def _wrapped(message: str, room: int, most: int = MESSAGE_LINES) -> list[str]:
    """``message`` on at most ``most`` lines of ``room`` cells, whole words only."""
    room = max(8, room)
    parts = textwrap.wrap(message, room, break_long_words=False, break_on_hyphens=False) or [""]
    if len(parts) > most:
        last = " ".join(parts[most - 1 :])
        parts = [*parts[: most - 1], shorten(last, room) or "…"]
    return [p if len(p) <= room else _long_word(p, room) for p in parts]


def _long_word(word: str, room: int) -> str:
    """A word longer than the line: a path keeps its last components ("…/.oxwizard/stage-3f2a"),
    anything else its start."""
    if "/" in word:
        tail = ""
        for part in reversed(word.rstrip("/").split("/")):
            if len(tail) + len(part) + 2 > room:
                break
            tail = "/" + part + tail
        if tail:
            return "…" + tail
    return word[: room - 1] + "…"


class StepsChecklist(Static):
    """Shows ``steps`` and the latest event of each."""

    def __init__(self, steps: tuple[str, ...], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.steps = steps
        self._events: dict[str, StepEvent] = {}

    def show(self, events: Mapping[str, StepEvent], asking: str = "") -> None:
        """The steps' latest ``events``. ``asking``: the step whose question waits for the user, shown
        as running, "waiting for your answer" — unless it has a result already (the failed checks a
        question is about keep their ✘)."""
        self._events = {s: e for s, e in events.items() if s in self.steps}
        waiting = self._events.get(asking)
        if asking in self.steps and (waiting is None or waiting.status == "running"):
            from oxwizard.flow.upgrade import StepEvent

            self._events[asking] = StepEvent(asking, "running", WAITING_MESSAGE)  # type: ignore[arg-type]
        self.update(render_steps(self.steps, self._events, max(20, self.size.width or 60)))

    def on_resize(self) -> None:
        self.update(render_steps(self.steps, self._events, max(20, self.size.width or 60)))


def asking_step(state: WizardState) -> str:
    """The step whose question waits for the user ("" when none does, or a rollback answered it)."""
    question = state.question
    return question.step if question is not None and not state.rolling_back else ""
