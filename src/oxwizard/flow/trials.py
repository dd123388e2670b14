"""Upgrade everything that is safe: the trials of subsets of the targets, each in a staging clone.

When every target tried together fails the staging checks, :func:`find_culprits` runs the search of
:mod:`oxwizard.flow.isolate` with real trials: each trial plans its set with the installer's dry run
(the resolver decides what else moves), installs it in a fresh staging clone of live, runs the same
checks as the staging gate against the flow's baseline, and removes the clone. Targets whose new
version requires another target's new version form one unit and are never tried apart. Trials of a
batch run in parallel, each in its own clone and with its own copy of the project (the checks write
logs in the project: two trials must not read each other's). Live is never touched here.
"""

from __future__ import annotations

import contextvars
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from oxwizard.checks.result import CheckSet
from oxwizard.core.config import ChecksConfig
from oxwizard.core.errors import OxwizardError
from oxwizard.env.environment import Environment
from oxwizard.env.plan import Plan, compute_plan
from oxwizard.env.specs import IndexOptions
from oxwizard.flow.isolate import Tried, estimate, isolate, units

Unit = frozenset[str]


@dataclass(frozen=True)
class TrialResult:
    """One trial: the pins it asked for, what the installer planned, and what the checks said."""

    number: int
    pins: tuple[str, ...]
    ok: bool
    summary: str  # one line: the checks, or why it could not be tried
    evidence: tuple[str, ...] = ()  # each failed check: "tests: 3 newly failing: ..."
    plan: Plan | None = None
    duration: float = 0.0
    new_warnings: tuple[str, ...] = ()  # warnings new since the baseline (a passing trial may have some)


@dataclass
class Culprits:
    """What the search found: the culprits with their evidence and the largest passing set."""

    units: list[Unit]
    # each culprit: its pins, the failing trial that shows it best, and how many units it spans
    culprits: list[tuple[tuple[str, ...], TrialResult | None, int]] = field(default_factory=list)
    passing: tuple[str, ...] = ()  # pins of the largest passing set
    passing_plan: Plan | None = None
    passing_warnings: tuple[str, ...] = ()  # the largest passing set's new warnings: acknowledged first
    trials: list[TrialResult] = field(default_factory=list)

    def lines(self) -> list[str]:
        """One line per culprit, with its evidence."""
        out: list[str] = []
        for pins, proof, spans in self.culprits:
            who = " + ".join(_spaced(p) for p in pins)
            if len(pins) > 1:  # units that only break together, or one unit that cannot be split
                who += " together" if spans > 1 else " (they must move together)"
            why = "; ".join(proof.evidence) if proof is not None and proof.evidence else "checks failed"
            out.append(f"{who}: {why}")
        return out


def target_units(plan: Plan, env: Environment, pins: Mapping[str, str]) -> list[Unit]:
    """The targets grouped into what must move together: a target whose new version requires a
    version of another target that its installed version does not satisfy moves with it, and so
    does a target whose new version another target's installed version refuses (requests 2.28
    requires urllib3<1.27: urllib3 2 moves with the new requests)."""
    needs: dict[str, list[str]] = {}
    markers = {**env.markers, "extra": ""}
    new = {canonicalize_name(c.name): c.to_version for c in plan.changes if c.to_version}

    def refuses(texts: list[str], name: str, version: str) -> list[str]:
        """The targets that ``texts`` (requirements of ``name``) name and do not allow at ``version``
        (their installed version, or their new one)."""
        out: list[str] = []
        for text in texts:
            req = Requirement(text)
            other = canonicalize_name(req.name)
            if other == name or other not in pins or other not in env.distributions:
                continue
            if req.marker is not None and not req.marker.evaluate(markers):
                continue
            at = env.distributions[other].version if version == "installed" else new.get(other)
            if at is not None and not req.specifier.contains(at, prereleases=True):
                out.append(other)
        return out

    for change in plan.changes:
        changed = canonicalize_name(change.name)
        needs.setdefault(changed, []).extend(refuses(change.requires, changed, "installed"))
    for target in pins:
        if target in env.distributions:
            needs.setdefault(target, []).extend(refuses(env.distributions[target].requires, target, "new"))
    return units(sorted(pins), needs)


class StagingTrials:
    """The ``trial`` of :func:`~oxwizard.flow.isolate.isolate`: each set of units installed in its
    own staging clone of ``env`` and checked against ``baseline``."""

    def __init__(
        self,
        env: Environment,
        project: Path,
        config: ChecksConfig,
        index: IndexOptions,
        baseline: CheckSet | None,
        pins: Mapping[str, str],
        *,
        on_line: Callable[[str], None],
        poll: Callable[[], None],
        allow_externally_managed: bool = False,
    ) -> None:
        self.env, self.project, self.config, self.index = env, project, config, index
        self.baseline, self.pins = baseline, dict(pins)
        self.on_line, self.poll = on_line, poll
        self.allow_externally_managed = allow_externally_managed
        self.results: dict[frozenset[str], TrialResult] = {}
        self._count = 0
        self._lock = threading.Lock()

    def __call__(self, batch: list[frozenset[Unit]]) -> list[bool]:
        self.poll()
        sets = [frozenset().union(*s) if s else frozenset() for s in batch]
        if len(sets) == 1:
            done = [self._one(sets[0], self.project, self._count + 1)]
        else:
            with ThreadPoolExecutor(max_workers=len(sets)) as pool:
                first = self._count + 1  # numbered in the batch's order, whichever ends first
                jobs = [
                    pool.submit(contextvars.copy_context().run, self._copied, names, first + n)
                    for n, names in enumerate(sets)
                ]
                done = [job.result() for job in jobs]
        self.poll()
        return [r.ok for r in done]

    def _copied(self, names: frozenset[str], number: int) -> TrialResult:
        """A trial run in parallel: in a copy of the project of its own."""
        with tempfile.TemporaryDirectory(prefix="oxwizard-trial-project-") as tmp:
            copy = Path(tmp) / self.project.name
            shutil.copytree(self.project, copy, symlinks=True, ignore=_not_project)
            return self._one(names, copy, number)

    def _one(self, names: frozenset[str], project: Path, number: int) -> TrialResult:
        from oxwizard.checks.logs import mark_logs
        from oxwizard.checks.suite import run_checks
        from oxwizard.safety.apply import apply_plan
        from oxwizard.safety.stage import CloneStats, create_stage, retire_stage, trial_path

        with self._lock:
            self._count = max(self._count, number)
        pins = tuple(self.pins[n] for n in sorted(names))
        started = time.monotonic()

        def say(line: str) -> None:
            self.on_line(f"trial {number}: {line}")

        try:
            plan = compute_plan(self.env, [Requirement(p) for p in pins], self.index, suggest=False)
        except OxwizardError as exc:  # the resolver refuses this set: it cannot be promoted either
            return self._keep(names, TrialResult(number, pins, False, f"not installable: {exc}", (str(exc),)))
        dest = trial_path(self.env, number)  # retired by the next command if this one is killed
        # as the staging clone: what the trial replaces is copied, the rest of site-packages linked
        changing = {c.name for c in plan.changes if c.name in self.env.distributions}
        stats = CloneStats()
        clone = create_stage(
            self.env, dest if self.env.is_venv else None, changing=changing, stats=stats, own_process=True
        )
        kept = f", refreshed a kept clone ({stats.reused} entries kept)" if stats.refreshed else ""
        say(f"clone {clone.root.name}: {stats.linked} files linked to live's, {stats.copied} copied{kept}")
        try:
            installed = apply_plan(
                clone, plan, self.index, checkpoint=None, journaled=False, on_line=say,
                allow_externally_managed=self.allow_externally_managed,
            )  # fmt: skip
            if not installed.ok:
                why = "install failed: " + "; ".join(installed.mismatches)
                result = TrialResult(number, pins, False, why, (why,), plan, _since(started))
                return self._keep(names, result)
            base = self.baseline
            if (
                base is not None
            ):  # the logs are read from here on: an earlier trial's lines are not this one's
                base = base.model_copy(update={"log_marks": mark_logs(project, self.config)})
            upgraded = [c.name for c in plan.changes]
            cs = run_checks(
                clone, project, self.config, "staging", upgraded=upgraded, baseline=base, on_line=say
            )
        finally:
            retire_stage(clone.root, self.env)
        evidence = tuple(f"{r.name}: {r.summary}" for r in cs.failed)
        summary = "passed" if cs.ok else "FAILED " + ", ".join(r.name for r in cs.failed)
        warned = tuple(cs.new_warnings)
        result = TrialResult(number, pins, cs.ok, summary, evidence, plan, _since(started), warned)
        return self._keep(names, result)

    def _keep(self, names: frozenset[str], result: TrialResult) -> TrialResult:
        with self._lock:
            self.results[names] = result
        return result


def find_culprits(
    trials: StagingTrials,
    plan: Plan,
    *,
    parallel: int,
    on_start: Callable[[int, int], None],
    on_trial: Callable[[TrialResult], None],
) -> Culprits:
    """Run the search over the units of ``plan``'s targets (all of them failed together)."""
    grouped = target_units(plan, trials.env, trials.pins)
    on_start(len(grouped), estimate(len(grouped)))

    def told(tried: Tried[Unit]) -> None:
        on_trial(trials.results[frozenset().union(*tried.applied)])

    found = isolate(grouped, trials, parallel=parallel, on_trial=told)
    out = Culprits(units=grouped, trials=[trials.results[_names(t.applied)] for t in found.trials])
    for culprit in found.culprits:
        names = _names(culprit)
        pins = tuple(trials.pins[n] for n in sorted(names))
        failing = [r for k, r in trials.results.items() if names <= k and not r.ok]
        proof = min(failing, key=lambda r: len(r.pins)) if failing else None
        out.culprits.append((pins, proof, len(culprit)))
    if found.passing:
        passing = trials.results[_names(found.passing)]
        out.passing, out.passing_plan = passing.pins, passing.plan
        out.passing_warnings = passing.new_warnings
    return out


def default_parallel() -> int:
    """Trials at once: half the cores (the checks themselves use a core each), at least one."""
    return max(1, min(4, (os.cpu_count() or 1) // 2))


def _names(applied: frozenset[Unit]) -> frozenset[str]:
    return frozenset().union(*applied) if applied else frozenset()


def _not_project(folder: str, names: list[str]) -> set[str]:
    """What a trial's copy of the project leaves out: environments, clones, VCS and state folders."""
    here = Path(folder)
    return {
        n for n in names
        if n in (".git", ".oxwizard", "__pycache__", "node_modules")
        or (here / n / "pyvenv.cfg").exists() or (here / n / ".oxwizard-stage").exists()
        or "-trial-" in n or n.endswith("-stage")
    }  # fmt: skip


def _spaced(pin: str) -> str:
    name, _, version = pin.partition("==")
    return f"{name} {version}" if version else pin


def _since(started: float) -> float:
    return time.monotonic() - started
