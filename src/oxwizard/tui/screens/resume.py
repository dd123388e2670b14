"""At start, when the newest runbook is unfinished: resume it, roll back, start a new upgrade, or
decide later (esc: the next start offers it again). ``l``, ``?`` and ``q`` work over it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from oxwizard.tui.screens.base import app_keys
from oxwizard.tui.widgets.keybar import KeyBar

if TYPE_CHECKING:
    from oxwizard.flow.upgrade import ResumeInfo


class ResumeScreen(ModalScreen[str]):
    CSS_PATH = "modal.tcss"
    BINDINGS = [
        Binding("r", "choose('resume')", "Resume", id="resume"),
        Binding("R", "choose('rollback')", "Roll back", id="resume-rollback"),
        Binding("n", "choose('new')", "New upgrade", id="resume-new"),
        # later: the dialog closes and nothing is recorded, the next start offers the run again
        Binding("escape", "choose('later')", "Later", id="resume-later", key_display="esc"),
        *app_keys("resume", rollback=False),  # R is the dialog's own (above)
        Binding("q", "app.quit", "Quit", id="resume-quit"),
    ]

    def __init__(self, info: ResumeInfo) -> None:
        super().__init__()
        self.info = info

    def compose(self) -> ComposeResult:
        from oxwizard.flow.upgrade import done_on_live

        rb = self.info.runbook
        last = rb.decisions[-1]
        # what was done on live, as the runbook's decisions say (checks, rounds), not a guess
        where = (
            f"Live HAS the new versions: {done_on_live(rb)}."
            if self.info.live_touched
            else "Live was not changed."
        )
        body = (
            f"The last upgrade did not finish: [b]{', '.join(rb.targets)}[/b]\n"
            f"runbook {rb.id} · last step [b]{self.info.last_step}[/b]: {last.answer}\n"
            f"checkpoint {self.info.checkpoint_id or 'none'} · {where}"
        )
        resume = (
            "checks on live, monitoring, verdict" if self.info.live_touched else "plan the same targets again"
        )
        keys = f"[b]\\[r][/b] resume ({resume})"
        if self.info.checkpoint_id and self.info.live_touched:
            keys += "\n[b]\\[R][/b] roll back to the checkpoint"
        keys += "\n[b]\\[n][/b] leave it and start a new upgrade"
        keys += "\n[b]\\[esc][/b] later: the next start offers it again"
        with Vertical(classes="dialog"):
            yield Static("Unfinished upgrade", classes="dialog-title")
            yield Static(body, classes="dialog-body")
            yield Static(keys, classes="dialog-keys")
        yield KeyBar(id="keys")  # the dialog's keys, over the page's

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose" and parameters and parameters[0] == "rollback":
            # live was not changed: it already matches the checkpoint, there is nothing to roll back
            return self.info.checkpoint_id is not None and self.info.live_touched
        return True

    def action_choose(self, choice: str) -> None:
        self.dismiss(choice)
