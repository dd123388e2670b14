"""The exact upgrade plan: what the real resolver would change, computed without changing anything.

pip's ``install --dry-run --report`` resolves the targets against the target environment; the report
is turned into a :class:`Plan` listing every change (transitive ones too) with its impact class,
Requires-Python verdict, yanked flag, source and sha256, the ``pip check`` state before and the one
predicted after, and the exact pinned set that applying the plan installs.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field

from oxwizard import proc
from oxwizard.environment import Environment
from oxwizard.errors import InstallerError, ResolutionError
from oxwizard.redact import redact_text, redact_url
from oxwizard.specs import IndexOptions, spec_text

_DIGEST_INDEX_FIELDS = ("index_url", "extra_index_urls", "find_links", "no_index")

Impact = Literal["major", "minor", "patch", "pre-release", "new", "removed", "downgrade", "none"]
ChangeKind = Literal["upgrade", "downgrade", "new", "removed", "reinstall"]


class Change(BaseModel):
    """One distribution the plan installs, replaces or removes."""

    model_config = ConfigDict(extra="forbid")

    name: str
    from_version: str | None = None
    to_version: str | None = None
    kind: ChangeKind
    impact: Impact
    requested: bool = False
    requires_python: str | None = None
    requires_python_ok: bool = True
    yanked: bool = False
    source: str = ""  # redacted URL of the artefact
    index: str = ""  # which configured source it came from (redacted)
    sha256: str | None = None
    requires: list[str] = Field(default_factory=list)

    @property
    def arrow(self) -> str:
        return f"{self.from_version or 'new'} -> {self.to_version or 'removed'}"


class Plan(BaseModel):
    """Everything an upgrade will change, and the pins that make applying it exact."""

    model_config = ConfigDict(extra="forbid")

    targets: list[str]
    env_fingerprint: str
    python_version: str
    platform: str
    installer: str
    index: IndexOptions = Field(default_factory=IndexOptions)
    changes: list[Change] = Field(default_factory=list)
    pip_check_before: list[str] = Field(default_factory=list)
    pip_check_after: list[str] = Field(default_factory=list)
    created_at: str = ""

    @property
    def pinned(self) -> list[str]:
        """``name==version`` for every distribution the plan installs."""
        return [f"{c.name}=={c.to_version}" for c in self.changes if c.to_version]

    @property
    def is_empty(self) -> bool:
        return not self.changes

    def change_for(self, name: str) -> Change | None:
        key = canonicalize_name(name)
        return next((c for c in self.changes if c.name == key), None)

    def summary(self) -> str:
        """One line, as used in runbook commit messages."""
        if not self.changes:
            return f"{', '.join(self.targets)}: nothing to change"
        requested = [c for c in self.changes if c.requested] or self.changes[:1]
        head = ", ".join(f"{c.name} {c.arrow} ({c.impact})" for c in requested)
        n = len(self.changes)
        return f"{head}, {n} change{'s' if n != 1 else ''}"

    def digest(self) -> str:
        """sha256 of the canonical JSON of the plan: a runbook's integrity anchor."""
        data = self.model_dump(mode="json", exclude={"created_at"})
        # Index fields added later count only when set, so older runbooks keep their digest.
        base = IndexOptions().model_dump(mode="json")
        data["index"] = {
            k: v for k, v in data["index"].items() if k in _DIGEST_INDEX_FIELDS or v != base.get(k)
        }
        blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()

    def problems(self) -> list[str]:
        """Reasons the plan should not be applied as it is."""
        out = [
            f"{c.name} {c.to_version} requires Python {c.requires_python}"
            for c in self.changes
            if not c.requires_python_ok
        ]
        out += [f"{c.name} {c.to_version} is yanked" for c in self.changes if c.yanked]
        return out


def impact_of(old: str | None, new: str | None) -> Impact:
    """Impact class of a version change, from :mod:`packaging.version`."""
    if old is None:
        return "new"
    if new is None:
        return "removed"
    try:
        a, b = Version(old), Version(new)
    except InvalidVersion:
        return "major"
    if b == a:
        return "none"
    if b < a:
        return "downgrade"
    if b.is_prerelease or b.is_devrelease:
        return "pre-release"
    if b.major != a.major:
        return "major"
    if b.minor != a.minor:
        return "minor"
    return "patch"


def compute_plan(env: Environment, requirements: list[Requirement], index: IndexOptions) -> Plan:
    """Resolve ``requirements`` against ``env`` with pip's dry run; nothing is changed."""
    # The report goes to a file, not stdout: pip must not be --quiet, or a conflict's explanation
    # ("X 1.0 depends on Y<2") is not printed and the error could not name the requirements.
    with tempfile.TemporaryDirectory(prefix="oxwizard-plan-") as tmp:
        report_path = Path(tmp) / "report.json"
        argv = [
            *env.pip_argv(),
            "install",
            "--dry-run",
            "--report",
            str(report_path),
            "--upgrade",
            "--upgrade-strategy",
            "only-if-needed",
            *index.resolve_args(),
            "--",
            *[spec_text(r) for r in requirements],
        ]
        result = proc.run(argv, env=proc.pip_environment(), timeout=600)
        if not result.ok:
            raise ResolutionError(_resolution_message(result.stderr, result.stdout))
        try:
            report = json.loads(report_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise InstallerError("pip wrote no readable --report (pip 22.2 or newer needed)") from None
    before = env.pip_check()
    changes = [_change(env, item, index) for item in report.get("install", [])]
    changes.sort(key=lambda c: (not c.requested, c.name))
    return Plan(
        targets=[spec_text(r) for r in requirements],
        env_fingerprint=env.fingerprint(),
        python_version=env.version,
        platform=env.platform,
        installer=env.installer_kind(),
        index=index.redacted(),
        changes=changes,
        pip_check_before=before,
        pip_check_after=predict_conflicts(env, changes),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _change(env: Environment, item: dict[str, object], index: IndexOptions) -> Change:
    meta = item.get("metadata") or {}
    assert isinstance(meta, dict)
    name = canonicalize_name(str(meta.get("name", "")))
    new = str(meta.get("version", ""))
    current = env.distributions.get(name)
    old = current.version if current else None
    impact = impact_of(old, new)
    if old is None:
        kind: ChangeKind = "new"
    elif impact == "downgrade":
        kind = "downgrade"
    elif impact == "none":
        kind = "reinstall"
    else:
        kind = "upgrade"
    rp = meta.get("requires_python")
    rp_ok = True
    if rp:
        try:
            rp_ok = SpecifierSet(str(rp)).contains(env.version, prereleases=True)
        except InvalidSpecifier:
            rp_ok = False
    info = item.get("download_info") or {}
    assert isinstance(info, dict)
    url = str(info.get("url", ""))
    return Change(
        name=name,
        from_version=old,
        to_version=new,
        kind=kind,
        impact=impact,
        requested=bool(item.get("requested")),
        requires_python=str(rp) if rp else None,
        requires_python_ok=rp_ok,
        yanked=bool(item.get("is_yanked", False)),
        source=redact_url(url),
        index=_source_of(url, index),
        sha256=_sha256_of(info, url),
        requires=[str(r) for r in meta.get("requires_dist", []) or []],
    )


def _sha256_of(info: dict[str, object], url: str) -> str | None:
    archive = info.get("archive_info")
    if isinstance(archive, dict):
        hashes = archive.get("hashes")
        if isinstance(hashes, dict) and "sha256" in hashes:
            return str(hashes["sha256"])
        single = archive.get("hash")
        if isinstance(single, str) and single.startswith("sha256="):
            return single.split("=", 1)[1]
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = Path(unquote(parts.path))
        if path.is_file():
            return hashlib.sha256(path.read_bytes()).hexdigest()
    return None


def _source_of(url: str, index: IndexOptions) -> str:
    """Which configured source an artefact URL belongs to (redacted)."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = Path(unquote(parts.path))
        for link in index.find_links:
            if "://" not in link and path.parent == Path(link):
                return f"find-links {link}"
        return f"file {path.parent}"
    host = parts.hostname or ""
    for candidate in [index.index_url, *index.extra_index_urls]:
        if candidate and urlsplit(candidate).hostname == host:
            return redact_url(candidate)
    return host


def predict_conflicts(env: Environment, changes: list[Change]) -> list[str]:
    """The ``pip check`` problems the environment would have after ``changes``."""
    versions = {name: d.version for name, d in env.distributions.items()}
    requires = {name: list(d.requires) for name, d in env.distributions.items()}
    for c in changes:
        if c.to_version is None:
            versions.pop(c.name, None)
            requires.pop(c.name, None)
        else:
            versions[c.name] = c.to_version
            requires[c.name] = list(c.requires)
    problems: list[str] = []
    for name in sorted(versions):
        for text in requires.get(name, []):
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            if req.marker is not None and not _marker_ok(req.marker, env.markers):
                continue
            dep = canonicalize_name(req.name)
            have = versions.get(dep)
            if have is None:
                problems.append(f"{name} {versions[name]} requires {req.name}, which is not installed.")
            elif not req.specifier.contains(have, prereleases=True):
                problems.append(
                    f"{name} {versions[name]} has requirement {req}, but you have {req.name} {have}."
                )
    return problems


def _marker_ok(marker: Marker, markers: dict[str, str]) -> bool:
    try:
        return marker.evaluate({**markers, "extra": ""})
    except Exception:  # noqa: BLE001 - an unknown marker variable: treat as not applying
        return False


def _resolution_message(stderr: str, stdout: str) -> str:
    lines = [ln.strip() for ln in (stderr + "\n" + stdout).splitlines() if ln.strip()]
    errors = [ln.removeprefix("ERROR: ") for ln in lines if ln.startswith("ERROR:")]
    conflict = [ln for ln in lines if " depends on " in ln or ln.startswith("The user requested")]
    picked = [e for e in errors if "ResolutionImpossible" not in e and "dependency conflict" not in e]
    text = "; ".join(dict.fromkeys(e.rstrip(".") for e in picked))
    if conflict:
        text = f"{text}: " if text else ""
        text += "; ".join(dict.fromkeys(conflict))
    return "cannot resolve: " + redact_text(text or (lines[-1] if lines else "pip failed"))
