"""The flow's listener inside the wizard: turns flow callbacks into messages, blocks on questions.

Every method is called from the flow's worker thread. Step events, check sets and questions are
posted to the app as messages; output lines go into a buffer and only the first line of a burst
posts :class:`OutputReceived`, so a pip burst of a hundred lines costs one repaint. :meth:`ask`
blocks the worker on a :class:`threading.Event` until the app calls :meth:`answer`; once the user
has quit (or the terminal hung up) it raises :class:`FlowAbandoned` instead, which ends the flow
and leaves its runbook unfinished, so the next start offers to resume or roll back.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, Protocol

from oxwizard.core.errors import Abandoned
from oxwizard.tui.messages import ChecksReported, OutputReceived, QuestionAsked, StepChanged

if TYPE_CHECKING:
    from textual.message import Message

    from oxwizard.checks.result import CheckSet
    from oxwizard.flow.steps import StepName
    from oxwizard.flow.upgrade import Question, StepEvent


class FlowAbandoned(Abandoned):
    """The user left the wizard while the flow waited for (or was about to wait for) an answer."""


class _Poster(Protocol):
    """Anything with ``post_message`` (the App)."""

    def post_message(self, message: Message) -> bool: ...


class WizardListener:
    """A :class:`oxwizard.flow.upgrade.FlowListener` that talks to the app through messages."""

    def __init__(self, app: _Poster, max_lines: int = 5000) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._lines: deque[tuple[str, str]] = deque(maxlen=max_lines)
        self._flush_pending = False
        self._answered = threading.Event()
        self._answer: str | None = None
        self._abandoned = False
        self.question: Question | None = None

    # -- called from the flow's thread --------------------------------------------------------------
    def on_step(self, event: StepEvent) -> None:
        if self._abandoned and event.step == "plan" and event.status == "running":
            # the user left while the plan ran (comparing APIs can take seconds): nothing has changed
            # yet, so the plan stops here rather than hold the closing process until it is done
            raise FlowAbandoned(f"left the wizard while planning ({event.message})")
        self._app.post_message(StepChanged(event))

    def on_output(self, step: StepName, line: str) -> None:
        with self._lock:
            self._lines.append((step, line))
            if self._flush_pending:
                return
            self._flush_pending = True
        self._app.post_message(OutputReceived())

    def on_checks(self, checkset: CheckSet) -> None:
        self._app.post_message(ChecksReported(checkset))

    def ask(self, question: Question) -> str:
        with self._lock:
            if self._abandoned:
                raise FlowAbandoned(f"left the wizard before answering: {question.text}")
            self._answered.clear()
            self._answer = None
            self.question = question
        self._app.post_message(QuestionAsked(question))
        # a rollback or stop asked for meanwhile wakes this wait (interrupt); the flow's own event is
        # looked at too, in case the request came before this question was set up
        while not self._answered.wait(0.25):
            if question.cancelled is not None and question.cancelled.is_set():
                break
        with self._lock:
            self.question = None
            answer = self._answer
        if answer is None and question.cancelled is not None and question.cancelled.is_set():
            return question.default  # not used: the flow honours the request
        if answer is None:
            raise FlowAbandoned(f"left the wizard before answering: {question.text}")
        return answer

    def interrupt(self) -> None:
        """The flow was asked to roll back or stop: a pending question stops waiting."""
        self._answered.set()

    # -- called from the app --------------------------------------------------------------------------
    def drain(self) -> list[tuple[str, str]]:
        """Take every buffered output line (and allow the next burst to post again)."""
        with self._lock:
            lines = list(self._lines)
            self._lines.clear()
            self._flush_pending = False
        return lines

    def answer(self, choice: str) -> None:
        with self._lock:
            self._answer = choice
        self._answered.set()

    def abandon(self) -> None:
        """Stop answering: the waiting question (and any later one) ends the flow unanswered."""
        with self._lock:
            self._abandoned = True
            self._answer = None
        self._answered.set()
