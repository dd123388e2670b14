"""Screen 3, Monitor: the checks table refreshed every round, benchmark samples as a sparkline,
new log errors, and the verdict (declare success / roll back)."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Sparkline, Static

from oxwizard.tui.screens.base import FlowScreen
from oxwizard.tui.screens.execute import gate_text
from oxwizard.tui.state import WizardState
from oxwizard.tui.widgets.keybar import KeyBar
from oxwizard.tui.widgets.title import TitleBar

STATUS = {"pass": ("✔", "green"), "warn": ("!", "yellow"), "fail": ("✘", "bold red"), "skip": ("–", "dim")}


class MonitorScreen(FlowScreen):
    CSS_PATH = "monitor.tcss"

    def __init__(self) -> None:
        super().__init__(name="monitor")

    def compose(self) -> ComposeResult:
        yield TitleBar("monitor", id="title")
        yield DataTable(id="checks", cursor_type="none", zebra_stripes=False)
        with Vertical(id="perf"):
            yield Static(id="perf-label")
            yield Sparkline([], id="samples")
        yield Static(id="errors")
        yield Static(id="verdict")
        yield KeyBar(id="keys")

    def on_mount(self) -> None:
        table = self.query_one("#checks", DataTable)
        table.add_column(" ", key="mark", width=1)
        table.add_column("check", key="name")
        table.add_column("summary", key="summary")
        table.border_title = "Checks"
        self.query_one("#perf").border_title = "Benchmark samples"
        self.query_one("#errors").border_title = "New log errors"

    def render_state(self, state: WizardState, parts: frozenset[str]) -> None:
        if not self.is_mounted:
            return
        if state.plan is not None:
            self.query_one(TitleBar).set_where(state.plan.summary() + " · live")
        if "checks" in parts:
            self._show_checks(state)
        if parts & {"steps", "question", "outcome"}:
            self.query_one("#verdict", Static).update(gate_text(state))

    def _show_checks(self, state: WizardState) -> None:
        cs = state.latest_checks
        table = self.query_one("#checks", DataTable)
        rounds = state.monitor_rounds
        total = getattr(getattr(self.app, "flow", None), "options", None)
        of = f" of {total.monitor_rounds}" if total is not None else ""
        table.border_title = f"Checks · {cs.phase if cs else 'none yet'}" + (
            f" · round {len(rounds)}{of}" if rounds else ""
        )
        table.clear()
        samples: list[float] = []
        errors: list[str] = []
        for r in cs.results if cs else []:
            mark, style = STATUS[r.status]
            table.add_row(Text(mark, style=style), r.name, r.summary)
            if r.samples:
                samples = list(r.samples)
            errors += (
                r.details.get("new_errors", []) or r.details.get("new", []) if r.name == "error-logs" else []
            )
        all_samples = [
            s for c in state.checksets for r in c.results if r.name == "performance" for s in r.samples
        ]
        self.query_one("#samples", Sparkline).data = all_samples or samples
        label = f"{len(all_samples)} samples" if all_samples else "no benchmark samples yet"
        if all_samples:
            label += (
                f" · last {all_samples[-1]:.3g} · min {min(all_samples):.3g} · max {max(all_samples):.3g}"
            )
        self.query_one("#perf-label", Static).update(label)
        self.query_one("#errors", Static).update(
            Text("\n".join(errors[:6]), style="red") if errors else Text("none", style="dim")
        )
