"""A yes/no confirmation (``ModalScreen[bool]``): ``y``/enter confirms, ``n``/escape declines."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from oxwizard.tui.widgets.keybar import KeyBar


class ConfirmScreen(ModalScreen[bool]):
    CSS_PATH = "modal.tcss"
    BINDINGS = [
        Binding("y,enter", "choose(True)", "Yes", id="confirm-yes"),
        Binding("n,escape", "choose(False)", "No", id="confirm-no"),
    ]

    def __init__(self, text: str, *, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.text, self.yes, self.no = text, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.text, classes="dialog-body")
            yield Static(f"[b]\\[y][/b] {self.yes}    [b]\\[n][/b] {self.no}", classes="dialog-keys")
        yield KeyBar(id="keys")  # the dialog's keys, over the page's

    def action_choose(self, value: bool) -> None:
        self.dismiss(value)
