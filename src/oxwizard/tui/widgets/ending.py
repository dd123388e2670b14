"""How the upgrade on screen ended, in the same words on every screen (Prepare's readiness, the line
under Execute's steps, Monitor's verdict).

A rollback is the last word on live: once one is verified (at a question, or with ``R`` after the
flow ended, or after an unfinished upgrade was left as it was), the screens say "rolled-back" and
nothing else, not also the upgrade it undid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

if TYPE_CHECKING:
    from oxwizard.tui.state import WizardState


def ending_text(state: WizardState) -> Text:
    """``■ rolled-back: …``, ``■ upgraded: …``, ``✘ stopped: …``; empty while nothing ended."""
    out = Text()
    rolled, outcome = state.rollback_result, state.outcome
    ok = rolled.startswith("✔")
    if rolled and not state.flow_error and (ok or (outcome is not None and outcome.status == "rolled-back")):
        # one line says what happened: the verified rollback is how it ended, whatever came before
        out.append(f"■ rolled-back: {rolled[2:]}", style="bold green" if ok else "bold red")
        return out
    if rolled:  # a rollback that failed after the flow ended, or before it failed: both are said
        out.append(f"■ rollback: {rolled}", style="bold red" if not ok else "bold")
    if state.flow_error:
        out.append("\n" if out else "")
        out.append(f"✘ stopped: {state.flow_error}", style="bold red")
    elif outcome is not None:
        out.append("\n" if out else "")
        style = "bold green" if outcome.exit_code == 0 else "bold red"
        out.append(f"■ {outcome.status}: {outcome.message}", style=style)
    return out
