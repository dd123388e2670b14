"""What the one rollback key (``R``) does in each situation.

- the flow is waiting on a question that offers "rollback": answer it (the flow rolls back);
- the flow is waiting on another question: roll back in a worker while it waits, then answer
  (the flow sees it was rolled back and ends "rolled-back");
- a step is running: roll back as soon as it ends (the next question, or the end of the flow);
- no flow is running: roll back now, through the flow of this session or of the unfinished runbook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oxwizard.flow import UpgradeFlow
    from oxwizard.tui.app import WizardApp


def press_rollback(app: WizardApp) -> None:
    state = app.state
    if state.rolling_back:
        app.notify("A rollback is already running.")
        return
    if not state.checkpoint:
        app.notify("No checkpoint yet: there is nothing to roll back to.", severity="warning")
        return
    if not state.can_roll_back:
        app.notify(f"Live already matches checkpoint {state.checkpoint.split(' ')[0]}: nothing to roll back.")
        return
    question = state.question
    if question is not None and "rollback" in question.choices:
        app.action_answer("rollback")
        return
    if question is not None:
        assert app.flow is not None
        app.update_state(question=None)
        _start(app, app.flow, then_answer=question.default)
        return
    if state.flow_running:
        app.rollback_requested = True
        app.notify("Rolling back as soon as the running step ends.", title="R")
        return
    if app.flow is None:
        app.notify("No checkpoint of this session to roll back to.", severity="warning")
        return
    _start(app, app.flow, then_answer=None)


def _start(app: WizardApp, flow: UpgradeFlow, then_answer: str | None) -> None:
    app.update_state(rolling_back=True, rollback_result="")
    app.rollback_worker(flow, then_answer)
