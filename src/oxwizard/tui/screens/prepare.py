"""Screen 1, Prepare: environment facts, targets, the plan and risk, staging + baseline, go/wait.

Keys that belong to this screen: ``/`` filter, space pick, ``p`` plan, ``c`` continue (checkpoint,
staging clone, baseline). The decision keys (``g``/``w``), ``R``, ``l``, ``?`` and ``q`` are the
app's, so they work on every screen.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Input, Log, Static

from oxwizard.tui.screens.base import FlowScreen
from oxwizard.tui.state import WizardState
from oxwizard.tui.widgets.keybar import KeyBar
from oxwizard.tui.widgets.plan_view import PlanView, render_plan
from oxwizard.tui.widgets.progress import ProgressLine
from oxwizard.tui.widgets.question import render_question
from oxwizard.tui.widgets.steps import StepsChecklist
from oxwizard.tui.widgets.targets import TargetRow, TargetsTable
from oxwizard.tui.widgets.title import TitleBar

READINESS = ("checkpoint", "stage", "baseline", "go")
SPEC_OPERATORS = ("==", ">=", "<=", "~=", "!=", ">", "<")


class PrepareScreen(FlowScreen):
    CSS_PATH = "prepare.tcss"
    AUTO_FOCUS = "#targets"  # the targets table has the keyboard when the screen opens
    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", id="filter", tooltip="Filter the targets, or type a spec"),
        Binding("space", "pick", "Pick", id="pick", tooltip="Pick the highlighted package as a target"),
        Binding(
            "p", "plan", "Plan", id="plan", tooltip="Resolve the plan for the picked targets or the spec"
        ),
        Binding(
            "c",
            "continue",
            "Stage & test",
            id="continue",
            tooltip="Take the checkpoint, clone to staging, run the baseline checks (live untouched)",
        ),
        Binding("escape", "leave_filter", "Targets", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(name="prepare")
        self._written = 0

    def compose(self) -> ComposeResult:
        yield TitleBar("prepare", id="title")
        with Horizontal(id="top"):
            with Vertical(id="left"):
                yield Static(id="facts")
                yield Input(placeholder="/ filter, or a spec: oxzep7==1.5.0 ⏎", id="filter")
                yield TargetsTable(id="targets")
            with Vertical(id="right", classes="no-output"):
                with VerticalScroll(id="plan-box"):
                    yield PlanView(id="plan")
                yield Log(id="output", max_lines=1000, auto_scroll=True)
        with Vertical(id="readiness"):
            yield StepsChecklist(READINESS, id="ready-steps")
            yield Static(id="decision")
            yield ProgressLine(id="progress")
        yield KeyBar(id="keys")

    def on_mount(self) -> None:
        self.query_one("#filter", Input).cursor_blink = False
        self.query_one("#left").border_title = "Environment · targets"
        self.query_one("#plan-box").border_title = "Plan"
        self.query_one("#readiness").border_title = "Readiness"
        self.query_one("#output").border_title = "Output"

    # -- rendering ------------------------------------------------------------------------------------
    def render_state(self, state: WizardState, parts: frozenset[str]) -> None:
        if not self.is_mounted:
            return
        if "env" in parts:
            self.query_one("#facts", Static).update(render_facts(state, self.app))
            self.query_one(TitleBar).set_where(where_text(state))
        if "targets" in parts:
            table = self.query_one(TargetsTable)
            table.picked = set(state.picked)
            table.set_rows(target_rows(state))
        if "plan" in parts:
            self.query_one(PlanView).update(plan_text(state))
        if parts & {"steps", "question", "outcome"}:
            self.query_one("#ready-steps", StepsChecklist).show(state.steps)
            self.query_one("#decision", Static).update(decision_text(state))
            done, total = state.progress
            self.query_one(ProgressLine).set_progress(done, total, "flow")
        if "output" in parts:
            log = self.query_one("#output", Log)
            lines = state.lines_since(self._written)
            if lines:
                log.write_lines(lines)
                # the output box takes room from the plan only once there is output to show
                self.query_one("#right").remove_class("no-output")
            self._written = state.output_total

    # -- actions --------------------------------------------------------------------------------------
    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_leave_filter(self) -> None:
        self.query_one(TargetsTable).focus()

    def action_pick(self) -> None:
        name = self.query_one(TargetsTable).toggle_current()
        if name is not None:
            picked = self.wizard_state.picked
            picked.symmetric_difference_update({name})

    def action_plan(self) -> None:
        specs = self.current_specs()
        if not specs:
            self.notify("Pick a package (space) or type a spec in the filter (/) first.", severity="warning")
            return
        self.app.resolve_plan(specs)  # type: ignore[attr-defined]

    def action_continue(self) -> None:
        self.app.start_flow()  # type: ignore[attr-defined]

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        state = self.wizard_state
        busy = state.flow_running or state.planning or state.rolling_back
        if action == "plan":
            return state.env is not None and not busy
        if action == "continue":
            return state.plan is not None and not state.plan.is_empty and not busy and state.outcome is None
        return True

    def current_specs(self) -> list[str]:
        text = self.query_one("#filter", Input).value.strip()
        if text and any(op in text for op in SPEC_OPERATORS):
            return [text]
        if self.wizard_state.picked:
            return sorted(self.wizard_state.picked)
        if text:
            return [text] if text in {r.name for r in self.query_one(TargetsTable).rows_all} else []
        row = self.query_one(TargetsTable).current_row()
        return [row.name] if row is not None and row.latest else []

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one(TargetsTable).set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(TargetsTable).focus()
        self.action_plan()

    def on_data_table_row_selected(self, event: TargetsTable.RowSelected) -> None:
        self.action_plan()


# -- pure renderers (also used by the snapshot tests through the screen) --------------------------------
def where_text(state: WizardState) -> str:
    if state.env is None:
        return "opening…"
    project = Path(state.env.prefix).parent.name
    return f"{project} · {Path(state.env.prefix).name} (Python {state.env.version})"


def render_facts(state: WizardState, app: object) -> Text:
    if state.env_error:
        return Text(f"✘ {state.env_error}", style="bold red")
    env = state.env
    if env is None:
        return Text(state.loading, style="dim")
    out = Text()
    installer = env.installer_kind()
    out.append(f"Python {env.version} · {len(env.distributions)} dists · ")
    out.append(f"installer {installer}", style="" if installer != "none" else "bold red")
    out.append("\npip check ")
    if state.pip_problems:
        out.append(f"{len(state.pip_problems)} problem(s)", style="bold red")
    else:
        out.append("ok", style="green")
    out.append(f" · runbooks {getattr(app, 'project_label', '')}/.oxwizard/")
    out.append(f"\nvenv {getattr(app, 'env_label', env.prefix)}")
    for line in state.recovered[:1]:
        out.append(f"\nrecovery: {line}", style="yellow")
    if state.last_outcome and not state.recovered:
        out.append(f"\nlast: {state.last_outcome}", style="dim")
    return out


def target_rows(state: WizardState) -> list[TargetRow]:
    if state.env is None:
        return []
    newer = {o.name: o for o in state.outdated}
    rows = []
    for name, dist in state.env.distributions.items():
        o = newer.get(name)
        rows.append(TargetRow(name, dist.version, o.latest if o else None, o.impact if o else ""))
    rows.sort(key=lambda r: (r.latest is None, r.name))
    return rows


def plan_text(state: WizardState) -> Text:
    if state.plan_error:
        return Text(f"✘ {state.plan_error}", style="bold red")
    if state.planning:
        return Text("resolving the plan with the real resolver…", style="dim")
    if state.plan is None:
        return Text(
            "No plan yet.\n\nPick packages with space (or type a spec such as oxzep7==1.5.0 "
            "in the filter), then press p to see exactly what would change.",
            style="dim",
        )
    return render_plan(state.plan, state.risk, state.security)


def decision_text(state: WizardState) -> Text:
    if state.question is not None and state.question.step == "go":
        return render_question(state.question)
    if state.checkpoint:
        head = Text(f"✔ checkpoint {state.checkpoint}  (R rolls back to it)", style="")
    else:
        head = Text()
    if state.outcome is not None:
        return Text.assemble(head, "\n" if head else "", Text(f"■ {state.outcome.message}", style="bold"))
    if state.flow_running:
        return head or Text("working…", style="dim")
    if state.plan is not None and not state.plan.is_empty:
        return Text(
            "Next: c — checkpoint, staging clone and baseline checks (live is not touched)", style="bold"
        )
    return Text("Next: pick targets, then p for the plan", style="dim")
