"""The decision the flow is waiting for, with the key for each choice."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from rich.text import Text

if TYPE_CHECKING:
    from oxwizard.flow import Question

DETAIL_LINES = 6  # at most this many lines of detail under a question (80x24 leaves no more)

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
}
CHOICE_LABELS = {
    "go": "go — upgrade in staging, then live",
    "wait": 'wait — record "not now"',
    "keep": "keep the current version",
    "retry": "retry the checks",
    "rollback": "roll back to the checkpoint",
    "acknowledge": "acknowledge and continue",
    "stop": "stop here",
    "success": "declare success",
}

SHORT_LABELS = {**CHOICE_LABELS, "keep": "keep current version", "retry": "retry", "rollback": "roll back"}


def render_question(question: Question, width: int = 78) -> Text:
    out = Text()
    out.append("▶ ", style="bold yellow")
    out.append(question.text, style="bold")
    if question.detail:
        # wrapped, not cut: two warnings that differ only in their source file must both be readable
        wrapped = [
            part
            for line in question.detail.splitlines()
            for part in textwrap.wrap(line, max(10, width - 4), subsequent_indent="  ") or [""]
        ]
        if len(wrapped) > DETAIL_LINES:
            wrapped = [
                *wrapped[: DETAIL_LINES - 1],
                f"… {len(wrapped) - DETAIL_LINES + 1} more line(s) in the output log",
            ]
        for line in wrapped:
            out.append("\n  " + line, style="dim")
    pieces = _choices(question, CHOICE_LABELS)
    one_line = sum(p.cell_len + 3 for p in pieces) + 2 <= width
    if not one_line:  # short labels on one line leave the lines above for the reasons
        pieces = _choices(question, SHORT_LABELS)
        one_line = sum(p.cell_len + 3 for p in pieces) + 2 <= width
    for n, piece in enumerate(pieces):
        out.append("   " if one_line and n else "\n  ")
        out.append_text(piece)
    return out


def _choices(question: Question, labels: dict[str, str]) -> list[Text]:
    pieces = []
    for choice in question.choices:
        piece = Text(f"[{CHOICE_KEYS.get(choice, '?')}]", style="bold reverse")
        label = labels.get(choice, choice)
        piece.append(f" {label}{' (default)' if choice == question.default else ''}")
        pieces.append(piece)
    return pieces
