"""The decision the flow is waiting for, with the key for each choice.

Laid out for the width it is shown at (see :mod:`oxwizard.tui.widgets.fit`): the choices with their
full labels on one line when they fit, else short labels on one line, else as many choices per line
as fit — a choice is never split between two lines, and a word never cut.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from rich.text import Text

from oxwizard.flow.steps import CHOICE_LABELS
from oxwizard.tui.widgets.fit import Fitted

if TYPE_CHECKING:
    from oxwizard.flow.upgrade import Question

DETAIL_LINES = 6  # at most this many lines of detail under a question (80x24 leaves no more)
TEXT_LINES = 3  # and of the question itself (an upgrade of many packages names each change)
MORE = " … d shows it all"
# questions asked because checks failed: their reasons are worth the whole page (``d``) at any length
FAILED_GATES = ("checks-staging", "checks-live", "promote-set")
INDENT = "  "
GAP = "   "

# One key per answer the flow can ask for; "rollback" is the one rollback key.
CHOICE_KEYS = {
    "go": "g",
    "wait": "w",
    "keep": "k",
    "retry": "t",
    "rollback": "R",
    "acknowledge": "a",
    "stop": "x",
    "success": "s",
    "write": "w",  # the project files (the pins step): never asked together with wait
    "skip": "s",  # ... nor with success
    "promote": "o",
}
SHORT_LABELS = {
    **CHOICE_LABELS,
    "go": "go",
    "wait": "wait",
    "keep": "keep current version",
    "retry": "retry",
    "rollback": "roll back",
    "acknowledge": "acknowledge",
    "stop": "stop",
    "success": "declare success",
    "write": "write files",
    "skip": "skip",
    "promote": "promote",
}
# The same answer means something else at another step: after checks failed on live, live already
# has the new version, and "keep" keeps it.
STEP_LABELS = {
    ("checks-live", "keep"): ("keep the new version anyway", "keep new version"),
}


def render_question(question: Question, width: int | None = None) -> Text:
    """The question, its detail (wrapped, at most :data:`DETAIL_LINES` lines) and its choices.
    Without ``width``, laid out again for whatever width it is shown at."""
    if width is None:
        return Fitted(lambda w: render_question(question, w))
    width = max(20, width)
    out = Text()
    out.append("▶ ", style="bold yellow")
    # wrapped here, with the lines after the first under its first word
    out.append(f"\n{INDENT}".join(_text_lines(question.text, width - len(INDENT))), style="bold")
    if question.detail:
        wrapped = wrap_detail(question.detail, width - len(INDENT))
        if len(wrapped) > DETAIL_LINES:
            wrapped = [
                *wrapped[: DETAIL_LINES - 1],
                f"… {len(wrapped) - DETAIL_LINES + 1} more line(s) in the output log; d shows them all",
            ]
        for line in wrapped:
            out.append("\n" + INDENT + line, style="dim")
    for choices in choice_lines(question, width):
        out.append("\n")
        out.append_text(choices)
    return out


def _text_lines(text: str, width: int) -> list[str]:
    """The question wrapped to ``width``, at most :data:`TEXT_LINES` lines: a longer one ends, at a
    word, with "… d shows it all" (the details page shows the whole of it)."""
    lines = textwrap.wrap(text, width) or [""]
    if len(lines) <= TEXT_LINES:
        return lines
    last = textwrap.wrap(lines[TEXT_LINES - 1], max(10, width - len(MORE)))[0]
    return [*lines[: TEXT_LINES - 1], last + MORE]


def wrap_detail(detail: str, width: int) -> list[str]:
    """The detail's lines wrapped to ``width`` cells, each continuation indented by two: wrapped,
    not cut, so that two warnings that differ only in their source file are both readable."""
    return [
        part
        for line in detail.splitlines()
        for part in textwrap.wrap(line, max(10, width - 2), subsequent_indent="  ") or [""]
    ]


def has_details(question: Question | None, width: int) -> bool:
    """``d`` has something to show: the detail of a failed gate, or one longer than the lines a
    question shows of it at ``width`` columns, or a question longer than its own lines."""
    if question is None:
        return False
    if len(textwrap.wrap(question.text, width - len(INDENT))) > TEXT_LINES:
        return True  # the question itself is cut
    if not question.detail:
        return False
    return question.step in FAILED_GATES or len(wrap_detail(question.detail, width)) > DETAIL_LINES


def choice_lines(question: Question, width: int) -> list[Text]:
    """The choices as lines of at most ``width`` cells (indented by two)."""
    room = width - len(INDENT)
    for short in (False, True):
        pieces = [_piece(key, label) for key, label in _choices(question, short)]
        if sum(p.cell_len for p in pieces) + len(GAP) * (len(pieces) - 1) <= room:
            return [Text(INDENT) + Text(GAP).join(pieces)]
    lines: list[Text] = []
    line = Text()
    for key, label in _choices(question, True):
        piece = _piece(key, label)
        if line and line.cell_len + len(GAP) + piece.cell_len > room:
            lines.append(line)
            line = Text()
        if piece.cell_len > room:  # one choice wider than the line: its words wrap under its label
            first, *rest = textwrap.wrap(label, max(8, room - len(key) - 3)) or [""]
            lines.append(_piece(key, first))
            lines.extend(Text(" " * (len(key) + 3) + more) for more in rest)
            continue
        if line:
            line.append(GAP)
        line.append_text(piece)
    if line:
        lines.append(line)
    return [Text(INDENT) + line for line in lines]


def _piece(key: str, label: str) -> Text:
    out = Text(f"[{key}]", style="bold reverse")
    out.append(f" {label}")
    return out


def _choices(question: Question, short: bool) -> list[tuple[str, str]]:
    """(key, label) for each choice, the default marked."""
    out = []
    for choice in question.choices:
        labels = STEP_LABELS.get((question.step, choice))
        if labels is not None:
            label = labels[1] if short else labels[0]
        else:
            label = (SHORT_LABELS if short else CHOICE_LABELS).get(choice, choice)
        out.append(
            (CHOICE_KEYS.get(choice, "?"), label + (" (default)" if choice == question.default else ""))
        )
    return out
