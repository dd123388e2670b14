"""What the wizard knows so far: the one place screens render from.

The app updates this from messages (on the message pump, never from a thread) and asks the active
screen to redraw the parts that changed; a screen that becomes active redraws everything from it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from oxwizard.checks.result import CheckSet
    from oxwizard.environment import Environment
    from oxwizard.flow import FlowOutcome, Question, ResumeInfo, StepEvent
    from oxwizard.outdated import Outdated
    from oxwizard.plan import Plan

MAX_OUTPUT = 2000


@dataclass
class WizardState:
    env: Environment | None = None
    env_error: str = ""
    loading: str = "opening the environment…"
    outdated: list[Outdated] = field(default_factory=list)
    pip_problems: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    resume: ResumeInfo | None = None
    last_outcome: str = ""  # how the newest finished runbook ended (it may have ended unwatched)
    picked: set[str] = field(default_factory=set)
    spec_text: str = ""
    plan: Plan | None = None
    risk: Any = None
    security: Any = None
    plan_error: str = ""
    planning: bool = False
    steps: dict[str, StepEvent] = field(default_factory=dict)
    progress: tuple[int, int] = (0, 12)
    output: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_OUTPUT))
    output_total: int = 0  # lines ever added (screens remember how many they have written)
    checksets: list[CheckSet] = field(default_factory=list)
    question: Question | None = None
    checkpoint: str = ""  # "ck-… · N files · size", once one exists
    flow_running: bool = False
    rolling_back: bool = False
    outcome: FlowOutcome | None = None
    rollback_result: str = ""
    flow_error: str = ""

    def add_output(self, lines: list[str]) -> None:
        self.output.extend(lines)
        self.output_total += len(lines)

    def lines_since(self, written: int) -> list[str]:
        """Output lines a screen that has written ``written`` lines has not shown yet."""
        missing = self.output_total - written
        if missing <= 0:
            return []
        return list(self.output)[-min(missing, len(self.output)) :]

    @property
    def monitor_rounds(self) -> list[CheckSet]:
        return [c for c in self.checksets if c.phase == "monitor"]

    @property
    def latest_checks(self) -> CheckSet | None:
        return self.checksets[-1] if self.checksets else None
