"""Security: known advisories of the versions before and after the upgrade.

Offline (``--no-index``) or without pip-audit, advisories come from the project's advisory file
(``advisories`` in ``[tool.oxwizard]``: a JSON list of ``{"id", "package", "affected" (a PEP 440
specifier), "fixed_in", "summary"}``) and no network call is made. Online with pip-audit installed,
pip-audit is asked about the exact pins before and after.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from pydantic import BaseModel, ConfigDict, Field

from oxwizard.core import proc
from oxwizard.core.config import ChecksConfig
from oxwizard.core.errors import UsageError
from oxwizard.env.environment import Environment
from oxwizard.env.plan import Plan


class Advisory(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    package: str
    affected: str
    fixed_in: str | None = None
    summary: str = ""


class SecurityReport(BaseModel):
    """Advisories that affect the versions before and after the plan."""

    model_config = ConfigDict(extra="forbid")

    source: str
    before: list[str] = Field(default_factory=list)
    after: list[str] = Field(default_factory=list)

    @property
    def fixes(self) -> list[str]:
        return sorted(set(self.before) - set(self.after))

    @property
    def introduces(self) -> list[str]:
        return sorted(set(self.after) - set(self.before))

    def line(self) -> str:
        fixes, introduces = len(self.fixes), len(self.introduces)
        return f"the upgrade fixes {fixes} advisories / introduces {introduces} ({self.source})"


def load_advisories(path: Path) -> list[Advisory]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [Advisory.model_validate(item) for item in data]
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(f"{path}: not a readable advisory file: {str(exc).splitlines()[0]}") from None


def _affected(advisories: list[Advisory], pins: dict[str, str]) -> list[str]:
    out = []
    for adv in advisories:
        version = pins.get(canonicalize_name(adv.package))
        if version is None:
            continue
        try:
            if SpecifierSet(adv.affected).contains(version, prereleases=True):
                out.append(f"{adv.id} {adv.package} {version}")
        except InvalidSpecifier:
            continue
    return [a.split(" ", 1)[0] for a in out]


def security_delta(
    plan: Plan, env: Environment, config: ChecksConfig, project: Path, offline: bool
) -> SecurityReport | None:
    """Advisories before/after; None when there is no source of advisories."""
    before = {n: d.version for n, d in env.distributions.items()}
    after = dict(before)
    for change in plan.changes:
        if change.to_version is None:
            after.pop(change.name, None)
        else:
            after[change.name] = change.to_version
    if config.advisories:
        advisories = load_advisories(project / config.advisories)
        return SecurityReport(
            source=f"advisory file {config.advisories}",
            before=_affected(advisories, before),
            after=_affected(advisories, after),
        )
    if offline or shutil.which("pip-audit") is None:
        return None
    return _pip_audit(before, after, plan)


def _pip_audit(before: dict[str, str], after: dict[str, str], plan: Plan) -> SecurityReport | None:
    names = {c.name for c in plan.changes}
    ids: dict[str, list[str]] = {}
    for label, pins in (("before", before), ("after", after)):
        with tempfile.TemporaryDirectory(prefix="oxwizard-audit-") as tmp:
            req = Path(tmp) / "requirements.txt"
            req.write_text("".join(f"{n}=={pins[n]}\n" for n in sorted(names) if n in pins), encoding="utf-8")
            done = proc.run(
                ["pip-audit", "--format", "json", "--no-deps", "--disable-pip", "-r", str(req)],
                env=proc.pip_environment(),
                timeout=120,
            )
        try:
            report = json.loads(done.stdout)
        except ValueError:
            return None  # index unreachable or pip-audit failed: no security evidence, said by the caller
        ids[label] = [v["id"] for d in report.get("dependencies", []) for v in d.get("vulns", [])]
    return SecurityReport(source="pip-audit", before=ids["before"], after=ids["after"])
