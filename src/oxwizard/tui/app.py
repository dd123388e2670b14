"""The wizard App: owns the state, starts the workers, routes messages to the active screen.

The upgrade itself is :class:`oxwizard.flow.UpgradeFlow`, run in a thread worker; questions come
back as :class:`QuestionAsked` and are answered with one key each. ``R`` rolls back from any
screen once a checkpoint exists. Nothing slow is imported or run before the first paint: the
environment is opened in a worker started from ``on_mount``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from oxwizard.tui import tasks
from oxwizard.tui.listener import FlowAbandoned, WizardListener
from oxwizard.tui.messages import (
    ChecksReported,
    EnvironmentFailed,
    EnvironmentLoaded,
    FlowFailed,
    FlowFinished,
    OutputReceived,
    PlanFailed,
    PlanResolved,
    QuestionAsked,
    RollbackFinished,
    StepChanged,
)
from oxwizard.tui.screens.base import ALL, FlowScreen
from oxwizard.tui.screens.prepare import PrepareScreen
from oxwizard.tui.state import WizardState
from oxwizard.tui.widgets.question import CHOICE_KEYS

if TYPE_CHECKING:
    from collections.abc import Iterable

    from oxwizard.flow import UpgradeFlow

EXECUTE_STEPS = {"install-staging", "checks-staging", "ack-warnings", "promote", "checks-live"}
MONITOR_STEPS = {"monitor", "verdict"}


def _execute_screen() -> Screen[Any]:
    from oxwizard.tui.screens.execute import ExecuteScreen

    return ExecuteScreen()


def _monitor_screen() -> Screen[Any]:
    from oxwizard.tui.screens.monitor import MonitorScreen

    return MonitorScreen()


def _answer_bindings() -> list[Binding]:
    out = []
    for choice, key in CHOICE_KEYS.items():
        if choice != "rollback":
            out.append(Binding(key, f"answer('{choice}')", choice.capitalize(), id=f"answer-{choice}"))
    return out


class WizardApp(App[int]):
    """``oxwizard`` with no sub-command."""

    TITLE = "oxwizard"
    # The first screen's CSS is the app's (it still lives beside its module): a screen's own CSS_PATH
    # makes Textual re-parse the whole stylesheet, every widget's default CSS included, when the
    # screen is first shown, which before the first paint would cost as much as composing it.
    CSS_PATH = ["app.tcss", "screens/prepare.tcss"]
    # execute and monitor are imported when first shown: nothing the first paint does not need
    MODES = {"prepare": PrepareScreen, "execute": _execute_screen, "monitor": _monitor_screen}
    DEFAULT_MODE = "prepare"
    BINDINGS = [
        *_answer_bindings(),
        Binding("R", "rollback", "Roll back", id="rollback", tooltip="Roll back to the checkpoint, verified"),
        Binding("l", "runbook", "Log", id="runbook", tooltip="The runbook so far (one commit per decision)"),
        Binding("question_mark", "help", "Help", id="help", key_display="?"),
        Binding("1", "show('prepare')", "Prepare", show=False, id="show-prepare"),
        Binding("2", "show('execute')", "Execute", show=False, id="show-execute"),
        Binding("3", "show('monitor')", "Monitor", show=False, id="show-monitor"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="interrupt"),
    ]

    def __init__(
        self,
        *,
        env_path: str | None = None,
        project: Path | None = None,
        sources: tasks.Sources | None = None,
        specs: list[str] | None = None,
        monitor_rounds: int | None = None,
        monitor_interval: float | None = None,
    ) -> None:
        super().__init__()
        self.env_path = env_path
        self.project = (project or Path(".")).resolve()
        self.sources = sources or tasks.Sources()
        self.initial_specs = list(specs or [])
        self.monitor_rounds = monitor_rounds
        self.monitor_interval = monitor_interval
        self.state = WizardState()
        self.listener = WizardListener(self)
        self.flow: UpgradeFlow | None = None
        self.flow_done = threading.Event()  # set whenever no flow thread is running
        self.flow_done.set()
        self.rollback_requested = False
        self._output_step = ""
        self.project_label = self.project.name
        self.env_label = env_path or "$VIRTUAL_ENV or ./.venv"

    # -- start ------------------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.call_after_refresh(self.load_environment)

    @work(thread=True, exclusive=True, exit_on_error=False, group="env")
    def load_environment(self) -> None:
        from oxwizard.errors import OxwizardError

        try:
            self.post_message(tasks.load_environment(self.env_path, self.project, self.sources))
        except OxwizardError as exc:
            self.post_message(EnvironmentFailed(str(exc)))

    def on_environment_loaded(self, msg: EnvironmentLoaded) -> None:
        self.state.env, self.state.outdated = msg.env, msg.outdated
        self.state.pip_problems, self.state.recovered = msg.pip_problems, msg.recovered
        self.state.resume = msg.resume
        self.state.last_outcome = msg.last_outcome
        if msg.resume is not None and msg.resume.checkpoint_id:
            self.state.checkpoint = msg.resume.checkpoint_id
        self.env_label = str(msg.env.prefix)
        self._render(frozenset({"env", "targets", "steps"}))
        for line in msg.recovered:
            self.notify(line, title="Recovery", timeout=10)
        if msg.resume is not None:
            from oxwizard.tui.screens.resume import ResumeScreen

            self.push_screen(ResumeScreen(msg.resume), self._resume_chosen)
        elif self.initial_specs:
            self.resolve_plan(self.initial_specs)

    def on_environment_failed(self, msg: EnvironmentFailed) -> None:
        self.state.env_error = msg.message
        self._render(frozenset({"env"}))

    # -- plan -------------------------------------------------------------------------------------------
    def resolve_plan(self, specs: list[str]) -> None:
        if self.state.env is None or self.state.flow_running:
            return
        self.state.planning, self.state.plan_error, self.state.plan = True, "", None
        self.state.spec_text = " ".join(specs)
        self._render(frozenset({"plan"}))
        self._plan_worker(specs)

    @work(thread=True, exclusive=True, exit_on_error=False, group="plan")
    def _plan_worker(self, specs: list[str]) -> None:
        from oxwizard.errors import OxwizardError

        assert self.state.env is not None
        try:
            flow = tasks.new_flow(
                self.state.env, self.project, specs, self.sources, self.listener,
                self.monitor_rounds, self.monitor_interval,
            )  # fmt: skip
            plan = flow.prepare()
        except OxwizardError as exc:
            self.post_message(PlanFailed(str(exc)))
            return
        self.flow = flow
        self.post_message(PlanResolved(plan, flow.risk, flow.security))

    def on_plan_resolved(self, msg: PlanResolved) -> None:
        self.state.planning = False
        self.state.plan, self.state.risk, self.state.security = msg.plan, msg.risk, msg.security
        self.state.outcome = None
        self._render(frozenset({"plan", "steps"}))

    def on_plan_failed(self, msg: PlanFailed) -> None:
        self.state.planning, self.state.plan_error = False, msg.message
        self._render(frozenset({"plan"}))

    # -- the flow ---------------------------------------------------------------------------------------
    def start_flow(self, *, from_live: bool = False) -> None:
        if self.flow is None or self.state.flow_running:
            return
        self.state.flow_running, self.state.outcome, self.state.flow_error = True, None, ""
        self.state.steps = {k: v for k, v in self.state.steps.items() if k == "plan"}
        self.flow_done.clear()
        self._render(frozenset({"steps"}))
        self._flow_worker(self.flow, from_live)

    @work(thread=True, exclusive=True, exit_on_error=False, group="flow")
    def _flow_worker(self, flow: UpgradeFlow, from_live: bool) -> None:
        from oxwizard.errors import OxwizardError

        try:
            outcome = flow.run_from_live() if from_live else flow.run()
            self.post_message(FlowFinished(outcome))
        except FlowAbandoned:
            pass
        except OxwizardError as exc:
            self.post_message(FlowFailed(str(exc)))
        finally:
            self.flow_done.set()

    def on_step_changed(self, msg: StepChanged) -> None:
        event = msg.event
        self.state.steps[event.step] = event
        if event.progress is not None:
            self.state.progress = event.progress
        if event.step == "checkpoint" and event.status == "passed":
            self.state.checkpoint = event.message
        if event.step == "rollback":
            self.state.rolling_back = event.status == "running"
            if event.status != "running":
                self.state.rollback_result = event.message
        if event.status == "running" and event.step in EXECUTE_STEPS:
            self.action_show("execute")
        elif event.status == "running" and event.step in MONITOR_STEPS:
            self.action_show("monitor")
        self._render(frozenset({"steps"}))

    def on_output_received(self, _msg: OutputReceived) -> None:
        lines = []
        for step, line in self.listener.drain():
            if step != self._output_step:
                self._output_step = step
                lines.append(f"── {step} ──")
            lines.append(line)
        self.state.add_output(lines)
        self._render(frozenset({"output"}))

    def on_checks_reported(self, msg: ChecksReported) -> None:
        self.state.checksets.append(msg.checkset)
        self._render(frozenset({"checks"}))

    def on_question_asked(self, msg: QuestionAsked) -> None:
        self.state.question = msg.question
        if self.rollback_requested:
            self.rollback_requested = False
            self.action_rollback()
            return
        if msg.question.step in MONITOR_STEPS:
            self.action_show("monitor")
        elif msg.question.step in EXECUTE_STEPS:
            self.action_show("execute")
        self._render(frozenset({"question"}))

    def on_flow_finished(self, msg: FlowFinished) -> None:
        self.state.flow_running, self.state.outcome, self.state.question = False, msg.outcome, None
        self.notify(msg.outcome.message, title=msg.outcome.status, severity=_severity(msg.outcome.exit_code))
        self._render(frozenset({"steps", "outcome", "question"}))
        if self.rollback_requested:
            self.rollback_requested = False
            self.action_rollback()

    def on_flow_failed(self, msg: FlowFailed) -> None:
        self.state.flow_running, self.state.flow_error, self.state.question = False, msg.message, None
        self.notify(msg.message, title="stopped", severity="error", timeout=15)
        self._render(frozenset({"steps", "outcome", "question"}))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.state.flow_running = self.state.planning = self.state.rolling_back = False
            self.notify(f"{event.worker.error!r}", title="unexpected error", severity="error", timeout=30)
            self._render(ALL)

    # -- actions ----------------------------------------------------------------------------------------
    def action_answer(self, choice: str) -> None:
        question = self.state.question
        if question is None or choice not in question.choices:
            return
        self.state.question = None
        self.listener.answer(choice)
        self._render(frozenset({"question"}))

    def action_rollback(self) -> None:
        from oxwizard.tui.rollback_key import press_rollback

        press_rollback(self)

    @work(thread=True, exclusive=True, exit_on_error=False, group="rollback")
    def rollback_worker(self, flow: UpgradeFlow, then_answer: str | None) -> None:
        from oxwizard.errors import OxwizardError

        try:
            result = flow.rollback("one key (R)")
            ok, text = bool(result.verified or result.noop), str(result.message)
        except OxwizardError as exc:
            ok, text = False, str(exc)
        self.post_message(RollbackFinished(ok, text))
        if then_answer is not None:
            self.listener.answer(then_answer)

    def on_rollback_finished(self, msg: RollbackFinished) -> None:
        self.state.rolling_back = False
        self.state.rollback_result = ("✔ " if msg.ok else "✘ ") + msg.message
        self.notify(msg.message, title="rolled back" if msg.ok else "ROLLBACK FAILED",
                    severity="information" if msg.ok else "error", timeout=15)  # fmt: skip
        self._render(frozenset({"steps", "outcome"}))

    def action_runbook(self) -> None:
        from oxwizard.tui.screens.runbook import RunbookScreen

        if not isinstance(self.screen, RunbookScreen):
            self.push_screen(RunbookScreen(self.project))

    def action_help(self) -> None:
        from oxwizard.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_show(self, mode: str) -> None:
        if self.current_mode != mode:
            self.switch_mode(mode)

    async def action_quit(self) -> None:
        if not (self.state.flow_running or self.state.rolling_back):
            self.exit(0)
            return
        from oxwizard.tui.screens.confirm import ConfirmScreen

        what = "A rollback is running" if self.state.rolling_back else "An upgrade is in progress"
        text = (
            f"{what}. Quit anyway?\n\nThe running step finishes on its own; the flow then stops "
            "unanswered and the runbook records where it stands. The next start offers to resume "
            "or roll back."
        )
        self.push_screen(ConfirmScreen(text, yes="Quit", no="Stay"), self._quit_confirmed)

    def _quit_confirmed(self, yes: bool | None) -> None:
        if yes:
            self.listener.abandon()
            self.exit(130)

    def _resume_chosen(self, choice: str | None) -> None:
        from oxwizard.tui.rollback_key import resume_chosen

        resume_chosen(self, choice)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "answer":
            q = self.state.question
            return q is not None and bool(parameters) and parameters[0] in q.choices
        if action == "rollback":
            return bool(self.state.checkpoint) and not self.state.rolling_back
        return True

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Runbook", "Show the runbook so far (l)", self.action_runbook)
        yield SystemCommand("Help", "Screens and keys (?)", self.action_help)
        if self.state.checkpoint:
            yield SystemCommand("Roll back", "Roll back to the checkpoint (R)", self.action_rollback)
        for mode in ("prepare", "execute", "monitor"):
            yield SystemCommand(
                f"Show {mode}", f"Switch to the {mode} screen", lambda m=mode: self.action_show(m)
            )

    # -- helpers ----------------------------------------------------------------------------------------
    def _render(self, parts: frozenset[str]) -> None:
        base = self.screen_stack[0] if self.screen_stack else None
        if isinstance(base, FlowScreen):
            base.render_state(self.state, parts)
        self.refresh_bindings()


def _severity(exit_code: int) -> Any:
    return "information" if exit_code == 0 else "warning"
