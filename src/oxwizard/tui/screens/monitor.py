"""Screen 3, Monitor: the checks table refreshed every round, benchmark samples as a sparkline,
new log errors, and the verdict (declare success / roll back).

Every round stays on screen, one column each, so a verdict of "found problems" always shows which
round failed and which check (a line above the verdict says it too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Sparkline, Static

from oxwizard.tui.screens.base import FlowScreen
from oxwizard.tui.screens.execute import gate_part, gate_text, where_text
from oxwizard.tui.state import WizardState
from oxwizard.tui.widgets.fit import Fitted
from oxwizard.tui.widgets.keybar import KeyBar
from oxwizard.tui.widgets.title import TitleBar

if TYPE_CHECKING:
    from oxwizard.checks.result import CheckResult, CheckSet

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
        self.query_one("#checks", DataTable).border_title = "Checks"
        self.query_one("#perf").border_title = "Benchmark samples"
        self.query_one("#errors").border_title = "New log errors"
        self.bind(lambda s: (s.plan, s.not_promoted), self._show_where)
        self.bind(lambda s: (s.checksets, s.monitor_total), self._show_checks)
        self.bind(lambda s: (gate_part(s), s.checksets), self._show_verdict)

    def on_resize(self) -> None:
        self._show_checks(self.wizard_state)  # the summaries are cut to the new width

    def _show_where(self, state: WizardState) -> None:
        if state.plan is not None:
            where, keep = where_text(state)
            self.query_one(TitleBar).set_where(where + " · live", keep=keep)

    def _show_verdict(self, state: WizardState) -> None:
        self.query_one("#verdict", Static).update(
            Fitted(lambda w: Text.assemble(round_problems(state), gate_text(state, w)))
        )

    def _show_checks(self, state: WizardState) -> None:
        table = self.query_one("#checks", DataTable)
        table.border_title = checks_title(state)
        columns = check_columns(state)
        table.clear(columns=True)
        table.add_column("check", key="name")
        for label, _cs in columns:
            table.add_column(label, key=label)
        names: list[str] = []
        for _label, cs in columns:
            names += [r.name for r in cs.results if r.name not in names and r.status != "skip"]
        room = _summary_room(table, names, [label for label, _cs in columns])
        table.add_column("summary", key="summary", width=room)
        for name in names:
            cells: list[Text | str] = [name]
            for _label, cs in columns:
                r = cs.get(name)
                mark, style = STATUS[r.status] if r is not None else ("·", "dim")
                cells.append(Text(mark, style=style))
            summary = _summary(name, columns)
            if room is not None:  # cut with "…" where the box ends, not mid-word at its border
                summary.truncate(room, overflow="ellipsis")
            cells.append(summary)
            table.add_row(*cells)
        runs = [r for c in state.checksets for r in c.results if r.name == "performance"]
        all_samples = [s for r in runs for s in r.samples]
        sparkline = self.query_one("#samples", Sparkline)
        sparkline.data = all_samples
        sparkline.display = bool(all_samples)  # no samples: no line (a flat one would read as a result)
        self.query_one("#perf-label", Static).update(samples_label(all_samples, runs[-1] if runs else None))
        errors = [
            e
            for cs in state.checksets
            for r in cs.results
            if r.name == "error-logs" and cs.phase in ("live", "monitor")
            for e in r.details.get("new_errors", []) or r.details.get("new", [])
        ]
        self.query_one("#errors", Static).update(
            Text("\n".join(errors[:6]), style="red") if errors else Text("none", style="dim")
        )


def samples_label(samples: list[float], last: CheckResult | None) -> str:
    """The line above the sparkline: the samples' figures, or why there are none (the benchmark
    check says it when no benchmark is configured: it is skipped, in every phase)."""
    if samples:
        low, high = min(samples), max(samples)
        return f"{len(samples)} samples · last {samples[-1]:.3g} · min {low:.3g} · max {high:.3g}"
    if last is not None and last.status == "skip":
        return last.summary  # "no benchmark-command configured"
    return "no benchmark samples yet"


def check_columns(state: WizardState) -> list[tuple[str, CheckSet]]:
    """One column per check set shown: the checks on live, then each monitoring round (1, 2, …)."""
    columns: list[tuple[str, CheckSet]] = []
    live = [c for c in state.checksets if c.phase == "live"]
    if live:
        columns.append(("live", live[-1]))
    columns += [(str(n), cs) for n, cs in enumerate(state.monitor_rounds, 1)]
    return columns


def checks_title(state: WizardState) -> str:
    rounds = len(state.monitor_rounds)
    if rounds:
        total = state.monitor_total
        of = f" of {total}" if total >= rounds else ""
        return f"Checks · monitoring round {rounds}{of}"
    if any(c.phase == "live" for c in state.checksets):
        return "Checks · on live"
    return "Checks · none yet"


def round_problems(state: WizardState) -> Text:
    """Which monitoring round failed, and which check: one line each, above the verdict."""
    out = Text()
    total = state.monitor_total
    for n, cs in enumerate(state.monitor_rounds, 1):
        for r in cs.failed:
            of = f" of {total}" if total >= n else ""
            out.append(f"✘ round {n}{of}: {r.name} — {r.summary}\n", style="red")
    return out


def _summary_room(table: DataTable[str | Text], names: list[str], labels: list[str]) -> int | None:
    """The summary column's width: what the table's box leaves after the other columns (each with
    its padding) and room for a scroll bar; None before the box has a size, or when too little
    is left (then the table scrolls sideways)."""
    width = table.scrollable_content_region.width
    pad = 2 * table.cell_padding
    used = max([len("check"), *map(len, names)]) + pad + sum(max(1, len(label)) + pad for label in labels)
    room = width - used - pad - 1
    return room if width and room >= 12 else None


def _summary(name: str, columns: list[tuple[str, CheckSet]]) -> Text:
    """The check's latest summary, or where it failed (the last failure) when it failed."""
    failed = [(label, r) for label, cs in columns if (r := cs.get(name)) is not None and r.failed]
    if failed:
        label, r = failed[-1]
        where = "on live" if label == "live" else f"round {label}"
        return Text(f"{where}: {r.summary}", style="red")
    latest = next((r for _label, cs in reversed(columns) if (r := cs.get(name)) is not None), None)
    return Text(latest.summary if latest is not None else "")
