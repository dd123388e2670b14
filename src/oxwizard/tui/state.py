"""What the wizard knows so far, as one immutable snapshot: the one place screens render from.

The app holds it in a reactive attribute (``WizardApp.state``) and replaces it, on the message pump,
with :func:`dataclasses.replace` whenever a flow event changes something; every screen watches that
attribute (Textual's ``watch``) and redraws only the widgets whose slice of the state changed. Nothing
is redrawn by name, and no screen keeps its own copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from oxwizard.flow.steps import CHECKLIST

if TYPE_CHECKING:
    from oxwizard.checks.result import CheckSet
    from oxwizard.env.environment import Environment
    from oxwizard.env.plan import Plan
    from oxwizard.env.project_files import Manager
    from oxwizard.flow.upgrade import FlowOutcome, Question, ResumeInfo, StepEvent
    from oxwizard.tui.widgets.target_row import TargetRow

MAX_OUTPUT = 2000
NO_STEPS: Mapping[str, StepEvent] = MappingProxyType({})


@dataclass(frozen=True)
class WizardState:
    # the environment, as read after the first paint (and again after every change to live)
    env: Environment | None = None
    env_error: str = ""
    env_label: str = ""  # how the venv is named on screen
    # times live was read (``env`` is the same object, read again in place): what shows its facts
    # is redrawn when this changes
    env_reads: int = 0
    loading: str = "opening the environment…"
    targets: tuple[TargetRow, ...] = ()  # installed versions, the newest available, the impact
    latest_progress: tuple[int, int] = (0, 0)  # targets the package sources have answered for, of all
    latest_errors: tuple[str, ...] = ()  # sources that could not be read (redacted), one line each
    pip_problems: tuple[str, ...] = ()
    pip_checking: bool = False  # pip check is running (after the environment was read)
    recovered: tuple[str, ...] = ()
    # at start, another oxwizard held the environment's lock: ("pid N runs COMMAND", the refusal's line)
    held_elsewhere: tuple[str, str] | None = None
    resume: ResumeInfo | None = None
    last_outcome: str = ""  # how the newest finished runbook ended (it may have ended unwatched)
    managers: tuple[Manager, ...] = ()  # how the project is managed (uv, requirements files, ...)
    demo: bool = False  # the demo sandbox: the hints' example spec is the demo's own
    # the upgrade being prepared
    picked: frozenset[str] = frozenset()
    spec_text: str = ""
    plan: Plan | None = None
    risk: Any = None
    security: Any = None
    plan_error: str = ""
    planning: bool = False
    update_pins: bool | None = None  # u on Prepare; None: not chosen, on when the plan edits files
    # the flow of this plan: every field below is reset when a new plan is resolved
    steps: Mapping[str, StepEvent] = field(default_factory=lambda: NO_STEPS)
    progress: tuple[int, int] = (0, len(CHECKLIST))
    checksets: tuple[CheckSet, ...] = ()
    trials: tuple[StepEvent, ...] = ()  # the culprit search's trials (several targets failed together)
    # a part of the targets promoted: how many were tried, and the culprits left out (``plan`` is
    # then the promoted set's)
    tried: int = 0
    not_promoted: tuple[str, ...] = ()
    monitor_total: int = 0  # monitoring rounds this flow runs
    question: Question | None = None
    checkpoint: str = ""  # "ck-… · N files · size", once one exists
    live_changed: bool = False  # live differs from the checkpoint: R has something to restore
    flow_running: bool = False
    rolling_back: bool = False
    outcome: FlowOutcome | None = None
    rollback_result: str = ""
    flow_error: str = ""

    @property
    def busy(self) -> bool:
        return self.flow_running or self.planning or self.rolling_back

    @property
    def monitor_rounds(self) -> tuple[CheckSet, ...]:
        return tuple(c for c in self.checksets if c.phase == "monitor")

    @property
    def latest_checks(self) -> CheckSet | None:
        return self.checksets[-1] if self.checksets else None

    @property
    def pins_on(self) -> bool:
        """The flow will offer to write the project files (``FlowOptions.update_pins``): when the
        plan changes them, unless the user turned it off with ``u``."""
        files = self.plan.project_files if self.plan is not None else None
        if files is None or not (files.edits or files.regenerate):
            return False
        return self.update_pins is not False

    @property
    def promoted_head(self) -> str:
        """After a partial promotion, how many targets went on live and which did not (``5 of 8
        promoted, not alpha + beta, oxzep7``); "" otherwise (and once a rollback took them off)."""
        if self.plan is None or not self.not_promoted:
            return ""
        names = ", ".join(culprit_names(line) for line in self.not_promoted)
        return f"{len(self.plan.targets)} of {self.tried} promoted, not {names}"

    @property
    def can_roll_back(self) -> bool:
        """``R`` does something: stop the running flow, or restore a changed live environment."""
        if not self.checkpoint or self.rolling_back:
            return False
        return self.flow_running or self.live_changed


def culprit_names(line: str) -> str:
    """``alpha 2.0.0 + beta 2.0.0 together: tests: …`` gives ``alpha + beta``."""
    head = line.split(": ", 1)[0]
    return " + ".join(part.split()[0] for part in head.split(" + ") if part.split())


def with_step(steps: Mapping[str, StepEvent], event: StepEvent) -> Mapping[str, StepEvent]:
    """A new mapping with ``event`` as its step's latest event (the old one is left as it was)."""
    return MappingProxyType({**steps, event.step: event})
