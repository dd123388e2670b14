"""The risk summary: "when should you NOT upgrade", with a recommendation and its reasons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from oxwizard.checks.result import CheckSet
from oxwizard.checks.security import SecurityReport
from oxwizard.env.plan import Plan


class RiskSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Literal["low", "medium", "high"]
    # "install now": low, and every requested change adds a package the environment does not have
    recommendation: Literal["upgrade now", "install now", "stage and test first", "wait"]
    reasons: list[str] = Field(default_factory=list)
    # the pip check problems predicted after that the project files' edits clear (see assess)
    cleared: list[str] = Field(default_factory=list)


def rewritten(sentence: str) -> str:
    """A reason the project's files would undo the upgrade, when the upgrade rewrites them."""
    return f"{sentence} (the upgrade rewrites it)"


def cleared_reason(problem: str) -> str:
    """A pip check problem predicted after that is the project's own old requirement, rewritten."""
    return f"the project's own old requirement, which the upgrade rewrites: {problem}"


def downgrade_reason(name: str, installed: str, wanted: str) -> str:
    """A downgrade: the project's code was written against the newer version."""
    lacks = f"code written for {installed} may use what {wanted} lacks"
    return f"{name} {installed} -> {wanted} is a downgrade: {lacks}"


def added_reason(name: str, wanted: str) -> str:
    """A requested package the environment does not have: the plan adds it, it upgrades nothing."""
    return f"{name} is not installed: this adds it ({wanted}) to the environment"


def assess(
    plan: Plan,
    *,
    baseline: CheckSet | None = None,
    security: SecurityReport | None = None,
    tests_found: bool | None = None,
    pins: bool = False,
    cleared: Sequence[str] = (),
) -> RiskSummary:
    """``pins``: the project's files are written too (``--update-pins``, the wizard's ``u``): what
    would undo the upgrade is rewritten, not a risk. ``cleared``: the problems predicted after that
    are the project's own old requirements, which those edits change (see
    :func:`~oxwizard.env.plan.cleared_by_pins`)."""
    reasons: list[str] = []
    score = 0
    undone = plan.project_files.undone if plan.project_files is not None else []
    if undone and pins:
        reasons += [rewritten(u) for u in undone]
    elif undone:  # the upgrade would not outlive the next rebuild from the project's own files
        score += 2
        reasons += undone
    majors = [c for c in plan.changes if c.impact == "major"]
    if majors:
        score += 2
        reasons.append("major bump: " + ", ".join(f"{c.name} {c.arrow}" for c in majors))
    downgrades = [c for c in plan.changes if c.impact == "downgrade"]
    if downgrades:  # never low: the code may use what the older version lacks
        score += 2
        reasons += [downgrade_reason(c.name, c.from_version or "", c.to_version or "") for c in downgrades]
    pre = [c for c in plan.changes if c.impact == "pre-release"]
    if pre:
        score += 1
        reasons.append("pre-release: " + ", ".join(f"{c.name} {c.arrow}" for c in pre))
    requested = [c for c in plan.changes if c.requested]
    added = [c for c in requested if c.from_version is None and c.to_version is not None]
    reasons += [added_reason(c.name, c.to_version or "") for c in added]
    transitive = [c for c in plan.changes if not c.requested]
    if len(transitive) >= 3:
        score += 1
    if transitive:
        reasons.append(f"{len(transitive)} transitive change(s): {', '.join(c.name for c in transitive[:4])}")
    if tests_found is False:
        score += 2
        reasons.append("no tests found: nothing will prove the upgrade works")
    if baseline is not None and baseline.failed:
        score += 2
        reasons.append("baseline already failing: " + ", ".join(r.name for r in baseline.failed))
    impact = plan.api_impact
    broken = impact.breaking_uses if impact is not None else []
    if impact is not None and broken:  # a name the code calls is gone or changed: it breaks when run
        score += 4
        reasons.append(
            f"{len(broken)} use(s) of names removed or changed incompatibly: {impact.use_line(broken[0])}"
        )
    deprecated = [u for u in impact.uses if u.kind == "deprecated"] if impact is not None else []
    if impact is not None and deprecated:  # works now, breaks in a later version: said, not weighed
        reasons.append(f"{len(deprecated)} use(s) of names deprecated: {impact.use_line(deprecated[0])}")
    blocked = [p for p in plan.problems()]
    if blocked:
        score += 3
        reasons += blocked
    after = [p for p in plan.pip_check_after if p not in cleared]
    if after:
        score += 2
        reasons.append(f"pip check predicted to fail after: {after[0]}")
        reasons += [r.sentence() for r in plan.resolutions]
    if cleared:
        reasons.append(cleared_reason(cleared[0]))
    if plan.pip_check_before:
        score += 1
        reasons.append(f"pip check already fails: {plan.pip_check_before[0]}")
    if security is not None:
        if security.introduces:
            score += 2
            reasons.append(f"introduces advisories: {', '.join(security.introduces)}")
        if security.fixes:
            score -= 1
            reasons.append(f"fixes advisories: {', '.join(security.fixes)}")
        else:
            reasons.append("no security reason to upgrade")
    else:
        reasons.append("no advisory data: security impact unknown")
    level: Literal["low", "medium", "high"] = "high" if score >= 4 else "medium" if score >= 2 else "low"
    if (majors or downgrades or tests_found is False) and level == "low":
        # a security fix makes a major bump (a downgrade, an untested upgrade) worth doing, not safe
        level = "medium"
    if blocked or after or (security is not None and security.introduces):
        recommendation: Literal["upgrade now", "install now", "stage and test first", "wait"] = "wait"
    elif level == "low" and requested and len(added) == len(requested):
        recommendation = "install now"  # nothing installed is replaced: there is nothing to upgrade
    elif level == "low":
        recommendation = "upgrade now"
    else:
        recommendation = "stage and test first"
    return RiskSummary(level=level, recommendation=recommendation, reasons=reasons, cleared=list(cleared))
