"""``?``: every step in plain words, the keys, and the few words of ours that show on screen.

The steps and their explanations come from the step table (:mod:`oxwizard.flow.steps`), the same one
the checklists read, so the help names each step exactly as the screens do. The page is laid out
for the width it is shown at: a column of names and their explanations wrapped beside them, or
under them when the dialog is narrow.
"""

from __future__ import annotations

import textwrap

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from oxwizard.flow.steps import TABLE
from oxwizard.tui.widgets.fit import Fitted
from oxwizard.tui.widgets.keybar import KeyBar

SCREENS = (("prepare", "1 Prepare"), ("execute", "2 Execute"), ("monitor", "3 Monitor"))

KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    "prepare": (
        ("/", "filter the packages, or type a spec (name==version; the filter shows one of this "
              "environment's) and ⏎"),
        ("space", "pick the highlighted package (several can be picked)"),
        ("A", "pick every outdated package shown (again: none)"),
        ("p", "show the plan: what would change (nothing is installed)"),
        ("a", "add the targets that clear a predicted pip check problem, and plan again (in the key "
              "bar when the plan names some)"),
        ("u", "write the upgrade into the project files or not (in the key bar when the plan changes "
              "them): on a new branch, after the checks in the staging copy, the diff shown first"),
        ("c", "stage & test: checkpoint, staging copy, checks before"),
        ("g  w", 'go (upgrade) or wait (recorded as "not now")'),
    ),
    "execute": (
        ("a  x", "acknowledge the new warnings and install on live, or stop"),
        ("k", "keep the current version (live was never touched)"),
        ("t", "run the checks again"),
        ("w  s", "write the project files on the branch, or skip (escape): the diff is shown first; "
                 "arrows and page up / down scroll it"),
        ("o  x", "after the culprit search: install the targets that passed on live, or stop"),
        ("d", "details: the question's whole reason (every failed check, every newly failing test, "
              "what the plan predicted) on a page of its own, wrapped; escape, d or q go back, the "
              "question's keys answer it from there and R rolls back (in the key bar when checks failed, "
              "or the reason is longer than its lines)"),
    ),
    "monitor": (("s", "declare success and keep the upgrade"),),
    "": (
        ("R", "roll back to the checkpoint, from any screen, verified file by file (in the key bar "
              "once a checkpoint exists and live can differ from it). While a step runs it stops that "
              "step at once: in the staging copy live was never changed; on live it is restored"),
        ("", "older checkpoints: oxwizard checkpoints, then oxwizard rollback --to ID"),
        ("l", "the runbook: every decision so far, newest first"),
        ("1 2 3", "switch screens"),
        ("ctrl+p", "command palette"),
        ("?", "this help"),
        ("q", "quit (asks first while an upgrade runs; the next start offers to resume or roll back)"),
    ),
}  # fmt: skip

# Our words that can show on screen (in check names, messages and the runbook), in plain words.
WORDS = (
    ("live", "your real environment, the one your project runs with"),
    ("staging", "the throwaway copy of it where the upgrade is tried first"),
    ("gate", "the checks an upgrade must pass before it goes on (in the copy, then on live)"),
    ("promote", "install on live: the install that passed in the copy, done on your real environment"),
    ("baseline", "the checks on the current version, before the upgrade, to compare against"),
    (
        "import-smoke",
        "a check: the upgraded packages, their dependents and what your code imports of them "
        "still import, each in a fresh interpreter; failing before too is not blamed",
    ),
    ("pip-check", "a check: pip's own test that every package's requirements are installed"),
    ("error-logs", "a check: new error lines in your project's log files"),
    ("fingerprint", "a hash of the environment's file list: a different one means it changed"),
    ("runbook", "the record of every decision, one git commit each, in PROJECT/.oxwizard"),
)


def help_text(width: int = 72) -> Text:
    """The help page for a dialog ``width`` cells wide (inside its padding)."""
    width = max(30, width)
    names = [s.label for s in TABLE] + [k for rows in KEYS.values() for k, _ in rows] + [w for w, _ in WORDS]
    column = max(len(n) for n in names) + 2
    beside = width - column >= 30
    out = Text()
    out.append("An upgrade, step by step\n", style="bold")
    out.append(
        "\n".join(
            textwrap.wrap("Every answer you give is one git commit in the runbook (l shows them).", width)
        )
    )
    out.append("\n")
    for screen, title in SCREENS:
        out.append(f"\n{title}\n", style="bold")
        steps = [s for s in TABLE if s.screen == screen and s.name != "rollback"]
        _rows(out, [(s.label, s.explain) for s in steps], width, column, beside)
        out.append("keys\n", style="dim")
        _rows(out, list(KEYS[screen]), width, column, beside, key=True)
    out.append("\nEverywhere\n", style="bold")
    _rows(out, list(KEYS[""]), width, column, beside, key=True)
    rollback = next(s for s in TABLE if s.name == "rollback")
    _rows(out, [(rollback.label, rollback.explain)], width, column, beside)
    out.append("\nWords you may meet\n", style="bold")
    _rows(out, list(WORDS), width, column, beside)
    out.rstrip()
    return out


def _rows(
    out: Text, rows: list[tuple[str, str]], width: int, column: int, beside: bool, *, key: bool = False
) -> None:
    indent = " " * (column if beside else 4)
    for name, explain in rows:
        lines = textwrap.wrap(explain, width - len(indent), break_on_hyphens=False) or [""]
        out.append(name if not beside else f"{name:<{column}}", style="bold" if key else "")
        if beside:
            out.append(lines[0] + "\n")
            lines = lines[1:]
        else:
            out.append("\n")
        for line in lines:
            out.append(indent + line + "\n")


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "modal.tcss"
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close", id="help-close")]
    # the dialog takes the whole screen when it is small (see modal.tcss)
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (80, "-normal"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (24, "-normal-height"), (40, "-tall")]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="help"):
            yield Static("Help", classes="dialog-title")
            with VerticalScroll(classes="dialog-body"):
                yield Static(Fitted(help_text))
            yield Static("[b]↑ ↓[/b] scroll   [b]escape[/b] close", classes="dialog-keys")
        yield KeyBar(id="keys")  # the dialog's keys, over the page's

    def action_close(self) -> None:
        self.dismiss(None)
