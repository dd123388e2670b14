"""Screen 1, Prepare: environment facts, targets, the plan and risk, staging + baseline, go/wait.

Keys that belong to this screen: ``/`` filter, space pick, ``A`` pick every outdated row, ``p``
plan, ``a`` add the targets that clear a predicted conflict (shown only when the plan names some),
``u`` update the project files or not (shown only when the plan changes them), ``c`` continue
(checkpoint, staging clone, baseline). The decision keys (``g``/``w``), ``R``, ``l``, ``?`` and
``q`` are the app's, so they work on every screen.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Static

from oxwizard.flow.steps import on_screen
from oxwizard.tui.messages import FlowStartRequested, PicksChanged, PlanRequested
from oxwizard.tui.screens.base import FlowScreen
from oxwizard.tui.state import WizardState
from oxwizard.tui.widgets.ending import ending_text
from oxwizard.tui.widgets.fit import Fitted
from oxwizard.tui.widgets.keybar import KeyBar
from oxwizard.tui.widgets.plan_view import PlanView, render_plan
from oxwizard.tui.widgets.progress import ProgressLine
from oxwizard.tui.widgets.project_files import has_edits, managed_text
from oxwizard.tui.widgets.question import render_question
from oxwizard.tui.widgets.steps import StepsChecklist, asking_step
from oxwizard.tui.widgets.title import TitleBar

if TYPE_CHECKING:
    from textual.widgets import Input

    from oxwizard.tui.widgets.targets import TargetsTable

READINESS = on_screen("prepare")  # checkpoint, staging copy, baseline, the go / wait decision
SPEC_OPERATORS = ("==", ">=", "<=", "~=", "!=", ">", "<")
DEMO_EXAMPLE = "oxzep7==1.5.0"  # the demo's upgrade that passes every check
EXAMPLE_ROOM = 20  # the longest example the filter's placeholder holds at 80x24


class PrepareScreen(FlowScreen):
    # prepare.tcss is loaded by the app (WizardApp.CSS_PATH), so that no re-parse delays the first paint
    AUTO_FOCUS = ""  # none: the targets table takes the keyboard once it is mounted (after the first paint)
    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", id="filter", tooltip="Filter the targets, or type a spec"),
        Binding("space", "pick", "Pick", id="pick", tooltip="Pick the highlighted package as a target"),
        Binding(
            "A",
            "pick_outdated",
            "All",
            id="pick-outdated",
            tooltip="Pick every outdated package shown (again: none); several targets that fail "
            "together are tried in parts to name the culprits",
        ),
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
        Binding(
            "a",
            "add_suggested",
            "Add targets",  # named by key_description: "Add requests"
            id="add-suggested",
            tooltip="Add the targets that clear the predicted pip check problems, and plan again",
        ),
        Binding(
            "u",
            "toggle_pins",
            "Files",  # named by key_description: "Files: write" / "Files: skip"
            id="toggle-pins",
            tooltip="Write the upgrade into the project files (on a branch, diff shown first), or not",
        ),
        Binding("escape", "leave_filter", "Targets", show=False),
    ]

    def __init__(self) -> None:
        super().__init__(name="prepare")
        self._written = 0
        # the filter, the targets table and the output log: asked for once the environment is read,
        # mounted (and usable) a moment later
        self._mount_asked = False
        self._interactive = False
        self._typed = ""  # a spec put in the filter before it is mounted (type_spec)

    def compose(self) -> ComposeResult:
        # The filter, the targets table and the output log come in _mount_interactive, once the
        # environment has been read (in a worker started after the first paint): they have nothing to
        # show before, and building and styling them is most of what a first paint of this screen
        # would cost beyond a minimal app's. Until then the facts box says what is being read.
        yield TitleBar("prepare", id="title")
        with Horizontal(id="top"):
            with Vertical(id="left"):
                yield Static(id="facts")
            with Vertical(id="right", classes="no-output"):
                with VerticalScroll(id="plan-box"):
                    yield PlanView(id="plan")
        with Vertical(id="readiness"):
            yield StepsChecklist(READINESS, id="ready-steps")
            yield Static(id="decision")
            yield ProgressLine(id="progress")
        yield KeyBar(id="keys")

    def on_mount(self) -> None:
        self.bind(_latest_part, self._show_latest)
        self.query_one("#plan-box").border_title = "Plan"
        self.query_one("#readiness").border_title = "Readiness"
        self.bind(_env_part, self._show_env)
        self.bind(lambda s: (s.env, s.promoted_head), self._show_where)
        self.bind(lambda s: s.env is not None or bool(s.env_error), self._environment_read)
        self.bind(_plan_part, lambda s: self.query_one(PlanView).update(plan_text(s)))
        self.bind(_flow_part, self._show_flow)

    def _show_latest(self, state: WizardState) -> None:
        self.query_one("#left").border_title = targets_title(state)

    def _show_env(self, state: WizardState) -> None:
        self.query_one("#facts", Static).update(render_facts(state, self.app))

    def _show_where(self, state: WizardState) -> None:
        head = state.promoted_head  # a partial promotion: said first, on every screen
        where = where_text(state)
        self.query_one(TitleBar).set_where(f"{head} · {where}" if head else where, keep=len(head))

    def _show_flow(self, state: WizardState) -> None:
        self.query_one("#ready-steps", StepsChecklist).show(state.steps, asking_step(state))
        self.query_one("#decision", Static).update(decision_text(state))
        done, total = state.progress
        self.query_one(ProgressLine).set_progress(done, total, "flow")

    def _environment_read(self, state: WizardState) -> None:
        if (state.env is not None or state.env_error) and not self._mount_asked:
            self._mount_asked = True  # the environment is read: now the table has rows to show
            self.call_later(self._mount_interactive)

    async def _mount_interactive(self) -> None:
        from oxwizard.tui.widgets.filter_input import FilterInput
        from oxwizard.tui.widgets.output_log import OutputLog
        from oxwizard.tui.widgets.targets import TargetsTable

        filter_input = FilterInput(placeholder=filter_placeholder(self.wizard_state), id="filter")
        filter_input.cursor_blink = False
        # as if typed, so that p plans it again: a resumed run's one target (chosen before the filter
        # was there), else the one spec the wizard was started with
        given = list(getattr(self.app, "initial_specs", []))
        filter_input.value = self._typed or (given[0] if len(given) == 1 else "")
        table = TargetsTable(id="targets")
        log = OutputLog(id="output", max_lines=1000)
        log.border_title = "Output"
        await self.query_one("#left").mount(filter_input, table)
        await self.query_one("#right").mount(log)
        self._interactive = True
        if self.focused is None:
            table.focus()
        self.bind(lambda s: s.targets, lambda s: table.set_rows(list(s.targets)))
        self.bind(example_spec, lambda s: setattr(filter_input, "placeholder", filter_placeholder(s)))
        self.bind(lambda s: s.picked, lambda s: table.set_picked(s.picked))
        self.bind_output(self._show_output, self._clear_output)
        self.app.refresh_bindings()

    def _show_output(self, lines: list[str]) -> None:
        from oxwizard.tui.widgets.output_log import OutputLog

        self.query_one(OutputLog).write_lines(lines)
        # the output box takes room from the plan only once there is output to show
        self.query_one("#right").remove_class("no-output")

    def _clear_output(self) -> None:
        from oxwizard.tui.widgets.output_log import OutputLog

        self.query_one(OutputLog).clear()
        self.query_one("#right").add_class("no-output")

    def type_spec(self, spec: str) -> None:
        """``spec`` in the filter, as if typed, so that ``p`` plans it again (a resumed run's target)."""
        if self._interactive:
            self.filter_input.value = spec
        else:
            self._typed = spec

    @property
    def filter_input(self) -> Input:
        from textual.widgets import Input

        return self.query_one("#filter", Input)

    @property
    def targets(self) -> TargetsTable:
        from oxwizard.tui.widgets.targets import TargetsTable

        return self.query_one(TargetsTable)

    # -- actions --------------------------------------------------------------------------------------
    def action_focus_filter(self) -> None:
        self.filter_input.focus()

    def action_leave_filter(self) -> None:
        self.targets.focus()

    def action_pick(self) -> None:
        if self.targets.toggle_current() is not None:
            self.post_message(PicksChanged(frozenset(self.targets.picked)))

    def action_pick_outdated(self) -> None:
        if self.targets.toggle_outdated():
            picked = frozenset(self.targets.picked)
            self.post_message(PicksChanged(picked))
            # most of the rows may be scrolled out of view: say what A did
            self.notify(f"{len(picked)} picked" if picked else "none picked", title="A")

    def action_plan(self) -> None:
        specs = self.current_specs()
        if not specs:
            self.notify("Pick a package (space) or type a spec in the filter (/) first.", severity="warning")
            return
        self.post_message(PlanRequested(specs))

    def action_add_suggested(self) -> None:
        """Plan again with the targets that clear the predicted pip check problems added."""
        plan = self.wizard_state.plan
        if plan is None or not plan.suggested_targets:
            return
        self.post_message(PlanRequested([*plan.targets, *plan.suggested_targets]))

    def action_toggle_pins(self) -> None:
        """``u``: write the upgrade into the project files (the flow asks again, with the diff), or not."""
        state = self.wizard_state
        if has_edits(state.plan.project_files if state.plan is not None else None):
            self.wizard.toggle_pins(not state.pins_on)

    def key_description(self, action: str) -> str | None:
        """The key bar's text for a key whose meaning depends on the plan."""
        if action == "add_suggested":
            names = suggested(self.wizard_state)
            return f"Add {', '.join(names)}" if names else None
        if action == "toggle_pins":
            return "Files: write" if self.wizard_state.pins_on else "Files: skip"
        return None

    def action_continue(self) -> None:
        self.post_message(FlowStartRequested())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        state = self.wizard_state
        busy = state.busy
        if (
            action in ("focus_filter", "pick", "pick_outdated", "leave_filter", "plan")
            and not self._interactive
        ):
            return None  # shown dimmed until the targets table is there
        if action == "plan":
            return state.env is not None and not busy
        if action == "add_suggested":  # no key at all without a suggestion or while a flow runs ("a"
            # then answers the flow's questions: acknowledge)
            if not suggested(state) or state.flow_running or state.question is not None:
                return False
            return not busy
        if action == "toggle_pins":  # no key at all unless the plan changes the project's files; fixed
            # once the flow runs (it reads the option at its pins step)
            plan = state.plan
            return plan is not None and has_edits(plan.project_files) and not state.flow_running
        if action == "continue":
            return state.plan is not None and not state.plan.is_empty and not busy and state.outcome is None
        return True

    def current_specs(self) -> list[str]:
        """What ``p`` / enter plans: a spec typed in the filter, else the picked packages, else the
        highlighted row. Typed text that matches no row is planned as typed, so that a mistyped spec
        gets the spec parser's (or the resolver's) reason rather than a hint to pick something."""
        text = self.filter_input.value.strip()
        if text and (any(op in text for op in SPEC_OPERATORS) or not self.targets.visible_rows()):
            return [text]
        if self.wizard_state.picked:
            return sorted(self.wizard_state.picked)
        if text and text in {r.name for r in self.targets.rows_all}:
            return [text]
        row = self.targets.current_row()
        return [row.name] if row is not None and row.latest else []

    def on_input_changed(self, event: Input.Changed) -> None:
        self.targets.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.targets.focus()
        self.action_plan()

    def on_data_table_row_selected(self, event: TargetsTable.RowSelected) -> None:
        self.action_plan()


# -- pure renderers (also used by the snapshot tests through the screen) --------------------------------
def targets_title(state: WizardState) -> str:
    """The targets panel's title, with how many "latest" answers are in while the sources answer,
    and how many packages are picked (``A`` picks rows scrolled out of view)."""
    done, total = state.latest_progress
    picked = f" · {len(state.picked)} picked" if state.picked else ""
    # the panel is 48 columns wide at 80x24: with what the sources said and the picks, the short name
    name = "Targets" if picked else "Environment · targets"
    if state.latest_errors:
        return f"{name} · index unreachable{picked}"
    if done < total:
        return f"{name} · latest: {done}/{total}…{picked}"
    return f"Environment · targets{picked}"


def where_text(state: WizardState) -> str:
    if state.env is None:
        return "opening…"
    project = Path(state.env.prefix).parent.name
    return f"{project} · {Path(state.env.prefix).name} (Python {state.env.version})"


def render_facts(state: WizardState, app: object, width: int | None = None) -> Text:
    """The environment's facts and how the project is managed; without ``width``, laid out again
    for the width it is shown at (the managed-by line shortens)."""
    if width is None:
        return Fitted(lambda w: render_facts(state, app, w))
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
    if state.pip_checking:
        out.append("…", style="dim")
    elif state.pip_problems:
        out.append(f"{len(state.pip_problems)} problem(s)", style="bold red")
    else:
        out.append("ok", style="green")
    runbooks = f" · runbooks {getattr(app, 'project_label', '')}/.oxwizard/"  # where `l` reads, when it fits
    out.append(runbooks if len(out.plain.rsplit("\n", 1)[-1]) + len(runbooks) <= width else "")
    out.append("\n")
    out.append_text(managed_text(state.managers, width))
    out.append("\n" + _tail(f"venv {state.env_label or env.prefix}", width))
    for line in state.recovered[:1]:
        out.append(f"\nrecovery: {line}", style="yellow")
    if state.held_elsewhere:
        out.append(f"\nbusy: {state.held_elsewhere[0]}", style="yellow")
    elif state.last_outcome and not state.recovered:
        out.append(f"\nlast: {state.last_outcome}", style="dim")
    return out


def _tail(line: str, width: int) -> str:
    """``line`` (a label, a space, a path) in ``width`` cells: the path's end is kept, its start
    elided (``venv …/demo/project/.venv``), rather than wrapped onto lines the box has no room for."""
    if len(line) <= width:
        return line
    label, _, path = line.partition(" ")
    room = width - len(label) - 2
    return f"{label} …{path[-room:]}" if room > 0 else line[:width]


def plan_text(state: WizardState) -> Text:
    if state.plan_error:
        return Text(f"✘ {state.plan_error}", style="bold red")
    if state.planning:  # what the plan is doing now, as the flow says it (the API impact can take a while)
        step = state.steps.get("plan")
        doing = step.message if step is not None and step.status == "running" else ""
        return Text(f"{doing}…" if doing else "resolving the plan with the real resolver…", style="dim")
    if state.plan is None:
        example = example_spec(state)
        such_as = f" such as {example}" if example else ""
        return Text(
            f"No plan yet.\n\nPick packages with space (or type a spec{such_as} in the filter), then "
            "press p to see exactly what would change.",
            style="dim",
        )
    plan = render_plan(state.plan, state.risk, state.security, pins=state.pins_on)
    if not state.not_promoted:
        return plan
    # a partial promotion: the plan is the promoted set's; the culprits' evidence is on Execute
    head = Text(
        f"Promoted {len(state.plan.targets)} of {state.tried} targets.\nNot promoted:\n", style="bold"
    )
    for line in state.not_promoted:
        head.append(f"✘ {line.split(': ', 1)[0]}\n", style="red")
    return Text.assemble(head, "\n", plan)


def example_spec(state: WizardState) -> str:
    """A spec worth typing in this environment: the demo's own upgrade on the demo, else the first
    outdated package at its latest version, else the first installed distribution's name."""
    if state.demo:
        return DEMO_EXAMPLE
    newer = next((r for r in state.targets if r.latest), None)
    if newer is not None:
        return f"{newer.name}=={newer.latest}"
    return state.targets[0].name if state.targets else ""


def filter_placeholder(state: WizardState) -> str:
    """The filter's placeholder, with this environment's example when it fits."""
    example = example_spec(state)
    if not example or len(example) > EXAMPLE_ROOM:
        return "/ filter, or a spec (name==version) ⏎"
    return f"/ filter, or a spec: {example} ⏎"


def decision_text(state: WizardState) -> Text:
    if state.question is not None and state.question.step == "go":
        return render_question(state.question)
    if state.checkpoint:
        if state.rolling_back:
            hint = "rolling back to it…"
        else:
            hint = "R rolls back to it" if state.can_roll_back else "live matches it"
        head = Text(f"✔ checkpoint {state.checkpoint}  ({hint})", style="")
    else:
        head = Text()
    ended = ending_text(state)  # the words Execute and Monitor use: a rollback after it is the last word
    if ended:
        return Text.assemble(head, "\n" if head else "", ended)
    if state.flow_running:
        return head or Text("working…", style="dim")
    names = suggested(state)
    if names and not state.checkpoint:
        return Text(
            f"Next: a — add {', '.join(names)}, plan again · c — stage & test as planned",
            style="bold",
        )
    if state.plan is not None and not state.plan.is_empty:
        return Text(
            "Next: c — checkpoint, staging clone and baseline checks (live is not touched)", style="bold"
        )
    nothing = Text("Next: pick targets, then p for the plan", style="dim")
    # an unfinished upgrade left as it was (n at the start): its checkpoint, and that R restores it
    return Text.assemble(head, "\n", nothing) if head else nothing


def suggested(state: WizardState) -> list[str]:
    """The targets the plan suggests adding (they clear its predicted pip check problems)."""
    return state.plan.suggested_targets if state.plan is not None else []


# -- the slices of the state each part of the screen shows ----------------------------------------------
def _env_part(s: WizardState) -> object:
    return (s.env, s.env_reads, s.env_error, s.env_label, s.loading, s.pip_problems, s.pip_checking,
            s.recovered, s.held_elsewhere, s.last_outcome, s.managers)  # fmt: skip


def _latest_part(s: WizardState) -> object:
    return (s.latest_progress, s.latest_errors, len(s.picked))


def _plan_part(s: WizardState) -> object:
    return (
        example_spec(s) if s.plan is None else "",
        s.plan,
        s.plan_error,
        s.planning,
        s.steps.get("plan"),
        s.risk,
        s.security,
        s.pins_on,
        s.not_promoted,
    )


def _flow_part(s: WizardState) -> object:
    return (s.steps, s.progress, s.question, s.checkpoint, s.outcome, s.flow_running, s.plan, s.can_roll_back,
            s.rollback_result, s.flow_error)  # fmt: skip
