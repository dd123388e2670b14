"""How the project is managed, and what the plan would change in its files, as Prepare shows them.

One line in the facts (``managed by requirements (requirements.txt), pyproject …``, shorter when the
box is narrow) and a short part of the plan panel: how many lines of which files the upgrade would
change, whether they will be written (``u``), and — in the risk's colour — what would undo the
upgrade if they are not ("uv.lock pins rich 13.7.0: `uv sync` would undo this upgrade").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.text import Text

from oxwizard.tui.widgets.fit import shorten

if TYPE_CHECKING:
    from oxwizard.env.project_files import Manager, ProjectFiles

RISK_STYLE = {"low": "green", "medium": "yellow", "high": "bold red"}


def managed_text(managers: Sequence[Manager], width: int) -> Text:
    """``managed by …`` in at most ``width`` cells: every manager with what it reads, else only
    the files, else the files cut at a word."""
    if not managers:
        return Text("no dependency files found", style="dim")
    full = "managed by " + ", ".join(m.label() for m in managers)
    if len(full) <= width:
        return Text(full)
    files = list(dict.fromkeys(f for m in managers for f in m.files))
    return Text(shorten("managed by " + ", ".join(files), width))


def has_edits(files: ProjectFiles | None) -> bool:
    """The plan changes the project's files (lines to edit or a lockfile to regenerate)."""
    return files is not None and bool(files.edits or files.regenerate)


def files_summary(files: ProjectFiles) -> str:
    """``1 line in requirements.txt, 2 in pyproject.toml; uv.lock by uv``: each lockfile by what will
    regenerate it (``requirements.txt by uv pip compile (for pip-compile)`` when pip-compile is not
    installed and uv stands in)."""
    lines = Counter(e.path for e in files.edits)
    parts = [f"{n} line{'s' if n > 1 else ''} in {path}" if i == 0 else f"{n} in {path}"
             for i, (path, n) in enumerate(lines.items())]  # fmt: skip
    text = ", ".join(parts)
    regen = ", ".join(
        f"{r.path} by {r.stand_in} (for {r.tool})" if r.stand_in else f"{r.path} by {r.tool}"
        for r in files.regenerate
    )
    return "; ".join(p for p in (text, regen) if p)


def render_project_files(files: ProjectFiles | None, risk: Any, pins: bool | None) -> Text:
    """The plan panel's part about the project files (empty when the plan changes none and nothing
    would undo it). ``pins``: whether they will be written (None: not for the user to choose)."""
    out = Text()
    if files is None or not (has_edits(files) or files.undone):
        return out
    if has_edits(files):
        out.append("Files: ", style="bold")
        out.append(files_summary(files))
        if pins is not None:
            out.append(", written on a branch (u)" if pins else ", not written (u)",
                       style="green" if pins else "dim")  # fmt: skip
        out.append("\n")
    level = str(getattr(risk, "level", "medium")).lower()
    from oxwizard.checks.risk import rewritten  # the engine is loaded once there is a plan

    for sentence in files.undone:
        if pins:  # the branch rewrites what would undo it
            out.append(f"✔ {rewritten(sentence)}\n", style="green")
        else:
            out.append(f"⚠ {sentence}\n", style=RISK_STYLE.get(level, "yellow"))
    return out
