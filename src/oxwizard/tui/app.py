"""The wizard App: holds the state, starts the workers, turns flow events into state.

The upgrade itself is :class:`oxwizard.flow.upgrade.UpgradeFlow`, run in a thread worker; its events come
back as messages (:mod:`oxwizard.tui.messages`) and each one replaces the app's one reactive
``state`` (:class:`oxwizard.tui.state.WizardState`); the screens watch it and redraw what changed.
Screens ask for things by posting messages (plan these specs, start the flow), never by calling in.
Questions are answered with one key each. ``R`` rolls back from any screen once a checkpoint
exists. Nothing slow is imported or run before the first paint: the environment is opened in a
worker started from ``on_mount``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import var
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from oxwizard.core.errors import Abandoned, OxwizardError
from oxwizard.flow.steps import BY_NAME, CHECKLIST, screen_of
from oxwizard.tui import tasks
from oxwizard.tui.listener import WizardListener
from oxwizard.tui.messages import (
    ChecksReported,
    EnvironmentFailed,
    EnvironmentLoaded,
    EnvironmentRefreshed,
    FlowFailed,
    FlowFinished,
    FlowStartRequested,
    LatestArrived,
    OutputReceived,
    PicksChanged,
    PipChecked,
    PlanFailed,
    PlanRequested,
    PlanResolved,
    QuestionAsked,
    RollbackFinished,
    RollbackVerified,
    StepChanged,
)
from oxwizard.tui.screens.base import answer_keys
from oxwizard.tui.screens.prepare import PrepareScreen
from oxwizard.tui.state import MAX_OUTPUT, NO_STEPS, WizardState, with_step
from oxwizard.tui.widgets.question import has_details

if TYPE_CHECKING:
    from collections.abc import Iterable

    from oxwizard.env.environment import Environment
    from oxwizard.flow.upgrade import Question, ResumeInfo, StepEvent, UpgradeFlow
    from oxwizard.runbook.model import Runbook
    from oxwizard.safety.rollback import RollbackResult


def _execute_screen() -> Screen[Any]:
    from oxwizard.tui.screens.execute import ExecuteScreen

    return ExecuteScreen()


def _monitor_screen() -> Screen[Any]:
    from oxwizard.tui.screens.monitor import MonitorScreen

    return MonitorScreen()


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
        *answer_keys(),
        Binding(
            "d",
            "details",
            "Details",
            id="details",
            tooltip="The question's whole reason, on a page of its own",
        ),
        Binding("R", "rollback", "Roll back", id="rollback", tooltip="Roll back to the checkpoint, verified"),
        # R when it has nothing to do (hidden from the key bar): say why, instead of nothing at all
        Binding("R", "why_no_rollback", show=False, id="rollback-why"),
        Binding("l", "runbook", "Log", id="runbook", tooltip="The runbook so far (one commit per decision)"),
        Binding("question_mark", "help", "Help", id="help", key_display="?"),
        Binding("1", "show('prepare')", "Prepare", show=False, id="show-prepare"),
        Binding("2", "show('execute')", "Execute", show=False, id="show-execute"),
        Binding("3", "show('monitor')", "Monitor", show=False, id="show-monitor"),
        Binding("q", "quit", "Quit", id="quit"),
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="interrupt"),
    ]

    # Everything the screens show, as one immutable snapshot: replaced (never mutated) on the
    # message pump; screens watch it. Output lines are kept apart (a ring buffer and a counter).
    state: var[WizardState] = var(WizardState)
    output_total: var[int] = var(0)

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
        self.listener = WizardListener(self)
        self.flow: UpgradeFlow | None = None
        self.flow_done = threading.Event()  # set whenever no flow thread is running
        self.flow_done.set()
        self.output: deque[str] = deque(maxlen=MAX_OUTPUT)
        self._output_step = ""
        self._specs_after_rollback: list[str] = []
        self._latest_generation = 0  # answers for the "latest" column from an older reading are dropped
        self.project_label = self.project.name
        self.set_reactive(WizardApp.state, WizardState(env_label=env_path or "$VIRTUAL_ENV or ./.venv"))

    def update_state(self, **changes: Any) -> None:
        """Replace the state with these fields changed (on the message pump only)."""
        self.state = replace(self.state, **changes)

    def watch_state(self) -> None:
        self.refresh_bindings()  # which keys do something depends on the state

    def lines_since(self, written: int) -> list[str]:
        """Output lines a widget that has written ``written`` lines has not shown yet."""
        missing = self.output_total - written
        if missing <= 0:
            return []
        return list(self.output)[-min(missing, len(self.output)) :]

    # -- start ------------------------------------------------------------------------------------------
    def on_mount(self) -> None:
        self.call_after_refresh(self.load_environment)

    def on_unmount(self) -> None:
        # The app is closing (however it closes): nobody will answer the flow's questions any more,
        # so a flow thread waiting on one (or reaching one) ends instead of holding the process.
        self.listener.abandon()

    @work(thread=True, exclusive=True, exit_on_error=False, group="env")
    def load_environment(self) -> None:
        from oxwizard.core.errors import OxwizardError

        try:
            self.post_message(tasks.load_environment(self.env_path, self.project, self.sources))
        except OxwizardError as exc:
            self.post_message(EnvironmentFailed(str(exc)))

    def on_environment_loaded(self, msg: EnvironmentLoaded) -> None:
        resume = msg.resume
        self.update_state(
            env=msg.env, env_label=str(msg.env.prefix), targets=msg.targets, pip_problems=msg.pip_problems,
            recovered=msg.recovered, resume=resume, last_outcome=msg.last_outcome,
            checkpoint=resume.checkpoint_id or "" if resume is not None else "",
            live_changed=resume is not None and resume.live_touched, managers=msg.managers,
            pip_checking=True, demo=msg.demo, env_reads=self.state.env_reads + 1,
            held_elsewhere=msg.held_elsewhere,
        )  # fmt: skip
        if resume is not None:  # the unfinished run's steps as its runbook recorded them, done
            done = recorded_steps(resume.runbook)
            self.update_state(steps=done, progress=progress_of(done))
        self.check_pip(msg.env)
        self._ask_latest(msg.ask)
        for line in msg.recovered:
            self.notify(line, title="Recovery", timeout=10)
        if msg.held_elsewhere:
            self.notify(f"{msg.held_elsewhere[1]}; this wizard can look, not change it: quit and reopen then",
                        title="Another oxwizard is running", severity="warning", timeout=30)  # fmt: skip
        elif resume is not None:
            from oxwizard.tui.screens.resume import ResumeScreen

            self.push_screen(ResumeScreen(resume), self._resume_chosen)
        elif self.initial_specs:
            self.resolve_plan(self.initial_specs)

    def on_environment_failed(self, msg: EnvironmentFailed) -> None:
        self.update_state(env_error=msg.message)

    @work(thread=True, exclusive=True, exit_on_error=False, group="env")
    def refresh_environment(self) -> None:
        """Live changed (an install, a rollback): read what is installed now. A reading replaced by a
        newer one (live changed again meanwhile) is not shown."""
        from textual.worker import get_current_worker

        from oxwizard.core.errors import OxwizardError

        env = self.state.env
        if env is None:
            return
        try:
            refreshed = tasks.refresh_environment(env, self.sources)
        except OxwizardError as exc:
            self.post_message(EnvironmentFailed(str(exc)))
            return
        if not get_current_worker().is_cancelled:
            self.post_message(refreshed)

    def on_environment_refreshed(self, msg: EnvironmentRefreshed) -> None:
        self.update_state(
            targets=msg.targets, pip_problems=msg.pip_problems, pip_checking=False,
            env_reads=self.state.env_reads + 1,
        )  # fmt: skip
        self._ask_latest(msg.ask)

    @work(thread=True, exclusive=True, exit_on_error=False, group="pip-check")
    def check_pip(self, env: Any) -> None:
        from oxwizard.core.errors import OxwizardError

        try:
            self.post_message(tasks.pip_check(env))
        except OxwizardError as exc:
            self.post_message(PipChecked((f"pip check could not run: {exc}",)))

    def on_pip_checked(self, msg: PipChecked) -> None:
        if self.state.pip_checking:
            self.update_state(pip_problems=msg.problems, pip_checking=False)

    # -- the "latest" column, filled in as the package sources answer ------------------------------------
    def _ask_latest(self, sources: tasks.Sources | None) -> None:
        self._latest_generation += 1
        env = self.state.env
        total = len(self.state.targets)
        if sources is None or env is None:
            self.update_state(latest_progress=(total, total), latest_errors=())
            return
        self.update_state(latest_progress=(0, total), latest_errors=())
        self.read_latest(env, sources, self._latest_generation)

    @work(thread=True, exclusive=True, exit_on_error=False, group="latest")
    def read_latest(self, env: Any, sources: tasks.Sources, generation: int) -> None:
        from textual.worker import get_current_worker

        worker = get_current_worker()
        tasks.read_latest(env, sources, self.post_message, generation, lambda: worker.is_cancelled)

    def on_latest_arrived(self, msg: LatestArrived) -> None:
        if msg.generation != self._latest_generation:
            return  # answers for a reading of the environment that has been replaced
        changes: dict[str, Any] = {"latest_progress": (msg.done, msg.total), "latest_errors": msg.errors}
        if msg.rows:
            answered = {r.name: r for r in msg.rows}
            changes["targets"] = tasks.sort_rows(answered.get(r.name, r) for r in self.state.targets)
        self.update_state(**changes)

    # -- plan -------------------------------------------------------------------------------------------
    def on_plan_requested(self, msg: PlanRequested) -> None:
        self.resolve_plan(msg.specs)

    def on_picks_changed(self, msg: PicksChanged) -> None:
        self.update_state(picked=msg.picked)

    def resolve_plan(self, specs: list[str]) -> None:
        """Plan another upgrade: what the last one showed (steps, checks, outcome) is cleared."""
        from oxwizard.core.errors import InvalidSpec
        from oxwizard.env.specs import parse_specs

        if self.state.env is None or self.state.busy:
            return
        try:
            parse_specs(specs)
        except InvalidSpec as exc:
            self.update_state(plan_error=str(exc), plan=None, spec_text=" ".join(specs))
            return
        self.update_state(
            planning=True, plan_error="", plan=None, risk=None, security=None, spec_text=" ".join(specs),
            steps=NO_STEPS, progress=(0, len(CHECKLIST)), checksets=(), question=None, checkpoint="",
            trials=(), tried=0, not_promoted=(), live_changed=False, outcome=None, rollback_result="",
            flow_error="", resume=None,
        )  # fmt: skip
        self.clear_output()
        self._plan_worker(specs)

    @work(thread=True, exclusive=True, exit_on_error=False, group="plan")
    def _plan_worker(self, specs: list[str]) -> None:
        from oxwizard.core.errors import Abandoned, OxwizardError

        assert self.state.env is not None
        try:
            flow = tasks.new_flow(
                self.state.env, self.project, specs, self.sources, self.listener,
                self.monitor_rounds, self.monitor_interval,
            )  # fmt: skip
            tasks.set_update_pins(flow, self.state.update_pins is not False)  # the risk judged with it
            plan = flow.prepare()
        except OxwizardError as exc:
            self.post_message(PlanFailed(str(exc)))
            return
        except Abandoned:  # the user left while it ran: nobody to show it to
            return
        self.flow = flow
        self.post_message(PlanResolved(plan, flow.risk, flow.security))

    def toggle_pins(self, on: bool) -> None:
        """``u`` on Prepare: the project files written or not; the risk summary follows (what would
        undo the upgrade, and the project's own old requirements, weigh only when not written)."""
        self.update_state(update_pins=on)
        flow = self.flow
        if flow is not None and flow.plan is not None and not self.state.flow_running:
            tasks.set_update_pins(flow, on)
            self.update_state(risk=flow.reassess())

    def on_plan_resolved(self, msg: PlanResolved) -> None:
        self.update_state(planning=False, plan=msg.plan, risk=msg.risk, security=msg.security, outcome=None)

    def on_plan_failed(self, msg: PlanFailed) -> None:
        self.update_state(planning=False, plan_error=msg.message)

    # -- the flow ---------------------------------------------------------------------------------------
    def on_flow_start_requested(self, _msg: FlowStartRequested) -> None:
        self.start_flow()

    def start_flow(self, *, from_live: bool = False, done: Mapping[str, StepEvent] = NO_STEPS) -> None:
        """``done``: the steps a resumed run had recorded before (shown done, not pending)."""
        flow = self.flow
        if flow is None or self.state.flow_running:
            return
        steps = MappingProxyType({**{k: v for k, v in self.state.steps.items() if k == "plan"}, **done})
        self.update_state(
            flow_running=True, outcome=None, flow_error="", question=None, rollback_result="", checksets=(),
            steps=steps, monitor_total=flow.options.monitor_rounds, progress=progress_of(steps),
        )  # fmt: skip
        tasks.set_update_pins(flow, self.state.pins_on)
        self.flow_done.clear()
        self._flow_worker(flow, from_live)

    @work(thread=True, exclusive=True, exit_on_error=False, group="flow")
    def _flow_worker(self, flow: UpgradeFlow, from_live: bool) -> None:
        from oxwizard.core.errors import OxwizardError

        try:
            outcome = flow.run_from_live() if from_live else flow.run()
            self.post_message(FlowFinished(outcome))
        except Abandoned:  # the user left (quit, or the terminal hung up): the runbook stays unfinished
            pass
        except OxwizardError as exc:
            self.post_message(FlowFailed(str(exc)))
        finally:
            self.flow_done.set()

    def on_step_changed(self, msg: StepChanged) -> None:
        event = msg.event
        changes: dict[str, Any] = {"steps": with_step(self.state.steps, event)}
        if event.progress is not None:
            changes["progress"] = event.progress
        if event.step == "checkpoint" and event.status == "passed":
            changes["checkpoint"] = event.message
        if event.step == "promote" and event.status == "running":
            changes["live_changed"] = True
        if event.step == "isolate" and event.status != "running" and event.message.startswith("trial "):
            changes["trials"] = (*self.state.trials, event)
        flow = self.flow
        if event.step == "promote-set" and event.message.startswith("promoting ") and flow is not None:
            # the flow's plan is the promoted set's now: the screens show it, and the culprits
            # (its risk is assessed again below) and the culprits; the picks are the promoted targets
            changes.update(plan=flow.plan, not_promoted=tuple(flow.not_promoted), risk=None, security=None)
            changes["tried"] = len(flow.runbook.tried_targets) if flow.runbook is not None else 0
            changes["picked"] = _names(flow.plan.targets) if flow.plan is not None else frozenset()
        if event.step == "rollback":
            changes["rolling_back"] = event.status == "running"
            if event.status == "passed":  # live is the checkpoint again: no part of the targets is on it
                changes.update(live_changed=False, not_promoted=(), tried=0)
            if event.status != "running":
                changes["rollback_result"] = ("✔ " if event.status == "passed" else "✘ ") + event.message
        self.update_state(**changes)
        if event.step == "rollback" and event.status == "passed":
            self._verify_rollback_in_background()
        if "picked" in changes and flow is not None:
            self.promoted_risk_worker(flow)
        if event.step == "promote" and event.status == "passed":
            self.refresh_environment()  # the targets table shows what live has now
        if event.status == "running" and event.step != "rollback":
            self._show_screen_of(event.step)

    @work(thread=True, exclusive=True, exit_on_error=False, group="promoted-risk")
    def promoted_risk_worker(self, flow: UpgradeFlow) -> None:
        plan = flow.plan
        risk, security = tasks.promoted_risk(flow)
        self.call_from_thread(self._promoted_risk, plan, risk, security)

    def _promoted_risk(self, plan: object, risk: object, security: object) -> None:
        if self.state.plan is plan:  # not planned again meanwhile
            self.update_state(risk=risk, security=security)

    def on_output_received(self, _msg: OutputReceived) -> None:
        lines = []
        for step, line in self.listener.drain():
            if step != self._output_step:
                self._output_step = step
                lines.append(f"── {step} ──")
            lines.append(line)
        self.output.extend(lines)
        self.output_total += len(lines)

    def clear_output(self) -> None:
        """A new plan: the Output boxes start empty, not beside the last run's lines."""
        self.listener.drain()  # lines the last run wrote that were not shown yet
        self.output.clear()
        self._output_step = ""
        self.output_total = 0  # the screens' bind_output clears their logs

    def on_checks_reported(self, msg: ChecksReported) -> None:
        self.update_state(checksets=(*self.state.checksets, msg.checkset))

    def on_question_asked(self, msg: QuestionAsked) -> None:
        self.update_state(question=msg.question)
        self._show_screen_of(msg.question.step)
        if msg.question.step == "pins":  # the project files' diff, over the screen of the step
            self._ask_pins(msg.question)

    def _ask_pins(self, question: Question) -> None:
        from oxwizard.tui.screens.pins import PinsScreen

        plan = self.state.plan
        files = plan.project_files if plan is not None else None
        notes = [r.preview() for r in files.regenerate] + files.notes if files is not None else []
        rewritten = [r.path for r in files.regenerate] if files is not None else []
        diff = question.detail or tasks.planned_diff(self.project, plan)
        self.push_screen(PinsScreen(question, diff, notes, rewritten), self._pins_answered)

    def _pins_answered(self, choice: str | None) -> None:
        if choice is not None:  # None: the question went away unanswered (R, quit)
            self.action_answer(choice)

    def on_flow_finished(self, msg: FlowFinished) -> None:
        self.update_state(flow_running=False, rolling_back=False, outcome=msg.outcome, question=None)
        self.notify(msg.outcome.message, title=msg.outcome.status, severity=_severity(msg.outcome.exit_code))
        self.refresh_environment()

    def on_flow_failed(self, msg: FlowFailed) -> None:
        self.update_state(flow_running=False, rolling_back=False, flow_error=msg.message, question=None)
        self.notify(msg.message, title="stopped", severity="error", timeout=15)
        self.refresh_environment()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.update_state(flow_running=False, planning=False, rolling_back=False)
            self.notify(f"{event.worker.error!r}", title="unexpected error", severity="error", timeout=30)

    # -- actions ----------------------------------------------------------------------------------------
    def action_answer(self, choice: str) -> None:
        question = self.state.question
        if question is None or choice not in question.choices:
            return
        self.update_state(question=None)
        self.listener.answer(choice)

    def action_details(self) -> None:
        """``d``: the question's whole detail on a page of its own (it closes when the question goes)."""
        from oxwizard.tui.screens.details import DetailsScreen

        question = self.state.question
        if question is not None and not isinstance(self.screen, DetailsScreen):
            self.push_screen(DetailsScreen(question))

    def action_rollback(self) -> None:
        """``R``: while the flow runs (a step, or a question), the flow is asked to roll back and
        does it at once; otherwise live, changed since the checkpoint, is restored in a worker."""
        flow = self.flow
        if flow is None or not self.state.can_roll_back:
            self.action_why_no_rollback()
            return
        self.update_state(rolling_back=True, question=None, rollback_result="")
        if self.state.flow_running:
            flow.request_rollback("one key (R)")  # the flow's rollback events follow
        else:
            self.rollback_worker(flow)

    def action_why_no_rollback(self) -> None:
        state = self.state
        ck = state.checkpoint.split(" ")[0]
        if state.rolling_back:
            self.notify("A rollback is already running.")
        elif not state.checkpoint and state.last_outcome and state.env is not None and not state.busy:
            self.undo_hint_worker(state.env)  # an upgrade ended before this start: how to undo it
        elif not state.checkpoint:
            self.notify("No checkpoint yet: there is nothing to roll back to.", severity="warning")
        elif state.live_changed or state.flow_running:  # not known to match: never say it does
            self.notify(f"Live may differ from checkpoint {ck}, and there is no upgrade here to restore it "
                        f"with: oxwizard rollback --to {ck}.", title="R", severity="error")  # fmt: skip
        else:
            self.notify(f"Live already matches checkpoint {ck}: nothing to roll back. Older checkpoints: "
                        "oxwizard checkpoints, then oxwizard rollback --to ID.", title="R")  # fmt: skip

    @work(thread=True, exclusive=True, exit_on_error=False, group="undo-hint")
    def undo_hint_worker(self, env: Environment) -> None:
        hint = tasks.undo_hint(env, self.project) or "No checkpoint yet: there is nothing to roll back to."
        self.call_from_thread(self.notify, hint, title="R", timeout=20)

    @work(thread=True, exclusive=True, exit_on_error=False, group="rollback")
    def rollback_worker(self, flow: UpgradeFlow) -> None:
        """No flow runs: restore live from the checkpoint (the flow records it, verified)."""
        from oxwizard.core.errors import OxwizardError

        try:
            result = flow.rollback("one key (R)")
            ok, text = bool(result.verified or result.noop), str(result.message)
        except OxwizardError as exc:
            ok, text = False, str(exc)
        self.post_message(RollbackFinished(ok, text))

    def _verify_rollback_in_background(self) -> None:
        """The flow's rollback was verified by signatures: the full sha256 pass runs now, in a worker."""
        flow = self.flow
        result = flow.last_rollback if flow is not None else None
        if flow is None or result is None or result.noop:
            return
        if result.verification == "signatures":
            self.verify_rollback_worker(flow.env, result)

    @work(thread=True, exclusive=True, exit_on_error=False, group="verify-rollback")
    def verify_rollback_worker(self, env: Environment, result: RollbackResult) -> None:
        ok, text = tasks.verify_rollback_fully(env, result)
        self.post_message(RollbackVerified(result.message, ok, text))

    def on_rollback_verified(self, msg: RollbackVerified) -> None:
        if self.state.rollback_result[2:] == msg.shown:  # not replaced by something newer meanwhile
            self.update_state(rollback_result=("✔ " if msg.ok else "✘ ") + msg.message)
            if not msg.ok:
                self.notify(msg.message, title="ROLLBACK VERIFICATION", severity="error", timeout=30)

    def on_rollback_finished(self, msg: RollbackFinished) -> None:
        self.update_state(rolling_back=False, rollback_result=("✔ " if msg.ok else "✘ ") + msg.message)
        if msg.ok:  # live is the checkpoint again: no part of the targets is on it
            self.update_state(not_promoted=(), tried=0)
            self._verify_rollback_in_background()
        self.notify(msg.message, title="rolled back" if msg.ok else "ROLLBACK FAILED",
                    severity="information" if msg.ok else "error", timeout=15)  # fmt: skip
        self.refresh_environment()
        specs, self._specs_after_rollback = self._specs_after_rollback, []
        if specs:
            self.resolve_plan(specs)

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

    def _show_screen_of(self, step: str) -> None:
        where = screen_of(step)
        if where in ("execute", "monitor"):
            self.action_show(where)

    async def action_quit(self) -> None:
        if not (self.state.flow_running or self.state.rolling_back):
            self.exit(0)
            return
        from oxwizard.tui.screens.confirm import ConfirmScreen

        what = "A rollback is running" if self.state.rolling_back else "An upgrade is in progress"
        text = (
            f"{what}. Quit anyway?\n\nThe upgrade stops where it stands: a running check is stopped, "
            "an install on live is let finish (never left half-done), and the runbook records where "
            "it stands. The next start offers to resume or roll back."
        )
        self.push_screen(ConfirmScreen(text, yes="Quit", no="Stay"), self._quit_confirmed)

    def _quit_confirmed(self, yes: bool | None) -> None:
        if yes:
            if self.flow is not None and self.state.flow_running:
                self.flow.request_stop("the user quit the wizard")
            self.listener.abandon()
            self.exit(130)

    def _resume_chosen(self, choice: str | None) -> None:
        """The answer to the "Unfinished upgrade" dialog: "resume", "rollback", "new" (``n``) or
        "later" (escape). "new" ends a run that never reached live (recorded, not offered again);
        "later" records nothing: the run stays as it is and the next start offers it again."""
        info, env = self.state.resume, self.state.env
        if info is None or env is None:
            return
        if choice == "resume" and info.live_touched:
            self.flow = self._resumed_flow(info)
            self.update_state(plan=info.runbook.plan, resume=None)
            self.start_flow(from_live=True, done=recorded_steps(info.runbook))
        elif choice == "resume":  # planned again; p plans the same targets, not the row under the cursor:
            # one is put in the filter as if typed, several are picked again (by name, as space picks)
            targets = list(info.runbook.targets)
            self.update_state(picked=_names(targets) if len(targets) > 1 else frozenset(), resume=None)
            prepare = self.screen_stack[0] if self.screen_stack else None
            if len(targets) == 1 and isinstance(prepare, PrepareScreen):
                prepare.type_spec(targets[0])
            self.resolve_plan(targets)
        elif choice == "rollback":
            self.flow = self._resumed_flow(info)
            self._specs_after_rollback = list(self.initial_specs)
            self.action_rollback()
        else:
            self.update_state(resume=None)
            if info.live_touched:  # left as it is: R still restores its checkpoint, through its flow
                self.flow = self._resumed_flow(info)
            else:
                self.update_state(
                    checkpoint="", live_changed=False, steps=NO_STEPS, progress=progress_of(NO_STEPS)
                )
            if choice == "new" and not info.live_touched:  # nothing of it reached live: n ends it
                # (recorded, not asked again); later (esc) records nothing: offered at the next start
                from oxwizard.flow.upgrade import LEFT_AT_START, close_unfinished

                try:
                    close_unfinished(self.project, info, LEFT_AT_START)
                except OxwizardError as exc:
                    self.notify(f"the runbook could not record it: {exc}", severity="warning")
            if self.initial_specs:  # the spec given on the command line is what "new" (and later) means
                self.resolve_plan(self.initial_specs)

    def _resumed_flow(self, info: ResumeInfo) -> UpgradeFlow:
        assert self.state.env is not None
        return tasks.resumed_flow(self.state.env, self.project, info, self.sources, self.listener)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "answer":
            q = self.state.question
            return q is not None and bool(parameters) and parameters[0] in q.choices
        if action == "details":  # a question whose detail the lines under it may not hold (their box
            # is at most the screen's width less its border and padding)
            return has_details(self.state.question, self.size.width - 6)
        if action == "rollback":
            return self.state.can_roll_back
        if action == "why_no_rollback":  # no checkpoint yet, and no upgrade ended before: R is no key at all
            return bool(self.state.checkpoint or self.state.last_outcome)
        return True

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        """The palette's Screenshot: an SVG in the current folder (Textual's default, the Downloads
        folder, is often missing on a server reached over SSH: "Failed to save screenshot")."""
        import os

        return super().deliver_screenshot(filename, path or os.getcwd(), time_format)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Runbook", "Show the runbook so far (l)", self.action_runbook)
        yield SystemCommand("Help", "Screens and keys (?)", self.action_help)
        if self.state.can_roll_back:
            yield SystemCommand("Roll back", "Roll back to the checkpoint (R)", self.action_rollback)
        for mode in ("prepare", "execute", "monitor"):
            yield SystemCommand(
                f"Show {mode}", f"Switch to the {mode} screen", lambda m=mode: self.action_show(m)
            )


# what a resumed run does again from live (checks on live, monitoring, verdict) is not shown done
RUN_AGAIN = frozenset({"checks-live", "monitor", "verdict", "rollback"})


def recorded_steps(runbook: Runbook) -> Mapping[str, StepEvent]:
    """The steps an unfinished runbook recorded before it stopped, as done (its answer the message):
    the screens of a resumed run show them done, not pending."""
    from oxwizard.flow.upgrade import StepEvent

    steps: dict[str, StepEvent] = {}
    for d in runbook.decisions:
        name = d.step
        if name in RUN_AGAIN or name not in BY_NAME or name == "plan":
            continue
        skipped = name == "pins" and d.answer.startswith("skip")
        steps[name] = StepEvent(BY_NAME[name].name, "skipped" if skipped else "passed", d.answer)
    return MappingProxyType(steps)


def progress_of(steps: Mapping[str, StepEvent]) -> tuple[int, int]:
    """The progress line of these steps: up to the last one of the checklist that has an event."""
    return max((CHECKLIST.index(k) + 1 for k in steps if k in CHECKLIST), default=0), len(CHECKLIST)


def _names(specs: Iterable[str]) -> frozenset[str]:
    """The distributions ``specs`` name, as the targets table names them."""
    from packaging.utils import canonicalize_name

    from oxwizard.env.specs import parse_specs

    return frozenset(canonicalize_name(r.name) for r in parse_specs(list(specs)))


def _severity(exit_code: int) -> Any:
    return "information" if exit_code == 0 else "warning"
