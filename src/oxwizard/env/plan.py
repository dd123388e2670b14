"""The exact upgrade plan: what the real resolver would change, computed without changing anything.

pip's ``install --dry-run --report`` resolves the targets against the target environment (uv's dry
run, for an environment uv installs into: :mod:`oxwizard.env.uv_plan`); the report is turned into a
:class:`Plan` listing every change (transitive ones too) with its impact class, Requires-Python
verdict, yanked flag, source and sha256, the ``pip check`` state before and the one predicted after
(both from the installed distributions' metadata, by ``pip check``'s own rules: no child process
besides the dry run), and the exact pinned set that applying the plan installs.

When the plan predicts new ``pip check`` problems (an installed package that depends on a target and
does not accept its new version), the resolver is asked again with those dependents added as targets
(name only: the resolver may move them), and the additions that clear the problems are kept in the
plan (:class:`Resolution`): "add `requests` to the targets: the resolver then moves it to 2.32.3".
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import tempfile
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, NamedTuple
from urllib.parse import unquote, urlsplit

from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from pydantic import BaseModel, ConfigDict, Field

from oxwizard.core import proc
from oxwizard.core.errors import OxwizardError, ResolutionError
from oxwizard.core.redact import redact_text, redact_url
from oxwizard.env.api_report import ApiImpact
from oxwizard.env.distributions import applying
from oxwizard.env.dry_run import EarlyDryRun, read_report
from oxwizard.env.environment import Environment
from oxwizard.env.impact import Impact, impact_of
from oxwizard.env.project_files import ProjectFiles
from oxwizard.env.specs import IndexOptions, spec_text

_DIGEST_INDEX_FIELDS = ("index_url", "extra_index_urls", "find_links", "no_index")
# The API impact's fields added after it was first recorded, with their defaults: they count in a
# plan's digest only when set, so the runbooks recorded before them keep theirs.
_LATER_CHANGE: dict[str, object] = {"parameters": [], "receiver": ""}
_LATER_USE: dict[str, object] = {"detail": ""}
# A lockfile regeneration's, likewise.
_LATER_REGENERATION: dict[str, object] = {"then": [], "stand_in": ""}

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


class Move(BaseModel):
    """What the resolver does to a suggested target once it is added."""

    model_config = ConfigDict(extra="forbid")

    name: str
    from_version: str | None = None
    to_version: str | None = None


class Resolution(BaseModel):
    """Targets that, added to the plan's, clear predicted ``pip check`` problems (found by the
    resolver itself: the plan with them has none of the problems it clears, and still changes every
    target the plan changes)."""

    model_config = ConfigDict(extra="forbid")

    add: list[str]  # the targets to add, as typed (a name: the resolver picks the version)
    moves: list[Move] = Field(default_factory=list)
    clears: list[str] = Field(default_factory=list)  # the predicted problems that go away

    def sentence(self) -> str:
        """``add `requests` to the targets: the resolver then moves it to 2.32.3``."""
        names = " and ".join(f"`{n}`" for n in self.add)
        by_name = {m.name: m for m in self.moves}
        moved, kept = [], []
        for name in self.add:
            move = by_name.get(canonicalize_name(name))
            who = "it" if len(self.add) == 1 else name
            if move is None or move.to_version is None or move.to_version == move.from_version:
                kept.append(f"{who} at {move.from_version if move else 'its version'}")
            else:
                moved.append(f"{who} to {move.to_version}")
        does = ([f"moves {' and '.join(moved)}"] if moved else []) + (
            [f"keeps {' and '.join(kept)}"] if kept else []
        )
        return f"add {names} to the targets: the resolver then {' and '.join(does)}"


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
    # targets that would clear the new pip check problems (empty when there are none)
    resolutions: list[Resolution] = Field(default_factory=list)
    # how the project is managed and the edits to its files that make the upgrade last (None: not read)
    project_files: ProjectFiles | None = None
    # the public API the new versions remove, change or deprecate, and who uses it (None: not read)
    api_impact: ApiImpact | None = None
    created_at: str = ""

    @property
    def pinned(self) -> list[str]:
        """``name==version`` for every distribution the plan installs."""
        return [f"{c.name}=={c.to_version}" for c in self.changes if c.to_version]

    @property
    def is_empty(self) -> bool:
        return not self.changes

    @property
    def new_problems(self) -> list[str]:
        """The ``pip check`` problems predicted after that are not there now."""
        return [p for p in self.pip_check_after if p not in self.pip_check_before]

    @property
    def suggested_targets(self) -> list[str]:
        """What the first resolution adds (the wizard's ``a`` key), empty when none is known."""
        return list(self.resolutions[0].add) if self.resolutions else []

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
        # resolutions left out when there are none: the digests of plans recorded before they existed hold
        exclude = {"created_at"} if self.resolutions else {"created_at", "resolutions"}
        if self.project_files is None:  # likewise for plans made before the project's files were read
            exclude.add("project_files")
        if self.api_impact is None:  # and before the API impact was read
            exclude.add("api_impact")
        data = self.model_dump(mode="json", exclude=exclude)
        impact = data.get("api_impact")
        if isinstance(impact, dict):  # its fields added later count only when set, likewise
            later = [(c, _LATER_CHANGE) for c in impact["changes"]] + [
                (u, _LATER_USE) for u in impact["uses"]
            ]
            for item, defaults in later:
                for key, default in defaults.items():
                    if item.get(key) == default:
                        item.pop(key)
        files = data.get("project_files")
        for regeneration in files["regenerate"] if isinstance(files, dict) else []:  # likewise
            for key, default in _LATER_REGENERATION.items():
                if regeneration.get(key) == default:
                    regeneration.pop(key)
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


# At most this many extra dry runs look for targets that clear predicted problems: one with every
# dependent added, then one per dependent (the first few) when that one does not clear them all.
MAX_RESOLUTION_TRIALS = 4


def compute_plan(
    env: Environment,
    requirements: list[Requirement],
    index: IndexOptions,
    *,
    suggest: bool = True,
    early: EarlyDryRun | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> Plan:
    """Resolve ``requirements`` against ``env`` with the installer's dry run; nothing is changed.

    With ``suggest`` (the default), new predicted ``pip check`` problems are followed by a few more
    dry runs to find which extra targets clear them (:func:`find_resolutions`). ``early``: the dry
    run the command started before reading anything (:mod:`oxwizard.env.dry_run`), used when its
    command line is this plan's; the plan's command line is remembered there for the next plan.
    ``meanwhile``: the caller's work done while the dry run runs (importing what it needs after it)."""
    # The dry run is a child of its own: the distributions are read and pip check's verdict now is
    # computed meanwhile, from their metadata (a `pip check` child would cost as much as the dry
    # run itself), by the same rules as the verdict predicted after the changes.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="dry-run") as pool:
        started = threading.Event()  # the child runs before this thread takes the CPU (imports...)
        report = pool.submit(
            contextvars.copy_context().run, _dry_run, env, requirements, index, early, started
        )
        started.wait(timeout=10)
        before = predict_conflicts(env, [])
        fingerprint = env.fingerprint()
        if meanwhile is not None:
            meanwhile()
        changes = _changes(env, report.result(), index)
    plan = Plan(
        targets=[spec_text(r) for r in requirements],
        env_fingerprint=fingerprint,
        python_version=env.version,
        platform=env.platform,
        installer=env.installer_kind(),
        index=index.redacted(),
        changes=changes,
        pip_check_before=before,
        pip_check_after=predict_conflicts(env, changes),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    if suggest and plan.new_problems:
        plan.resolutions = find_resolutions(env, requirements, index, plan)
    return plan


def _resolve(env: Environment, requirements: list[Requirement], index: IndexOptions) -> list[Change]:
    """The changes the installer's resolver would make for ``requirements`` (a dry run)."""
    return _changes(env, _dry_run(env, requirements, index), index)


def _changes(env: Environment, report: dict[str, object], index: IndexOptions) -> list[Change]:
    install = report.get("install") or []
    assert isinstance(install, list)
    changes = [_change(env, item, index) for item in install]
    changes.sort(key=lambda c: (not c.requested, c.name))
    return changes


def _dry_run(
    env: Environment,
    requirements: list[Requirement],
    index: IndexOptions,
    early: EarlyDryRun | None = None,
    started: threading.Event | None = None,
) -> dict[str, object]:
    """pip's ``--report`` of the dry run for ``requirements`` (installs nothing); ``early``'s when
    it ran the same command line. ``started`` is set once pip runs (or cannot). For an environment
    uv installs into, uv's dry run, in the same shape (:mod:`oxwizard.env.uv_plan`); pip's when that
    uv is too old to answer in JSON (as every plan was made before uv's own)."""
    try:
        if env.installer_kind() == "uv":
            by_uv = _uv_dry_run(env, requirements, index, early, started)
            if by_uv is not None:
                return by_uv
        # The report goes to a file, not stdout: pip must not be --quiet, or a conflict's explanation
        # ("X 1.0 depends on Y<2") is not printed and the error could not name the requirements.
        with tempfile.TemporaryDirectory(prefix="oxwizard-plan-") as tmp:
            report_path = Path(tmp) / "report.json"
            argv = dry_run_argv(env, requirements, index, report_path)
            taken = early.take(argv, report_path, started) if early is not None else None
            if taken is not None:
                result, report_path = taken
            else:
                result = proc.run(argv, env=proc.pip_environment(), timeout=600, started=started)
            if not result.ok:
                _refuse_old_pip(env, result.stderr)
                raise ResolutionError(_with_refusals(_resolution_message(result.stderr, result.stdout), index,
                                                     requirements))  # fmt: skip
            if early is not None and taken is None:  # (a command line taken is the one remembered)
                early.remember(argv, Path(tmp) / "report.json", env.root)
            return read_report(report_path)
    finally:
        if started is not None:
            started.set()  # also when pip never ran (the command line could not be made)


def _uv_dry_run(
    env: Environment,
    requirements: list[Requirement],
    index: IndexOptions,
    early: EarlyDryRun | None,
    started: threading.Event | None,
) -> dict[str, object] | None:
    """:func:`_dry_run` by uv (None: this uv has no JSON answer)."""
    from oxwizard.env import uv_plan
    from oxwizard.env.early_launch import split_line

    line = uv_plan.dry_run_line(env, requirements, index)
    # the targets' pages on the sources are read while uv runs: their versions' files come from them
    releases = uv_plan.Releases(env, index)
    releases.prefetch([r.name for r in requirements])
    try:
        taken = early.take(line, None, started) if early is not None else None
        if taken is not None:
            result = taken[0]
        else:
            argv, environ = split_line(line)
            result = proc.run(argv, env=environ, timeout=600, started=started)
        if not result.ok and uv_plan.too_old(result.stderr):
            releases.close()
            if early is not None:
                early.cancel()
            return None
        if not result.ok:
            raise ResolutionError(
                _with_refusals(uv_plan.resolution_message(result.stderr), index, requirements)
            )
        if early is not None and taken is None:
            early.remember(line, None, env.root)
    except BaseException:
        releases.close()
        raise
    return uv_plan.report(env, requirements, index, result.stdout, releases)


def find_resolutions(
    env: Environment, requirements: list[Requirement], index: IndexOptions, plan: Plan
) -> list[Resolution]:
    """Which installed dependents, added as targets (name only), clear ``plan``'s new problems.

    One dry run with every dependent named by a new problem added; when that one fails or leaves
    new problems, one per dependent (at most :data:`MAX_RESOLUTION_TRIALS` runs in all), each kept
    when its own problems are gone and it brings none that were not there."""
    before = set(plan.pip_check_before)
    named = [(dep, text) for dep, text in _conflicts(env, plan.changes, {}) if text not in before]
    targets = {canonicalize_name(r.name) for r in requirements}
    dependents = [d for d in dict.fromkeys(dep for dep, _ in named) if d not in targets]
    if not dependents:
        return []
    trials: dict[tuple[str, ...], list[Move]] = {}  # what each trial does to the targets it added

    wanted = {c.name for c in plan.changes if c.requested}

    def trial(extra: list[str]) -> list[tuple[str, str]] | None:
        """The new problems with ``extra`` added, or None when the resolver refuses, or no longer
        changes a target the plan changes (a dependent that pins a target keeps the target where it
        is: that clears the problem by not upgrading at all)."""
        try:
            changes = _resolve(env, [*requirements, *(Requirement(n) for n in extra)], index)
        except OxwizardError:
            return None
        if not wanted <= {c.name for c in changes}:
            return None
        found = [(dep, text) for dep, text in _conflicts(env, changes, {}) if text not in before]
        moves = [Move(name=c.name, from_version=c.from_version, to_version=c.to_version) for c in changes]
        trials[tuple(extra)] = [m for m in moves if m.name in extra]
        return found

    def clears(extra: list[str]) -> list[str]:
        return [text for dep, text in named if dep in extra]

    left = trial(dependents)
    if left == []:
        return [Resolution(add=dependents, moves=trials[tuple(dependents)], clears=clears(dependents))]
    if len(dependents) == 1:
        return []
    out: list[Resolution] = []
    for dep in dependents[: MAX_RESOLUTION_TRIALS - 1]:
        left = trial([dep])
        if left is None:
            continue
        still = {d for d, _ in left}
        if dep not in still and still <= set(dependents):
            out.append(Resolution(add=[dep], moves=trials[(dep,)], clears=clears([dep])))
    return out


def dry_run_argv(
    env: Environment, requirements: list[Requirement], index: IndexOptions, report: Path
) -> list[str]:
    """pip's resolution of ``requirements`` against ``env``, written to ``report``; installs nothing."""
    return [
        *env.pip_argv(),
        "install",
        *env.install_overrides(),  # harmless where pip exempts "--dry-run --report" from PEP 668
        "--dry-run",
        "--report",
        str(report),
        "--upgrade",
        "--upgrade-strategy",
        "only-if-needed",
        *index.resolve_args(),  # the sources, plus the constraints and --pre pip's configuration sets
        "--",
        *[spec_text(r) for r in requirements],
    ]


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


# {distribution: {name it requires: the version its requirement is to be judged as pinning}}
Judged = Mapping[str, Mapping[str, str]]


def predict_conflicts(env: Environment, changes: list[Change], judged: Judged | None = None) -> list[str]:
    """The ``pip check`` problems the environment would have after ``changes``.

    ``judged``: requirements read as the project's files are about to say them (see
    :func:`cleared_by_pins`): a requirement of ``dist`` on ``name`` holds when ``name`` is installed
    at ``judged[dist][name]``, whatever its installed metadata says."""
    return [text for _, text in _conflicts(env, changes, judged or {})]


def plan_files(env: Environment, plan: Plan, project: Path, *, raise_floors: bool = False) -> ProjectFiles:
    """The edits to ``project``'s files that make ``plan`` last (see
    :func:`~oxwizard.env.project_files.plan_project_files`). For a plan with nothing to change, its
    targets as installed: the files that would put another version back are named (a version
    installed by hand, or left by an upgrade whose pins were never written)."""
    from oxwizard.env.project_files import held_targets, plan_project_files

    return plan_project_files(
        project,
        plan.changes or held_targets(plan.targets, env.distributions),
        raise_floors=raise_floors,
        markers=env.markers,
        python=env.python,
    )


def cleared_by_pins(own: str | None, plan: Plan) -> dict[str, dict[str, str]]:
    """What the pins step's edits change in the project's own distribution ``own`` (see
    :func:`~oxwizard.env.project_files.own_distribution`): its requirements on the upgraded
    distributions the edits rewrite in ``pyproject.toml``, judged as pinning their new versions.
    Installed from the project (``uv sync``, ``pip install -e .``), it keeps the requirements the
    pyproject had then, until it is installed again from the edited one: those are not the
    upgrade's conflicts. Empty without ``own`` or such edits."""
    files = plan.project_files
    if own is None or files is None:
        return {}
    named = {n for e in files.edits if e.path == "pyproject.toml" for n in e.name.split(", ")}
    new = {c.name: c.to_version for c in plan.changes if c.to_version and c.name in named}
    return {own: new} if new else {}


def cleared_problems(
    env: Environment, changes: list[Change], problems: list[str], judged: Judged
) -> list[str]:
    """Of ``problems`` (``pip check``'s, after ``changes``), those that only the requirements
    ``judged`` otherwise make (see :func:`cleared_by_pins`): none without ``judged``."""
    if not judged or not problems:
        return []
    still = set(predict_conflicts(env, changes, judged))
    return [p for p in problems if p not in still]


def _conflicts(env: Environment, changes: list[Change], judged: Judged) -> list[tuple[str, str]]:
    """(the distribution whose requirement fails, the ``pip check`` line) after ``changes``."""
    versions = {name: d.version for name, d in env.distributions.items()}
    requires = dict(_installed_requires(env))
    for c in changes:
        if c.to_version is None:
            versions.pop(c.name, None)
            requires.pop(c.name, None)
        else:
            versions[c.name] = c.to_version
            requires[c.name] = applying(c.requires, env.markers)
    problems: list[tuple[str, str]] = []
    for name in sorted(versions):
        for req, dep in requires.get(name, []):
            have = versions.get(dep)
            if have is None:
                problems.append(
                    (name, f"{name} {versions[name]} requires {req.name}, which is not installed.")
                )
            elif have == judged.get(name, {}).get(dep):
                continue  # the requirement as the project's files are about to say it
            elif not req.specifier.contains(have, prereleases=True):
                problems.append(
                    (name, f"{name} {versions[name]} has requirement {req}, but you have {req.name} {have}.")
                )
    return problems


class _Parsed(NamedTuple):
    """The installed distributions' requirements, parsed once per reading of them (the verdict now
    is computed while the dry run runs; the one after, and each trial's, reuse it)."""

    dists: object  # the reading they come from (``env.distributions``)
    applying: dict[str, list[tuple[Requirement, str]]]  # those whose markers hold, with the name asked for
    bad: list[tuple[str, str]]  # (distribution, requirement text) that does not parse
    named: dict[str, set[str]]  # every name each one asks for, under any marker or extra


_PARSED: dict[int, _Parsed] = {}


def _installed_requires(env: Environment) -> dict[str, list[tuple[Requirement, str]]]:
    """Each installed distribution's applying requirements with the canonical name they ask for."""
    return _parsed_requires(env).applying


def unparsable_requirements(env: Environment) -> list[tuple[str, str]]:
    """(distribution, requirement text) for each installed requirement that does not parse (pip
    check fails on those), from the same reading as :func:`predict_conflicts`'."""
    return _parsed_requires(env).bad


def requirers(env: Environment, names: set[str]) -> list[str]:
    """The installed distributions (not in ``names``) with a requirement on one of ``names``, under
    any marker or extra (an optional use is a use once installed), from the same reading as
    :func:`predict_conflicts`'."""
    named = _parsed_requires(env).named
    return [d for d in env.distributions if d not in names and named.get(d, set()) & names]


def _parsed_requires(env: Environment) -> _Parsed:
    """The installed requirements parsed once per reading of the distributions (only those whose
    markers hold here: the reading knows which, see :mod:`oxwizard.env.distributions`)."""
    reading = env.reading
    hit = _PARSED.get(id(reading.distributions))
    if hit is not None and hit.dists is reading.distributions:
        return hit
    bad: list[tuple[str, str]] = []
    named: dict[str, set[str]] = {}
    holding: dict[str, list[tuple[Requirement, str]]] = {}
    for name, reqs in reading.requires.items():
        holding[name] = [(Requirement(text), dep) for text, dep in reqs.applying]
        bad += [(name, text) for text in reqs.bad]
        named[name] = set(reqs.named)
    _PARSED.clear()
    found = _PARSED[id(reading.distributions)] = _Parsed(reading.distributions, holding, bad, named)
    return found


def _refuse_old_pip(env: Environment, stderr: str) -> None:
    """A pip older than 22.2 has no ``--dry-run`` (``--report``: 22.2): it cannot plan. Said as such,
    with the way out, not as a resolution that failed."""
    if "no such option: --dry-run" in stderr or "no such option: --report" in stderr:
        from oxwizard.core.errors import InstallerError

        raise InstallerError(
            f"the pip of {env.root} is too old to plan an upgrade (a dry run with a report needs pip 22.2 "
            f"or newer): upgrade it first ({env.python} -m pip install --upgrade pip), or plan with uv "
            "(oxwizard plan/upgrade --installer uv)"
        )


# What pip and uv say when no source offered a version at all: a source that refused them (a wrong
# password: pip, asked for no input, says nothing of the 401) looks the same as a missing package.
_NO_VERSIONS = ("(from versions: none)", "was not found in the package registry")


def _with_refusals(message: str, index: IndexOptions, requirements: list[Requirement]) -> str:
    """``message``, and when it says no version was found, the sources that refused to answer for
    the targets (asked again, directly: ``http://****@host/simple: HTTP 401``)."""
    if not any(words in message for words in _NO_VERSIONS):
        return message
    from oxwizard.env.index import IndexReader, SourceFailed

    reader = IndexReader(index, use_cache=False, timeout=10)
    try:
        for req in requirements:
            try:
                reader.project_files(req.name)
            except SourceFailed:
                continue
        refused = reader.errors
    finally:
        reader.close()
    return f"{message} ({'; '.join(refused)})" if refused else message


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
