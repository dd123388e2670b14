"""A unified diff as the user reads it: file headers bold, added lines green, removed lines red, hunk
headers dim; scrollable with the keyboard (arrows, page up / down, home / end) in both directions,
so a long requirement line (a URL, a marker) is never cut."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import ScrollableContainer
from textual.widgets import Static

STYLES = {
    "header": "bold",
    "hunk": "dim cyan",
    "add": "green",
    "remove": "red",
    "note": "dim italic",
    "context": "",
}


@dataclass(frozen=True)
class DiffStats:
    """What a diff changes: its files, and the lines it adds and removes."""

    files: tuple[str, ...]
    added: int
    removed: int

    def line(self) -> str:
        """``requirements.txt, pyproject.toml: +2 -2 lines``."""
        if not self.files:
            return "no changes"
        return f"{', '.join(self.files)}: +{self.added} -{self.removed} lines"


def kind(line: str) -> str:
    """Which part of a unified diff ``line`` is (a key of :data:`STYLES`)."""
    if line.startswith(("--- ", "+++ ", "diff ", "index ")):
        return "header"
    if line.startswith("@@"):
        return "hunk"
    if line.startswith("+"):
        return "add"
    if line.startswith("-"):
        return "remove"
    if line.startswith("\\"):
        return "note"  # "\ No newline at end of file"
    return "context"


def render_diff(diff: str) -> Text:
    """The diff, one styled line per line of it (line endings, ``\\r`` included, are not shown)."""
    out = Text(no_wrap=True, overflow="ignore")
    for i, line in enumerate(diff.splitlines()):
        if i:
            out.append("\n")
        out.append(line.rstrip("\r"), style=STYLES[kind(line)])
    return out


def diff_stats(diff: str) -> DiffStats:
    """The files a diff changes (from its ``+++ b/…`` headers) and its added and removed lines."""
    files: list[str] = []
    added = removed = 0
    for line in diff.splitlines():
        k = kind(line)
        if k == "header" and line.startswith("+++ "):
            name = line[4:].split("\t", 1)[0]
            files.append(name[2:] if name.startswith("b/") else name)
        elif k == "add":
            added += 1
        elif k == "remove":
            removed += 1
    return DiffStats(tuple(files), added, removed)


class DiffView(ScrollableContainer, can_focus=True):
    """A unified diff in a scrollable box (it takes the keyboard focus to scroll)."""

    DEFAULT_CSS = """
    DiffView {
        height: 1fr;
        scrollbar-size-vertical: 1;
        scrollbar-size-horizontal: 1;
    }
    DiffView > Static {
        width: auto;
    }
    """

    def __init__(self, diff: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.diff = diff

    def compose(self) -> ComposeResult:
        yield Static(render_diff(self.diff) if self.diff else Text("(no line edits)", style="dim"))
