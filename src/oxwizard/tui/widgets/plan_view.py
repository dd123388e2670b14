"""The plan as the user reads it: every change from → to with impact, Requires-Python, pip check,
security before/after, and the risk summary with its recommendation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.widgets import Static

from oxwizard.tui.widgets.fit import Fitted
from oxwizard.tui.widgets.project_files import RISK_STYLE, render_project_files
from oxwizard.tui.widgets.target_row import IMPACT_STYLE

if TYPE_CHECKING:
    from oxwizard.env.plan import Plan

COLUMNS_FROM = 40  # from this width on, the changes are aligned in columns
NAME_WIDTH = 14


def render_plan(
    plan: Plan, risk: Any = None, security: Any = None, width: int | None = None, *, pins: bool | None = None
) -> Text:
    """The plan for a box ``width`` cells wide; without ``width``, laid out again for whatever
    width it is shown at. From 40 cells the changes are aligned in columns (name, from → to,
    impact); narrower, each is a compact line that wraps at word boundaries."""
    if width is None:
        return Fitted(lambda w: render_plan(plan, risk, security, w, pins=pins))
    out = Text()
    if plan.is_empty:
        out.append(f"{', '.join(plan.targets)}: nothing to change (already satisfied)\n", style="bold")
        for why in plan.project_files.undone if plan.project_files is not None else []:
            out.append(f"⚠ but {why}\n", style="yellow")  # installed by hand: the project's files undo it
        return out
    columns = width >= COLUMNS_FROM
    pad = min(NAME_WIDTH, max(len(c.name) for c in plan.changes)) if columns else 0
    from_pad = max(len(c.from_version or "new") for c in plan.changes) if columns else 0
    for c in plan.changes:
        line = Text(f"{c.name:<{pad}} ")
        line.append(f"{c.from_version or 'new':>{from_pad}} → {c.to_version or 'removed'} ")
        line.append(c.impact.upper(), style=IMPACT_STYLE.get(c.impact, "bold"))
        if c.yanked:
            line.append("  YANKED", style="bold red")
        out.append_text(line)
        out.append("\n")
    from oxwizard.checks.risk import cleared_reason, rewritten  # the engine is loaded once there is a plan

    cleared = list(getattr(risk, "cleared", []) or [])  # the project's own, rewritten with the upgrade
    # the decision first, right under the changes (in a narrow box the rest is below the fold), then
    # its reasons
    if risk is not None:
        level = str(getattr(risk, "level", "?"))
        out.append("Risk: ")
        out.append(level.upper(), style=RISK_STYLE.get(level.lower(), "bold"))
        out.append("\n")
        out.append(f"Recommendation: {getattr(risk, 'recommendation', '')}\n", style="bold")
        shown = {r.sentence() for r in plan.resolutions[:1]}  # said below, with its key
        undone = plan.project_files.undone if plan.project_files is not None else []
        shown |= {*undone, *map(rewritten, undone), *map(cleared_reason, cleared)}  # likewise
        reasons = [r for r in list(getattr(risk, "reasons", []) or []) if r not in shown]
        if reasons:
            out.append("Why: " + "; ".join(str(r) for r in reasons) + "\n")
    bad_rp = [c for c in plan.changes if not c.requires_python_ok]
    if bad_rp:
        for c in bad_rp:
            out.append(f"✘ Requires-Python {c.requires_python} ({c.name})\n", style="bold red")
    else:
        rps = sorted({c.requires_python for c in plan.changes if c.requires_python})
        out.append(
            f"✔ Requires-Python ok (Python {plan.python_version}" + (f"; {', '.join(rps)}" if rps else "")
        )
        out.append(")\n")
    left = [p for p in plan.pip_check_after if p not in cleared]
    before = "ok" if not plan.pip_check_before else f"{len(plan.pip_check_before)} problem(s)"
    after = "ok" if not left else f"{len(left)} problem(s)"
    out.append(
        f"{'✔' if not left else '✘'} pip check: now {before}, after {after}\n", style="red" if left else ""
    )
    for problem in left[:3]:
        out.append(f"    {problem}\n", style="red")
    for problem in cleared[:3]:
        out.append(f"    {cleared_reason(problem)}\n", style="dim")
    for resolution in plan.resolutions[:1]:  # the one the prepare screen's "a" adds
        out.append(f"✚ {resolution.sentence()} (a)\n", style="bold")
    out.append_text(render_project_files(plan.project_files, risk, pins))
    if security is not None:
        fixes, introduces = list(security.fixes), list(security.introduces)
        style = "red" if introduces else "green" if fixes else ""
        out.append(f"Security: fixes {len(fixes)} · introduces {len(introduces)}", style=style)
        out.append(
            f"{' (' + ', '.join(fixes + introduces) + ')' if fixes or introduces else ''}\n", style=style
        )
    return out


def describe(obj: Any) -> str:
    """One line for an engine report that may offer ``summary`` as a method or a field."""
    summary = getattr(obj, "summary", None)
    if callable(summary):
        return str(summary())
    if summary is not None:
        return str(summary)
    return str(obj)


class PlanView(Static):
    """The plan, or a hint of what to do to get one."""
