"""What the one rollback key (``R``) does in each situation, and the resume choice at start.

- the flow is waiting on a question that offers "rollback": answer it (the flow rolls back);
- the flow is waiting on another question: roll back in a worker while it waits, then answer
  (the flow sees it was rolled back and ends "rolled-back");
- a step is running: roll back as soon as it ends (the next question, or the end of the flow);
- no flow is running: roll back now, through the flow of this session or of the unfinished runbook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from oxwizard.tui import tasks

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
    question = state.question
    if question is not None and "rollback" in question.choices:
        app.action_answer("rollback")
        return
    if question is not None:
        assert app.flow is not None
        state.question = None
        _start(app, app.flow, then_answer=question.default)
        return
    if state.flow_running:
        app.rollback_requested = True
        app.notify("Rolling back as soon as the running step ends.", title="R")
        return
    flow = app.flow
    if flow is None and state.resume is not None and state.env is not None:
        flow = tasks.resumed_flow(state.env, app.project, state.resume, app.sources, app.listener)
        app.flow = flow
    if flow is None:
        app.notify("No checkpoint of this session to roll back to.", severity="warning")
        return
    _start(app, flow, then_answer=None)


def _start(app: WizardApp, flow: UpgradeFlow, then_answer: str | None) -> None:
    app.state.rolling_back = True
    app.state.rollback_result = ""
    app._render(frozenset({"steps", "question"}))
    app.rollback_worker(flow, then_answer)


def resume_chosen(app: WizardApp, choice: str | None) -> None:
    """The user's answer to the resume screen: "resume", "rollback" or "new"."""
    state = app.state
    info = state.resume
    if info is None or state.env is None:
        return
    if choice == "resume":
        if info.live_touched:
            app.flow = tasks.resumed_flow(state.env, app.project, info, app.sources, app.listener)
            state.plan = info.runbook.plan
            app.start_flow(from_live=True)
        else:
            state.picked = set()
            app.resolve_plan(list(info.runbook.targets))
    elif choice == "rollback":
        app.flow = tasks.resumed_flow(state.env, app.project, info, app.sources, app.listener)
        press_rollback(app)
    elif not info.live_touched:
        state.checkpoint = ""
    state.resume = None if choice != "rollback" else info
    app._render(frozenset({"steps", "plan", "question"}))
