"""Messages of the wizard: what workers report (past tense) and what screens ask for (``…Requested``).

Workers' messages carry engine results (plans, step events, check sets, questions) from thread
workers to the message pump; no widget is touched from a thread. Screens post requests, which bubble
to the app: a screen never calls into the app. Output lines are not carried one per message:
:class:`OutputReceived` only says "the output buffer has new lines", so a burst collapses into one
repaint (see :mod:`oxwizard.tui.listener`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from oxwizard.checks.result import CheckSet
    from oxwizard.env.environment import Environment
    from oxwizard.env.plan import Plan
    from oxwizard.env.project_files import Manager
    from oxwizard.flow.upgrade import FlowOutcome, Question, ResumeInfo, StepEvent
    from oxwizard.runbook.repo import LogEntry
    from oxwizard.tui.tasks import Sources
    from oxwizard.tui.widgets.target_row import TargetRow


@dataclass
class EnvironmentLoaded(Message):
    """The environment was opened (after the first paint), with what the prepare screen shows."""

    env: Environment
    targets: tuple[TargetRow, ...]
    pip_problems: tuple[str, ...]
    recovered: tuple[str, ...] = ()
    resume: ResumeInfo | None = None
    last_outcome: str = ""
    managers: tuple[Manager, ...] = ()
    ask: Sources | None = None  # sources to ask for the "latest" column, in the background
    demo: bool = False  # the demo sandbox's environment and project (its examples fit it)
    # another process holds the environment's lock: ("pid N runs COMMAND", as a refusal says it)
    held_elsewhere: tuple[str, str] | None = None


@dataclass
class EnvironmentRefreshed(Message):
    """Live was read again after the flow or a rollback changed it (installed versions, pip check)."""

    targets: tuple[TargetRow, ...]
    pip_problems: tuple[str, ...]
    ask: Sources | None = None


@dataclass
class PipChecked(Message):
    """``pip check`` on the environment just read finished (it runs after the table is usable)."""

    problems: tuple[str, ...]


@dataclass
class LatestArrived(Message):
    """Answers from the package sources for some targets (the "latest" column fills in as they come).

    ``rows``: the targets answered since the last message; ``done``/``total``: how many of the whole
    table are answered; ``errors``: the sources that failed so far; ``generation``: which reading of
    the environment they belong to (answers for an older one are dropped)."""

    rows: tuple[TargetRow, ...]
    done: int
    total: int
    errors: tuple[str, ...]
    generation: int


@dataclass
class EnvironmentFailed(Message):
    message: str


@dataclass
class PlanResolved(Message):
    plan: Plan
    risk: Any  # oxwizard.checks.risk.RiskSummary: level, recommendation, reasons
    security: Any  # oxwizard.checks.security.SecurityReport, or None when unavailable


@dataclass
class PlanFailed(Message):
    message: str


@dataclass
class StepChanged(Message):
    event: StepEvent


@dataclass
class OutputReceived(Message):
    """New lines are waiting in the listener's buffer (one message per burst)."""


@dataclass
class ChecksReported(Message):
    checkset: CheckSet


@dataclass
class QuestionAsked(Message):
    question: Question


@dataclass
class FlowFinished(Message):
    outcome: FlowOutcome


@dataclass
class FlowFailed(Message):
    message: str


@dataclass
class RollbackFinished(Message):
    ok: bool
    message: str


@dataclass
class RollbackVerified(Message):
    """The background sha256 pass after a rollback verified by signatures (``shown``: what it checked)."""

    shown: str
    ok: bool
    message: str


@dataclass
class RunbookRead(Message):
    entries: list[LogEntry]


# -- requests a screen posts (they bubble to the app) --------------------------------------------------
@dataclass
class PlanRequested(Message):
    specs: list[str]


@dataclass
class FlowStartRequested(Message):
    """``c``: checkpoint, staging clone and baseline, then the go / wait question."""


@dataclass
class PicksChanged(Message):
    picked: frozenset[str]
