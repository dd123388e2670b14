"""What a plan's new versions change in the public API, and who uses those names (the record).

The data only: it is part of the :class:`~oxwizard.env.plan.Plan` (``Plan.api_impact``), so it is
shown by ``plan`` and recorded in the runbook. It is computed by :mod:`oxwizard.checks.api_impact`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# removed: the name is gone (a module, class, function or attribute); signature: a call that worked
# may fail (a parameter removed or renamed, a required one added, a kind changed); changed: the name
# now points to another kind of object or a class lost a base; deprecated: newly marked deprecated
ApiChangeKind = Literal["removed", "signature", "changed", "deprecated"]
BREAKING: tuple[ApiChangeKind, ...] = ("removed", "signature", "changed")


class ParameterChange(BaseModel):
    """One parameter of a signature change: what tells a call it breaks from one it does not."""

    model_config = ConfigDict(extra="forbid")

    # "required": now required; "deprecated": passing it warns (a deprecation's, not a signature's)
    change: Literal["removed", "required", "moved", "kind", "added", "deprecated"]
    name: str
    old_index: int | None = None  # its place among the installed version's parameters (self too)
    old_kind: str | None = None  # griffe's: positional-only, positional or keyword, keyword-only, variadic …
    new_index: int | None = None
    new_kind: str | None = None
    # a variadic one removed (``*args``/``**kwargs``): what the new signature still takes in its place
    positional: int | None = None  # how many arguments by position (None: any number)
    keywords: list[str] | None = None  # the names it takes by keyword (None: any)

    def text(self) -> str:
        """As the change's detail says it: ``parameter 'method_whitelist' removed``."""
        return {
            "removed": f"parameter '{self.name}' removed",
            "required": f"parameter '{self.name}' now required",
            "moved": f"positional parameter '{self.name}' moved",
            "kind": f"parameter '{self.name}' changed kind",
            "deprecated": f"parameter '{self.name}' deprecated",
        }.get(self.change, f"required parameter '{self.name}' added")


class ApiChange(BaseModel):
    """One public name a new version changes."""

    model_config = ConfigDict(extra="forbid")

    distribution: str
    version: str  # the new version
    kind: ApiChangeKind
    path: str  # the dotted name in the installed version: oxzep7.fmt
    what: str  # module, class, function, attribute
    detail: str = ""  # for signature/changed/deprecated: what changed ("parameter 'sep' removed")
    moved_to: str | None = None  # a likely new home of a removed name (same name, same kind)
    parameters: list[ParameterChange] = Field(default_factory=list)  # a signature change's, one by one
    receiver: str = ""  # a method's first parameter ("self", "cls"): not passed by a call on an instance

    def sentence(self, detail: str = "") -> str:
        """``module oxzep7.fmt removed in 2.0.0`` / ``function oxzep7.legacy_parse deprecated in 1.5.0``
        (``detail``: the part of the change one use meets, instead of all of it)."""
        verb = {"removed": "removed", "deprecated": "deprecated"}.get(self.kind, "changed")
        if self.parameters and self.kind == "deprecated":  # some of its parameters only
            verb = "changed"
        text = f"{self.what} {self.path} {verb} in {self.version}"
        if detail or self.detail:
            text += f": {detail or self.detail}"
        if self.moved_to:
            text += f" (now {self.moved_to}?)"
        return text


class ApiUse(BaseModel):
    """One place that uses a changed name."""

    model_config = ConfigDict(extra="forbid")

    user: str  # "" for the project's own code, else the installed distribution's name
    user_version: str = ""
    file: str  # relative to the project, or to the site folder for an installed distribution
    line: int
    name: str  # the dotted name used there: oxzep7.fmt.render
    change: str  # the ApiChange.path it meets
    kind: ApiChangeKind
    detail: str = ""  # the part of the change this use meets, when not all: the parameters its call misses


class ApiImpact(BaseModel):
    """The API changes of every distribution the plan changes, joined with their uses."""

    model_config = ConfigDict(extra="forbid")

    changes: list[ApiChange] = Field(default_factory=list)
    uses: list[ApiUse] = Field(default_factory=list)
    not_checked: list[str] = Field(default_factory=list)  # the honest limits: what was not read

    def change(self, path: str, kind: str | None = None) -> ApiChange | None:
        """The change at ``path`` (of that kind: a name can be both changed and deprecated)."""
        found = [c for c in self.changes if c.path == path]
        return next((c for c in found if c.kind == kind), found[0] if found else None)

    @property
    def breaking_uses(self) -> list[ApiUse]:
        """Uses of names removed or changed incompatibly."""
        return [u for u in self.uses if u.kind in BREAKING]

    def use_line(self, use: ApiUse) -> str:
        """``demoapp/app.py:24 uses oxzep7.fmt.render — module oxzep7.fmt removed in 2.0.0``."""
        where = f"{use.file}:{use.line}"
        if use.user:
            where += f" (installed {use.user} {use.user_version})".replace(" )", ")")
        change = self.change(use.change, use.kind)
        why = change.sentence(use.detail) if change else use.change
        return f"{where} uses {use.name} — {why}"

    def lines(self, limit: int = 10) -> list[str]:
        """The plan's text: every use of a changed name, then the changes no one here uses, then the
        limits (each list cut at ``limit``, saying how many more ``--json`` has)."""
        if not self.changes and not self.not_checked:
            return ["API: no public name removed, changed or newly deprecated"]
        out = ["API impact (read from the files, nothing of the new versions imported):"]
        out += [f"  {self.use_line(u)}" for u in self.uses]
        used = {u.change for u in self.uses}
        unused = [c.sentence() for c in self.changes if c.path not in used]
        out += _capped([f"  not used here: {s}" for s in unused], limit)
        out += _capped([f"  not checked: {s}" for s in self.not_checked], limit)
        return out


def _capped(lines: list[str], limit: int) -> list[str]:
    if len(lines) <= limit:
        return lines
    return [*lines[:limit], f"  … and {len(lines) - limit} more (plan --json lists them all)"]
