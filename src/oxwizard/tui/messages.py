"""Messages the wizard's workers post to the app, named in the past tense.

They carry engine results (plans, step events, check sets, questions) from thread workers to the
message pump; no widget is touched from a thread. Output lines are not carried one per message:
:class:`OutputReceived` only says "the output buffer has new lines", so a burst collapses into one
repaint (see :mod:`oxwizard.tui.listener`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:
    from oxwizard.checks.result import CheckSet
    from oxwizard.environment import Environment
    from oxwizard.flow import FlowOutcome, Question, ResumeInfo, StepEvent
    from oxwizard.outdated import Outdated
    from oxwizard.plan import Plan
    from oxwizard.runbook_repo import LogEntry


@dataclass
class EnvironmentLoaded(Message):
    """The environment was opened (after the first paint), with what the prepare screen shows."""

    env: Environment
    outdated: list[Outdated]
    pip_problems: list[str]
    recovered: list[str] = field(default_factory=list)
    resume: ResumeInfo | None = None
    last_outcome: str = ""


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
class RunbookRead(Message):
    entries: list[LogEntry]
