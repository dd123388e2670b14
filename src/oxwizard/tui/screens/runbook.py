"""``l``: the runbook so far — the git log of decisions in PROJECT/.oxwizard, newest first."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from oxwizard.tui.messages import RunbookRead
from oxwizard.tui.widgets.keybar import KeyBar


class RunbookScreen(ModalScreen[None]):
    CSS_PATH = "modal.tcss"
    BINDINGS = [Binding("escape,l,q", "close", "Close", id="runbook-close")]

    def __init__(self, project: Path) -> None:
        super().__init__()
        self.project = project

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(f"Runbook · {self.project.name}/.oxwizard", classes="dialog-title")
            with VerticalScroll(id="runbook-log"):
                yield Static("reading…", id="runbook-lines")
            yield Static("[b]escape[/b] close", classes="dialog-keys")
        yield KeyBar(id="keys")  # the dialog's keys, over the page's

    def on_mount(self) -> None:
        self.read_log()

    @work(thread=True, exclusive=True, exit_on_error=False, group="runbook")
    def read_log(self) -> None:
        from oxwizard.tui.tasks import read_runbook_log

        self.post_message(RunbookRead(read_runbook_log(self.project)))

    def on_runbook_read(self, msg: RunbookRead) -> None:
        out = Text()
        for entry in msg.entries:
            out.append(entry.sha + " ", style="yellow")
            out.append(entry.message + "\n")
        if not msg.entries:
            out.append("No decisions recorded yet.", style="dim")
        self.query_one("#runbook-lines", Static).update(out)

    def action_close(self) -> None:
        self.dismiss(None)
