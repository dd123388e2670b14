"""Screen 2, Execute: the steps checklist with live status, the streamed output, the gate.

A failed gate stops here with its reason and the offered actions (roll back / keep / retry); new
warnings must be acknowledged before promotion. The decision keys are the app's.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Log, Static

from oxwizard.tui.screens.base import FlowScreen
from oxwizard.tui.state import WizardState
from oxwizard.tui.widgets.keybar import KeyBar
from oxwizard.tui.widgets.progress import ProgressLine
from oxwizard.tui.widgets.question import render_question
from oxwizard.tui.widgets.steps import StepsChecklist
from oxwizard.tui.widgets.title import TitleBar

EXECUTE = ("install-staging", "checks-staging", "ack-warnings", "promote", "checks-live", "rollback")


class ExecuteScreen(FlowScreen):
    CSS_PATH = "execute.tcss"

    def __init__(self) -> None:
        super().__init__(name="execute")
        self._written = 0

    def compose(self) -> ComposeResult:
        yield TitleBar("execute", id="title")
        with Horizontal(id="body"):
            yield StepsChecklist(EXECUTE, id="steps")
            yield Log(id="output", max_lines=2000, auto_scroll=True)
        yield Static(id="gate")
        yield ProgressLine(id="progress")
        yield KeyBar(id="keys")

    def on_mount(self) -> None:
        self.query_one("#steps").border_title = "Steps"
        self.query_one("#output").border_title = "Output"

    def render_state(self, state: WizardState, parts: frozenset[str]) -> None:
        if not self.is_mounted:
            return
        if state.plan is not None:
            self.query_one(TitleBar).set_where(state.plan.summary())
        if parts & {"steps", "question", "outcome"}:
            self.query_one(StepsChecklist).show(state.steps)
            self.query_one("#gate", Static).update(gate_text(state))
            done, total = state.progress
            self.query_one(ProgressLine).set_progress(done, total, "flow")
        if "output" in parts:
            lines = state.lines_since(self._written)
            if lines:
                self.query_one("#output", Log).write_lines(lines)
            self._written = state.output_total


def gate_text(state: WizardState) -> Text:
    """The line under the steps: the pending decision, the failed gate, or how it ended."""
    out = Text()
    if state.rolling_back:
        out.append("▶ rolling back to the checkpoint…", style="bold yellow")
        return out
    if state.question is not None:
        return render_question(state.question)
    if state.rollback_result:
        out.append(f"■ rollback: {state.rollback_result}\n", style="bold")
    if state.flow_error:
        out.append(f"✘ stopped: {state.flow_error}", style="bold red")
    elif state.outcome is not None:
        style = "bold green" if state.outcome.exit_code == 0 else "bold red"
        out.append(f"■ {state.outcome.status}: {state.outcome.message}", style=style)
    elif state.flow_running:
        running = [e for e in state.steps.values() if e.status == "running"]
        out.append(f"▶ {running[-1].message}" if running else "working…", style="dim")
    else:
        out.append("Nothing is running. Prepare (1) shows the plan; c starts staging.", style="dim")
    return out
