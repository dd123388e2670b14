"""Screen 2, Execute: the steps checklist with live status, the streamed output, the gate.

A failed gate stops here with its reason and the offered actions (roll back / keep / retry); new
warnings must be acknowledged before promotion. When several targets failed together, the trials
of the culprit search are listed as they end (the set each tried, passed or failed), and the
question offers the largest set that passed. The decision keys are the app's.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Static

from oxwizard.flow.steps import on_screen
from oxwizard.tui.screens.base import FlowScreen
from oxwizard.tui.state import WizardState
from oxwizard.tui.widgets.ending import ending_text
from oxwizard.tui.widgets.fit import Fitted
from oxwizard.tui.widgets.keybar import KeyBar
from oxwizard.tui.widgets.output_log import OutputLog
from oxwizard.tui.widgets.progress import ProgressLine
from oxwizard.tui.widgets.question import render_question
from oxwizard.tui.widgets.steps import StepsChecklist, asking_step
from oxwizard.tui.widgets.title import TitleBar

EXECUTE = on_screen("execute", with_rollback=True)
TRIAL_LINES = 5  # the trials box's lines at most (80x24 leaves no more beside the question)


class ExecuteScreen(FlowScreen):
    CSS_PATH = "execute.tcss"

    def __init__(self) -> None:
        super().__init__(name="execute")

    def compose(self) -> ComposeResult:
        yield TitleBar("execute", id="title")
        with Horizontal(id="body"):
            yield StepsChecklist(EXECUTE, id="steps")
            yield OutputLog(id="output", max_lines=2000)
        yield Static(id="trials")
        yield Static(id="gate")
        yield ProgressLine(id="progress")
        yield KeyBar(id="keys")

    def on_mount(self) -> None:
        self.query_one("#steps").border_title = "Steps"
        self.query_one("#output").border_title = "Output"
        self.bind(lambda s: (s.plan, s.not_promoted), self._show_where)
        self.bind(gate_part, self._show_steps)
        self.bind(lambda s: (s.trials, s.not_promoted), self._show_trials)
        log = self.query_one(OutputLog)
        self.bind_output(log.write_lines, log.clear)

    def _show_where(self, state: WizardState) -> None:
        if state.plan is not None:
            where, keep = where_text(state)
            self.query_one(TitleBar).set_where(where, keep=keep)

    def _show_trials(self, state: WizardState) -> None:
        box = self.query_one("#trials", Static)
        box.display = bool(state.trials)
        if state.trials:
            failed = sum(1 for t in state.trials if t.status == "failed")
            promoted = f" · promoted {len(state.plan.targets)} of {state.tried}" if state.plan else ""
            box.border_title = f"Trials: {len(state.trials)} ({failed} failed)" + (
                promoted if state.not_promoted else ""
            )
            box.update(trials_text(state))

    def _show_steps(self, state: WizardState) -> None:
        self.query_one(StepsChecklist).show(state.steps, asking_step(state))
        self.query_one("#gate", Static).update(gate_text(state))
        done, total = state.progress
        self.query_one(ProgressLine).set_progress(done, total, "flow")


def gate_part(s: WizardState) -> object:
    """What the steps and the line under them show."""
    return (s.steps, s.progress, s.question, s.outcome, s.flow_running, s.rolling_back, s.rollback_result,
            s.flow_error, s.checkpoint, s.plan)  # fmt: skip


def where_text(state: WizardState) -> tuple[str, int]:
    """The title's "where" and how much of its start must stay: the plan's summary; after a partial
    promotion, first how many targets went on and which did not (kept: a narrow title cuts the
    summary and shrinks the tabs, never the culprits' names)."""
    if state.plan is None:
        return "", 0
    head = state.promoted_head
    if not head:
        return state.plan.summary(), 0
    return f"{head} · {state.plan.summary()}", len(head)


def trials_text(state: WizardState, width: int | None = None, most: int = TRIAL_LINES) -> Text:
    """One line per trial of the culprit search, the newest last: ✔/✘, its number, the targets it
    tried (names only) and, for a failure, the checks that failed. Cut to ``width``. Once a part
    of the targets is promoted, the first line names the culprits left out."""
    if width is None:
        return Fitted(lambda w: trials_text(state, w, most))
    out = Text(no_wrap=True, overflow="ellipsis")
    if state.not_promoted:
        heads = "; ".join(line.split(": ", 1)[0] for line in state.not_promoted)
        left = Text(f"not promoted: {heads}", style="bold red")
        left.truncate(max(10, width), overflow="ellipsis")
        out.append_text(left)
        out.append("\n")
        most -= 1
    shown = state.trials if len(state.trials) <= most else state.trials[-(most - 1) :]
    if len(state.trials) > len(shown):
        out.append(
            f"… {len(state.trials) - len(shown)} earlier trial(s), all in the runbook (l)\n", style="dim"
        )
    for n, event in enumerate(shown):
        head, _, result = event.message.partition(" -> ")
        number, _, pins = head.partition(": ")
        names = " ".join(p.split("==")[0] for p in pins.split())
        ok = event.status == "passed"
        line = Text()
        line.append("✔ " if ok else "✘ ", style="green" if ok else "bold red")
        line.append(f"{number.removeprefix('trial '):>2} ", style="dim")
        line.append(names)
        if not ok:
            line.append("  failed: " + result.removeprefix("FAILED "), style="red")
        line.truncate(max(10, width), overflow="ellipsis")
        out.append_text(line)
        if n < len(shown) - 1:
            out.append("\n")
    return out


def gate_text(state: WizardState, width: int | None = None) -> Text:
    """The line under the steps: the pending decision, the failed gate, or how it ended. Without
    ``width``, laid out again for the width it is shown at (the choices never cut)."""
    if width is None:
        return Fitted(lambda w: gate_text(state, w))
    out = Text()
    if state.rolling_back:
        out.append("▶ rolling back to the checkpoint…", style="bold yellow")
        return out
    if state.question is not None:
        out = render_question(state.question, width)
        if state.question.step == "checks-staging":
            out.append(
                "\n  k or R both end here: live was never changed (R also re-checks it)",
                style="dim",
            )
        return out
    ended = ending_text(state)
    if ended:
        return ended
    if state.flow_running:
        running = [e for e in state.steps.values() if e.status == "running"]
        out.append(f"▶ {running[-1].message}" if running else "working…", style="dim")
    else:
        out.append(f"Nothing is running. {next_step(state)}", style="dim")
    return out


def next_step(state: WizardState) -> str:
    """Where to go from here when nothing runs: the keys that start an upgrade are Prepare's."""
    if state.plan is not None and not state.plan.is_empty and state.outcome is None:
        return "On Prepare (1), c stages and tests the plan."
    return "On Prepare (1): pick targets, then p for the plan."
