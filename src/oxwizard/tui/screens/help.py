"""``?``: the screens, the keys, resume and rollback, in one page."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from oxwizard.tui.widgets.keybar import KeyBar

HELP = """\
plan → checkpoint → staging clone → install in staging → checks →
promote to live → checks on live → monitoring → verdict.
Every answer is one commit in PROJECT/.oxwizard (see it with [b]l[/b]).

[b]1 Prepare[/b]  [b]/[/b] filter, or type a spec (oxzep7==1.5.0) and ⏎
           [b]space[/b] pick · [b]p[/b] plan · [b]c[/b] checkpoint, staging, baseline
           [b]g[/b] go · [b]w[/b] wait (records "not now")
[b]2 Execute[/b]  steps and live output; a failed gate offers
           [b]R[/b] roll back · [b]k[/b] keep · [b]t[/b] retry
           new warnings: [b]a[/b] acknowledge · [b]x[/b] stop
[b]3 Monitor[/b]  checks per round, benchmark sparkline, new log errors
           [b]s[/b] declare success · [b]R[/b] roll back

[b]R[/b]       roll back to the checkpoint, from any screen, verified
        (in the key bar once a checkpoint exists and live can differ
        from it; during a running step it stops that step at once:
        in staging live was never changed, on live it is restored)
        older checkpoints: [b]oxwizard checkpoints[/b], then
        [b]oxwizard rollback --to ID[/b]
[b]l[/b]       the runbook so far     [b]1 2 3[/b]   switch screens
[b]ctrl+p[/b]  command palette        [b]?[/b]       this help
[b]q[/b]       quit (asks first while an upgrade runs; the next start
        offers to resume or to roll back)
"""


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "modal.tcss"
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close", id="help-close")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static("Help", classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(HELP)
            yield Static("[b]escape[/b] close", classes="dialog-keys")
        yield KeyBar(id="keys")  # the dialog's keys, over the page's

    def action_close(self) -> None:
        self.dismiss(None)
