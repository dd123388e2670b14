"""The upgrade flow: the one sequence of steps every front end drives.

plan → risk → checkpoint → stage → baseline → go? → install in staging → checks in staging (gate)
→ acknowledge new warnings → promote to live (journaled) → checks on live (gate) → monitoring rounds
→ verdict. The TUI, ``oxwizard upgrade`` and ``oxwizard replay`` differ only in their
:class:`FlowListener`: where the output goes and who answers the questions (a person, ``--yes``, or
the answers recorded in a runbook). Every answer is recorded as one runbook commit as it happens.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from oxwizard.checks.result import CheckResult, CheckSet
from oxwizard.core import proc
from oxwizard.core.config import ChecksConfig, load_project_config
from oxwizard.core.errors import Abandoned, OxwizardError, ResolutionError, RollbackFailed, RunbookError
from oxwizard.core.places import runbook_repo_path
from oxwizard.env.environment import Environment
from oxwizard.env.plan import Plan, compute_plan, plan_files
from oxwizard.env.specs import IndexOptions, parse_specs
from oxwizard.flow.steps import CHECKLIST, StepName, step
from oxwizard.runbook.model import Decision, Evidence, FlowOptions, Runbook, load_runbook
from oxwizard.runbook.repo import RunbookRepo

if TYPE_CHECKING:
    from oxwizard.checks.risk import RiskSummary
    from oxwizard.checks.security import SecurityReport
    from oxwizard.env.api_report import ApiImpact
    from oxwizard.env.plan import Judged
    from oxwizard.runbook.project_branch import Landed
    from oxwizard.safety.checkpoint import Checkpoint
    from oxwizard.safety.rollback import RollbackResult
    from oxwizard.safety.stage import CloneStats

StepStatus = Literal["running", "passed", "failed", "warned", "skipped", "stopped"]
OutcomeStatus = Literal["upgraded", "rolled-back", "kept", "declined", "failed", "nothing-to-do"]

STEPS = CHECKLIST
# the time a flow spends outside oxwizard's own work (see UpgradeFlow._timing)
_SPENT = ("plan", "installer", "tests", "monitoring", "waiting")
# Decisions that close a runbook: a runbook whose last decision is not one of these is unfinished.
FINAL_STEPS = {"verdict", "outcome", "replay"}
# What `oxwizard monitor` adds to the newest runbook (its rounds, its verdict): after a run ended,
# they do not reopen it (see _end_of)
MONITOR_STEPS = {"monitor", "monitor-verdict"}


@dataclass(frozen=True)
class StepEvent:
    step: StepName
    status: StepStatus
    message: str
    elapsed: float | None = None
    progress: tuple[int, int] | None = None


@dataclass(frozen=True)
class Question:
    step: StepName
    text: str
    choices: tuple[str, ...]
    default: str
    detail: str = ""
    # the pins question: when not writing the files stops the upgrade, why (the conflict they clear)
    skip_stops: str = ""
    # set when a rollback or a stop was requested: a listener that waits for a person stops waiting
    cancelled: threading.Event | None = field(default=None, compare=False, repr=False)


class FlowListener(Protocol):
    """What a front end provides. Called from the flow's thread, except :meth:`interrupt`, and
    :meth:`on_step` when the checkpoint or the staging clone, each made in a thread of its own
    while the baseline checks run, is done (told from that thread)."""

    def on_step(self, event: StepEvent) -> None: ...
    def on_output(self, step: StepName, line: str) -> None: ...
    def on_checks(self, checkset: CheckSet) -> None: ...
    def ask(self, question: Question) -> str: ...
    def interrupt(self) -> None:
        """Called from any thread when a rollback or stop is requested: a pending :meth:`ask`
        returns at once (its answer is not used)."""


@dataclass(frozen=True)
class FlowOutcome:
    status: OutcomeStatus
    message: str
    exit_code: int


@dataclass(frozen=True)
class ResumeInfo:
    """An unfinished runbook: how far it got and whether live was changed."""

    runbook: Runbook
    path: Path
    last_step: str
    live_touched: bool
    checkpoint_id: str | None


class _Stop(Exception):
    """Ends the flow early with an outcome (not an error)."""

    def __init__(self, outcome: FlowOutcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


class _RollbackRequested(Exception):
    """A rollback was requested while the flow ran: it ends here, live restored or untouched."""


class _Isolate(Exception):
    """All the targets together failed the staging checks, and the flow looks for the culprits."""


class FlowStopped(Abandoned):
    """A stop was requested (the user quit): the flow ends where it stands, the runbook unfinished."""


class UpgradeFlow:
    """One upgrade of one environment, from plan to verdict."""

    def __init__(
        self,
        env: Environment,
        project: Path,
        requirements: list[Requirement],
        index: IndexOptions,
        *,
        listener: FlowListener,
        options: FlowOptions | None = None,
        config: ChecksConfig | None = None,
        answers: Mapping[str, str] | None = None,
        allow_externally_managed: bool = False,
        runbook_id: str | None = None,
        preset_plan: Plan | None = None,
        survive_hangup: bool = False,
        isolate: bool = False,
        parallel: int = 1,
    ) -> None:
        self.env = env
        self.project = project.resolve()
        self.requirements = requirements
        self.index = index
        self.listener = listener
        self.config = config if config is not None else load_project_config(self.project)
        self.options = options if options is not None else FlowOptions()
        self.answers = dict(answers or {})
        self.allow_externally_managed = allow_externally_managed
        self.repo_path = runbook_repo_path(self.project)
        self.plan: Plan | None = None
        self.risk: RiskSummary | None = None
        self.security: SecurityReport | None = None
        self.checkpoint: Checkpoint | None = None
        self.runbook: Runbook | None = None
        self.baseline: CheckSet | None = None
        self.stage_env: Environment | None = None
        self._stage_removal: threading.Thread | None = None
        # the baseline's later checks (its pip check child, its import smoke), run on live beside the
        # go question and the install in staging
        self._background: ThreadPoolExecutor | None = None
        self._pip_confirm: Future[CheckResult] | None = None
        self._smoke_confirm: Future[CheckResult] | None = None
        self._baseline_seconds: float | None = None
        # headless runs that go on from the plan to the verdict under one lock: the staging clone is
        # made while the plan's dry run runs, the installed targets' files left out or copied, every
        # other file linked, those of the rest of what changes left out or copied once known
        self.clone_while_planning = False
        self._early_clone: Future[tuple[Environment, CloneStats, float]] | None = None
        self.live_touched = False
        self.rolled_back = False
        self.last_rollback: RollbackResult | None = None  # the wizard's sha256 pass reads it
        # the checks on live that passed (the outcome says what they proved)
        self._on_live: CheckSet | None = None
        self.pins: Landed | None = None  # where the project's file edits landed (the pins step)
        self._runbook_id = runbook_id
        self._preset_plan = preset_plan  # replay: install exactly what was recorded
        self.survive_hangup = survive_hangup  # the wizard: an install outlives a lost terminal
        self._holding_lock = False
        self._done = 0
        self._stopper = proc.Stopper()
        self._lock = threading.Lock()
        self._asking = False
        self._running_step: StepName | None = None
        # where the time went (seconds), for the outcome's evidence: what oxwizard itself added is
        # the total less the plan, the installer, the user's tests, monitoring and waiting for answers
        self._started: float | None = None
        self._spent: dict[str, float] = dict.fromkeys(_SPENT, 0.0)
        self.running = False  # run() or run_from_live() is under way (in some thread)
        # upgrade --outdated: when all the targets fail together in staging, find the culprits in
        # trial clones (``parallel`` at once) and offer the rest; ``not_promoted`` names the culprits
        self.isolate = isolate
        self.parallel = parallel
        self.not_promoted: list[str] = []

    # -- control, from any thread ----------------------------------------------------------------------
    def request_rollback(self, reason: str = "requested") -> None:
        """Roll back now, whatever runs: the running child (installer, tests) is killed at once.
        Before the install on live, live is untouched: the flow checks it still matches the checkpoint
        and ends; after it, live is restored from the checkpoint and verified. :meth:`run` then returns
        a "rolled-back" outcome. Safe to call from any thread, at any moment, more than once."""
        self._request("rollback", reason, force=True)

    def request_stop(self, reason: str = "stopped") -> None:
        """End the flow where it stands (the user left): the running check is killed, an install on
        live is let finish (a kill would leave it half-done), and :meth:`run` raises
        :class:`FlowStopped` with the runbook unfinished, so the next start offers resume or rollback."""
        self._request("stop", reason, force=False)

    @property
    def requested(self) -> str | None:
        """ "rollback" or "stop" once asked for, else None."""
        reason = self._stopper.reason
        return reason[0] if reason else None

    def _request(self, kind: str, reason: str, *, force: bool) -> None:
        self._stopper.stop(kind, reason, force=force)
        with self._lock:
            asking = self._asking
        if asking:
            self.listener.interrupt()

    def _poll(self) -> None:
        """Called between steps and after every blocking call: honour a request."""
        reason = self._stopper.reason
        if reason is None:
            return
        kind, why = reason
        if kind == "rollback":
            raise _RollbackRequested(why)
        raise FlowStopped(f"stopped: {why}")

    # -- public -------------------------------------------------------------------------------------
    def prepare(self) -> Plan:
        """Plan, security and risk. Changes nothing; records the plan and the risk summary.

        Runs under the environment's lock, taken before anything is resolved or written: a second
        run on the same environment is refused at once (:class:`LockHeld`, naming the holder) and
        leaves no trace — no runbook file, no commit."""
        from oxwizard.checks.runner import require_commands
        from oxwizard.safety.lock import env_lock

        # a PEP 668 Python without --break-system-packages, a test command that cannot be started:
        # refused before anything runs
        self.env.require_writable(self.allow_externally_managed)
        require_commands(self.env, self.project, self.config)
        targets = " ".join(str(r) for r in self.requirements)
        said = partial(self._output, "plan")  # a stale lock taken over, a killed run's trial clone retired
        with env_lock(self.env, f"oxwizard upgrade {targets} (planning)".replace("  ", " "), on_stale=said):
            if self.clone_while_planning and self.options.stage and self._preset_plan is None:
                self._begin_early_clone()
            try:
                return self._prepare_locked()
            except BaseException:
                self._discard_early_clone()
                raise

    def _begin_early_clone(self) -> None:
        """Start the staging clone before the plan is known: the files of the targets already
        installed left out or copied, as for any change (the plan all but always changes them), every
        other file of site-packages a link to live's (nothing is written into the clone before
        :meth:`_start_stage` does the same with the files of the rest of what the plan changes).
        Made by a child process while pip's dry run, another, runs."""
        targets = {canonicalize_name(r.name) for r in self.requirements} & set(self.env.distributions)
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="early-clone")
        self._early_clone = pool.submit(
            contextvars.copy_context().run, self._clone, targets, while_planning=True
        )
        pool.shutdown(wait=False)

    def _clone(
        self, changing: Collection[str], *, while_planning: bool = False
    ) -> tuple[Environment, CloneStats, float]:
        """A staging clone linking all but ``changing`` (made by a child process), its counts, its time."""
        from oxwizard.safety.stage import CloneStats, create_stage

        started, stats = time.monotonic(), CloneStats(while_planning=while_planning)
        made = create_stage(self.env, changing=changing, stats=stats, own_process=True)
        return made, stats, _since(started)

    def _discard_early_clone(self) -> None:
        """The early clone, when the flow ends without using it: waited for and removed."""
        early, self._early_clone = self._early_clone, None
        if early is None:
            return
        from oxwizard.safety.stage import retire_stage

        try:
            made, _stats, _seconds = early.result()
        except Exception:  # noqa: BLE001 - a clone that failed left nothing (create_stage removes it)
            return
        retire_stage(made.root, self.env)

    def _prepare_locked(self) -> Plan:
        self._step("plan", "running", f"resolving {', '.join(str(r) for r in self.requirements)}")
        started = time.monotonic()
        self._started = started
        plan = self._preset_plan
        if plan is None:
            names = [canonicalize_name(r.name) for r in self.requirements]
            try:
                plan = compute_plan(
                    self.env, self.requirements, self.index, meanwhile=lambda: _preload_plan_step(names)
                )
            except ResolutionError as exc:  # the project's own uv indexes, when pip's sources lack them
                from oxwizard.env.project_files import missing_index_hint

                raise ResolutionError(f"{exc}{missing_index_hint(self.project, self.index)}") from None
            plan.project_files = plan_files(
                self.env, plan, self.project, raise_floors=self.options.raise_floors
            )
            plan.api_impact = self._api_impact(plan)
        self.plan = plan
        from oxwizard.checks.security import security_delta

        try:
            self.security = security_delta(
                plan, self.env, self.config, self.project, offline=self.index.no_index
            )
        except OxwizardError as exc:
            self._output("plan", f"security check unavailable: {exc}")
            self.security = None
        risk = self.reassess()
        with RunbookRepo(self.repo_path) as repo, repo.locked():  # the id is taken when first saved
            self.runbook = self._new_runbook(plan, repo)
            self._record(
                "plan",
                "What would the upgrade change?",
                plan.summary(),
                Evidence(counts={"changes": len(plan.changes)}, duration=time.monotonic() - started),
            )
        self._record_risk(risk)
        self._step("plan", "passed", plan.summary(), time.monotonic() - started)
        self._spent["plan"] = _since(started)
        return plan

    def _api_impact(self, plan: Plan) -> ApiImpact | None:
        """The plan's API impact (None, said in the output, when it cannot be read)."""
        from oxwizard.checks.api_impact import api_impact

        try:
            return api_impact(
                self.env,
                plan,
                self.index,
                self.project,
                said=lambda doing: self._step("plan", "running", doing),
            )
        except OxwizardError as exc:
            self._output("plan", f"API impact unavailable: {exc}")
            return None

    def stop_before_change(self, why: str) -> FlowOutcome:
        """End after :meth:`prepare`, before anything is changed (no checkpoint, no staging clone):
        the runbook records the go decision as "wait" with ``why``, then the outcome (exit code 2)."""
        assert self.plan is not None, "prepare() first"
        question = step("go").question.format(summary=self.plan.summary())
        self._record("go", question, "wait", Evidence(detail=why))
        self._step("go", "stopped", "wait")
        return self._finish(FlowOutcome("declined", f"stopped before any change: {why}", 2))

    def run(self) -> FlowOutcome:
        """Run the flow to its end; every failure leaves live untouched or rolled back."""
        from oxwizard.safety.lock import env_lock

        if self.plan is None:
            self.prepare()
        assert self.plan is not None
        if self.plan.is_empty:
            files = self.plan.project_files
            but = "".join(f"; but {why}" for why in (files.undone if files is not None else []))
            return self._finish(FlowOutcome("nothing-to-do", f"nothing to change: already satisfied{but}", 0))
        self.env.require_writable(self.allow_externally_managed)
        self.running = True
        try:
            what = "oxwizard upgrade " + " ".join(self.plan.targets)
            with self._stopper.active(), env_lock(self.env, what):
                self._holding_lock = True
                try:
                    return self._finish(self._guarded(self._run_locked))
                finally:
                    self._holding_lock = False
        except _Stop as stop:
            return self._finish(stop.outcome)
        except Abandoned:
            raise
        except BaseException as exc:
            # Any error or interrupt (SIGINT, SIGTERM turned into SystemExit): never leave live
            # half-upgraded. Roll back to the checkpoint, record how it ended, re-raise.
            why = _ended_by(exc)
            self._safe_rollback(f"interrupted: {why}")
            self._record("outcome", "How did it end?", f"failed: {why}")
            raise
        finally:
            self.running = False
            self._cleanup_stage()

    def run_from_live(self) -> FlowOutcome:
        """Resume after promotion: checks on live, monitoring, verdict."""
        from oxwizard.safety.lock import env_lock

        self.running = True
        try:
            said = partial(self._output, "checks-live")  # a stale lock taken over, a trial clone retired
            with self._stopper.active(), env_lock(self.env, "oxwizard upgrade (resume)", on_stale=said):
                self._holding_lock = True
                try:
                    self.live_touched = True
                    return self._finish(self._guarded(self._after_promote))
                except _Stop as stop:
                    return self._finish(stop.outcome)
                finally:
                    self._holding_lock = False
        finally:
            self.running = False

    def _guarded(self, body: Callable[[], FlowOutcome]) -> FlowOutcome:
        """Run ``body``; a rollback requested meanwhile ends it rolled back. A step whose child was
        killed by a request fails in its own way (an error, a missing result): the request explains
        it, so an error raised while a request is pending is the request."""
        try:
            try:
                self._poll()
                return body()
            except (_Stop, Abandoned, _RollbackRequested, RollbackFailed):
                raise
            except Exception:
                self._poll()
                raise
        except _RollbackRequested as req:
            return self._rollback_on_request(str(req))

    @property
    def _checkpoint_id(self) -> str | None:
        """The checkpoint this flow rolls back to: its own, or its (resumed) runbook's."""
        if self.checkpoint is not None:
            return self.checkpoint.id
        return self.runbook.checkpoint_id if self.runbook is not None else None

    def _rollback_on_request(self, reason: str) -> FlowOutcome:
        """A rollback asked for while the flow ran: restore (or confirm live untouched), verified."""
        running, self._running_step = self._running_step, None
        if running is not None:
            self._step(running, "stopped", "stopped: rollback requested")
        self._output("rollback", f"rollback requested ({reason}): the running step was stopped")
        if self._checkpoint_id is None:
            self._step("rollback", "passed", "live untouched: nothing had been changed yet")
            self._record("rollback", f"Roll back ({reason})?", "live untouched: no checkpoint was needed yet")
            return FlowOutcome("rolled-back", "stopped by request before anything changed; live untouched", 0)
        result = self.rollback(reason)
        if result.noop:
            untouched = f"live untouched, matches checkpoint {result.checkpoint_id}"
            return FlowOutcome("rolled-back", f"stopped by request: {untouched}", 0)
        return FlowOutcome("rolled-back", f"rolled back by request to {result.checkpoint_id}; verified", 0)

    def rollback(self, reason: str = "requested") -> RollbackResult:
        """Restore live to the checkpoint and record the verified result (the one key)."""
        from oxwizard.safety.lock import env_lock
        from oxwizard.safety.rollback import rollback

        self._step("rollback", "running", f"rolling back ({reason})")
        started = time.monotonic()
        to = self._checkpoint_id

        def go() -> RollbackResult:
            return rollback(self.env, to, on_line=lambda ln: self._output("rollback", ln), index=self.index)

        try:
            if self._holding_lock:
                result = go()
            else:
                with env_lock(self.env, "oxwizard rollback"):
                    result = go()
        except RollbackFailed as exc:
            self._step("rollback", "failed", str(exc), time.monotonic() - started)
            self._record("rollback", f"Roll back ({reason})?", "FAILED: " + str(exc))
            raise
        self.rolled_back = True
        self.live_touched = False
        self.env.refresh()
        if result.noop and result.verified:
            verdict = f"live untouched, matches checkpoint {result.checkpoint_id}"
        else:
            verdict = "no-op: " + result.message if result.noop else result.message
        self._record(
            "rollback",
            f"Roll back ({reason})?",
            f"rolled back to {result.checkpoint_id}, verified"
            if result.verified and not result.noop
            else verdict,
            Evidence(
                counts={"restored_files": result.restored_files, "removed": len(result.removed)},
                duration=result.duration,
                detail=f"method {result.method}; fingerprint {result.fingerprint_after}",
            ),
        )
        self.last_rollback = result
        self._step("rollback", "passed", verdict, time.monotonic() - started)
        self._unpin()
        return result

    # -- the steps ------------------------------------------------------------------------------------
    def _run_locked(self) -> FlowOutcome:
        plan = self.plan
        assert plan is not None and self.runbook is not None
        recorded = self.runbook.last("risk")
        if self.risk is not None and recorded is not None and recorded.answer != _risk_line(self.risk):
            self._record_risk(self.risk)  # reassessed since (the wizard's ``u``): the risk it goes with
        from oxwizard.checks.compat import pip_check, pip_check_metadata

        # The checkpoint and the staging clone are each made in a thread of their own while the
        # baseline checks run on live: nothing changes live before the go, and under the
        # environment's lock live and its clone hold the same files, so the baseline is the same on
        # either. Both are waited for before the benchmark, which must have the machine to itself,
        # and recorded (checkpoint, stage, baseline) once the baseline is done. With staging, the
        # baseline's pip check is read from the metadata at first and its child runs afterwards,
        # and its import smoke runs afterwards too, both beside the install in staging (they would
        # only slow the tests, the clone and the checkpoint down here, on a core the installer
        # leaves idle there; live is untouched until the promotion), taken in by the checks in
        # staging, the first to need them; without, both run at once, as live changes next.
        run = contextvars.copy_context().run
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="before-go") as early:
            checked = early.submit(run, pip_check_metadata if self.options.stage else pip_check, self.env)
            cloning = self._start_stage(early) if self.options.stage else None
            checkpointing: Future[tuple[Checkpoint, float]] | None = None

            def quiet() -> None:
                for work in (checkpointing, cloning):
                    if work is not None:
                        work.exception()

            try:
                checkpointing = self._start_checkpoint(early, plan)
                if not self.options.stage:
                    self._step(
                        "stage", "skipped", "staging skipped (--no-stage): the upgrade is tried on live"
                    )
                baseline = self._run_baseline(plan, checked, quiet=quiet)
            finally:
                try:
                    if checkpointing is not None:
                        self._end_checkpoint(checkpointing)
                finally:
                    if cloning is not None:
                        self._end_stage(cloning)
            self._poll()
            self._record_baseline(baseline)
        if self.options.stage:  # at a lower priority than the installer's, beside which they run
            from oxwizard.checks.compat import import_smoke

            self._background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="baseline-later")
            smoke = partial(import_smoke, project=self.project, at_baseline=True)
            self._pip_confirm = self._later(pip_check, self.env)
            self._smoke_confirm = self._later(smoke, self.env, [c.name for c in plan.changes])
            self._smoke_confirm.add_done_callback(self._smoked_before)

        go = self._ask("go", detail=self.risk.recommendation if self.risk else "", summary=plan.summary())
        if go != "go":
            raise _Stop(FlowOutcome("declined", "not now: nothing was changed", 0))

        upgraded = [c.name for c in plan.changes]
        if self.options.stage:
            assert self.stage_env is not None
            self._install("install-staging", self.stage_env, journaled=False)
            try:
                self._gate("checks-staging", self.stage_env, upgraded, live=False)
            except _Isolate:
                self._promote_safe_part()
            self._write_pins()
        self._install("promote", self.env, journaled=True)
        self._drop_stage(background=True)
        outcome = self._after_promote()
        if self.not_promoted and outcome.status == "upgraded":
            told = "; not promoted: " + "; ".join(self.not_promoted)
            return FlowOutcome(outcome.status, outcome.message + told, outcome.exit_code)
        return outcome

    def _promote_safe_part(self) -> None:
        """All the targets failed together in staging: the culprit search in trial clones, then the
        question whether to promote the largest set that passed (``upgrade --outdated``)."""
        from oxwizard.flow.trials import StagingTrials, TrialResult, find_culprits
        from oxwizard.runbook.model import TrialRecord

        plan, runbook = self.plan, self.runbook
        assert plan is not None and runbook is not None
        pins: dict[str, str] = {}  # each target at the version the whole set was tried with
        for target in plan.targets:
            name = canonicalize_name(Requirement(target).name)
            change = plan.change_for(name)
            pins[name] = f"{name}=={change.to_version}" if change and change.to_version else target
        started = time.monotonic()
        trials = StagingTrials(
            self.env, self.project, self.config, self.index, self.baseline, pins,
            on_line=lambda ln: self._output("isolate", ln), poll=self._poll,
            allow_externally_managed=self.allow_externally_managed,
        )  # fmt: skip

        def on_start(units: int, most: int) -> None:
            self._step(
                "isolate", "running",
                f"{len(pins)} targets ({units} units) fail together: finding the culprits, at most "
                f"{most} trials for one culprit, about twice as many for a pair, {self.parallel} at once",
            )  # fmt: skip

        def on_trial(r: TrialResult) -> None:
            installed = r.plan.pinned if r.plan is not None else []
            runbook.trials.append(
                TrialRecord(number=r.number, targets=list(r.pins), installed=installed, ok=r.ok,
                            summary=r.summary, evidence=list(r.evidence), duration=r.duration)
            )  # fmt: skip
            said = f"trial {r.number}: {' '.join(r.pins)} -> {r.summary}"
            self._step("isolate", "passed" if r.ok else "failed", said, r.duration)

        found = find_culprits(trials, plan, parallel=self.parallel, on_start=on_start, on_trial=on_trial)
        self.not_promoted = found.lines()
        self._record(
            "isolate",
            "Which targets break the checks?",
            "; ".join(self.not_promoted),
            Evidence(counts={"trials": len(found.trials), "culprits": len(found.culprits)},
                     duration=_since(started), detail="\n".join(self.not_promoted)),
        )  # fmt: skip
        self._step("isolate", "failed", f"{len(found.trials)} trials: " + "; ".join(self.not_promoted))
        passing = found.passing_plan
        if passing is None:
            why = "no part of the targets passes the checks: live is untouched"
            raise _Stop(FlowOutcome("failed", f"{why}; " + "; ".join(self.not_promoted), 1))
        answer = self._ask(
            "promote-set",
            detail="\n".join(["Not promoted:", *self.not_promoted]),
            count=len(found.passing),
            total=len(pins),
        )
        if answer != "promote":
            raise _Stop(
                FlowOutcome("declined", "the targets that pass were not promoted: live is untouched", 0)
            )
        passing.project_files = plan_files(
            self.env, passing, self.project, raise_floors=self.options.raise_floors
        )
        self._logs_from_now()  # the trials wrote to the project's logs
        runbook.tried_targets = list(plan.targets)
        runbook.targets = list(passing.targets)
        runbook.set_plan(passing)  # what a replay re-applies: the promoted set only
        self.plan = passing
        promoting = f"promoting {len(passing.targets)} of {len(pins)}: {passing.summary()}"
        self._step("promote-set", "passed", promoting)  # the wizard's screens take the plan from here
        self._ack_warnings(list(found.passing_warnings))  # as after a staging gate that passed
        covered = set(self.checkpoint.changed) if self.checkpoint is not None else set()
        if not {c.name for c in passing.changes if c.name in self.env.distributions} <= covered:
            self._take_checkpoint(passing)

    def _take_checkpoint(self, plan: Plan) -> None:
        """Record the current state of live; its manifest is committed with the decision."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint") as pool:
            self._end_checkpoint(self._start_checkpoint(pool, plan))
        self._poll()

    def _start_checkpoint(self, pool: ThreadPoolExecutor, plan: Plan) -> Future[tuple[Checkpoint, float]]:
        """Start taking the checkpoint of live in ``pool``: (the checkpoint, its time). What it
        stashes is read, and the disk space for it checked, here and now (a checkpoint that cannot
        be taken stops the flow before anything else starts)."""
        from oxwizard.safety.checkpoint import list_checkpoint, take_checkpoint

        self._step("checkpoint", "running", "recording the current state")
        started = time.monotonic()
        listing = list_checkpoint(self.env, plan)

        def take() -> tuple[Checkpoint, float]:
            return take_checkpoint(self.env, plan, listing), _since(started)

        taking = pool.submit(contextvars.copy_context().run, take)
        taking.add_done_callback(self._checkpoint_taken)
        return taking

    def _checkpoint_taken(self, taking: Future[tuple[Checkpoint, float]]) -> None:
        """Shown as soon as it is taken (recorded by :meth:`_end_checkpoint`)."""
        if not taking.cancelled() and taking.exception() is None:
            ck, seconds = taking.result()
            self._tell("checkpoint", "passed", f"{ck.id} · {ck.files} files · {_size(ck.size)}", seconds)

    def _end_checkpoint(self, taking: Future[tuple[Checkpoint, float]]) -> None:
        """Wait for the checkpoint and record it (its error, if it failed, is raised here)."""
        assert self.runbook is not None
        ck, seconds = taking.result()
        self.checkpoint = ck  # a rollback asked for from now on checks live against it
        self.runbook.checkpoint_id = ck.id
        manifest = self.repo_path / "checkpoints" / f"{ck.id}.json"
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text(ck.model_dump_json(indent=2) + "\n", encoding="utf-8")
        self._record(
            "checkpoint",
            "Where can we roll back to?",
            f"{ck.id}: {len(ck.changed)} dists, {ck.files} files, {_size(ck.size)}",
            Evidence(counts={"files": ck.files, "bytes": ck.size}, duration=seconds),
            extra=[manifest],
        )

    def _start_stage(self, pool: ThreadPoolExecutor) -> Future[tuple[Environment, CloneStats, float]]:
        """Start making the staging clone where the upgrade is tried first, in ``pool``."""
        from oxwizard.safety.stage import copy_changing, retire_stage

        assert self.plan is not None
        self._step("stage", "running", "cloning the environment for staging")
        # the files of what the plan replaces are left out (what the installer removes) or copied,
        # the rest of site-packages is linked
        changing = {c.name for c in self.plan.changes if c.name in self.env.distributions}

        early, self._early_clone = self._early_clone, None
        planned = self.plan.env_fingerprint

        def clone() -> tuple[Environment, CloneStats, float]:
            if early is not None:  # made while planning: used when it holds what the plan was made on
                try:
                    made, stats, seconds = early.result()
                except Exception:  # noqa: BLE001 - made again below, where a failure is the stage's
                    made = None
                if made is not None and made.fingerprint() == planned:
                    started = time.monotonic()
                    copy_changing(self.env, made, changing, stats)
                    return made, stats, seconds + _since(started)
                if made is not None:
                    retire_stage(made.root, self.env)  # refreshed at once by the clone below
            return self._clone(changing)

        cloning = pool.submit(contextvars.copy_context().run, clone)
        cloning.add_done_callback(self._stage_made)
        return cloning

    def _stage_made(self, cloning: Future[tuple[Environment, CloneStats, float]]) -> None:
        """Shown as soon as the clone is made (recorded by :meth:`_end_stage`)."""
        if not cloning.cancelled() and cloning.exception() is None:
            made, stats, seconds = cloning.result()
            how = "refreshed a kept clone" if stats.refreshed else "cloned"
            if stats.while_planning:
                how += " while planning"
            elif not stats.refreshed:
                how = ""
            self._tell("stage", "passed", f"{made.root} ({how})" if how else str(made.root), seconds)

    def _end_stage(self, cloning: Future[tuple[Environment, CloneStats, float]]) -> None:
        """Wait for the staging clone and record it; once made, it is the flow's to remove whatever
        happens next (so this runs however the work beside it ended)."""
        made, stats, seconds = cloning.result()
        self.stage_env = made
        self._poll()
        self._record(
            "stage",
            "Where is the upgrade tried first?",
            f"staging clone {made.root}" + (" (refreshed a kept clone)" if stats.refreshed else ""),
            Evidence(
                counts={
                    "linked_files": stats.linked,
                    "copied_files": stats.copied,
                    "reused_entries": stats.reused,
                },
                duration=seconds,
            ),
        )

    def _run_baseline(
        self, plan: Plan, pip_checked: Future[CheckResult], quiet: Callable[[], object] | None
    ) -> tuple[CheckSet, float]:
        """The checks on the current version, on live (the staging clone, being made meanwhile, holds
        the same files); ``pip_checked``: the pip check already under way on live; ``quiet``: waits
        for the checkpoint and the clone before a benchmark. Recorded by :meth:`_record_baseline`,
        after them."""
        from oxwizard.checks.suite import run_checks

        self._step("baseline", "running", "baseline checks on live")
        started = time.monotonic()
        baseline = run_checks(
            self.env,
            self.project,
            self.config,
            "baseline",
            upgraded=[c.name for c in plan.changes],  # the smoke imports the same modules before and after
            on_line=lambda ln: self._output("baseline", ln),
            pip_checked=pip_checked,
            before_benchmark=quiet,
            smoke_later=self.options.stage,
        )
        self._poll()  # checks killed by a request are not evidence: nothing of them is recorded
        return baseline, started

    def _record_baseline(self, done: tuple[CheckSet, float]) -> None:
        self.baseline, started = done
        self.listener.on_checks(self.baseline)
        self._record_checks("baseline", "What does the current version give?", self.baseline, started)
        self._baseline_seconds = _since(started)
        self._step(
            "baseline",
            "passed" if self.baseline.ok else "warned",
            _checks_line(self.baseline),
            self._baseline_seconds,
        )

    def _smoked_before(self, smoking: Future[CheckResult]) -> None:
        """The baseline's import smoke, run after it was recorded, told as soon as it ends (from its
        thread): the baseline's line again, with it (in the wizard, while the go is asked). The
        staging checks take it into the baseline's evidence. Nothing after a stop or rollback
        request, which killed it."""
        if smoking.cancelled() or smoking.exception() is not None or self._stopper.reason is not None:
            return
        if self.baseline is None:
            return
        real = smoking.result()
        seen = self.baseline.with_result(real)
        self._tell("baseline", "passed" if seen.ok else "warned", _checks_line(seen), self._baseline_seconds)

    def _after_promote(self) -> FlowOutcome:
        assert self.plan is not None
        upgraded = [c.name for c in self.plan.changes]
        self._gate("checks-live", self.env, upgraded, live=True)
        if not self.options.stage:  # nothing was tried before live: the files are written now
            self._write_pins()
        healthy, detail = True, ""
        if self.options.monitor_rounds > 0:
            watching = time.monotonic()
            healthy, detail = self._monitor(upgraded)
            self._spent["monitoring"] += _since(watching)
        verdict = self._ask(
            "verdict",
            default="success" if healthy else "rollback",
            detail=detail,
            question="Declare success, or roll back?" if healthy else "Monitoring found problems: roll back?",
        )
        if verdict == "rollback":
            self.rollback("verdict")
            return FlowOutcome(
                "rolled-back", "rolled back after monitoring; verified", 1 if not healthy else 0
            )
        if not healthy:  # kept against what monitoring found: never "verified"
            found = "; ".join(detail.splitlines()[:2])
            return FlowOutcome("kept", f"monitoring found problems ({found}); kept by decision", 1)
        unproven = _unproven(self._on_live) if self._on_live is not None else ""
        if unproven:  # "verified" only when no check was left without evidence (no tests found)
            return FlowOutcome("upgraded", f"{self.plan.summary()}; on live, checks passed but {unproven}", 0)
        return FlowOutcome("upgraded", f"{self.plan.summary()}; verified on live", 0)

    def _install(self, step: StepName, env: Environment, *, journaled: bool) -> None:
        from oxwizard.safety.apply import apply_plan

        assert self.plan is not None
        where = "live" if journaled else "staging"
        self._step(step, "running", f"installing {' '.join(self.plan.pinned)} in {where}")
        started = time.monotonic()
        if journaled:
            self.live_touched = True
        try:
            # on live, only a rollback request kills the installer (and the rollback that follows
            # restores whatever it had done); a stop lets it finish, so live is never left half-done
            with self._stopper.protected() if journaled else contextlib.nullcontext():
                result = apply_plan(
                    env,
                    self.plan,
                    self.index,
                    checkpoint=self.checkpoint if journaled else None,
                    on_line=lambda ln: self._output(step, ln),
                    journaled=journaled,
                    allow_externally_managed=self.allow_externally_managed,
                    survive_hangup=self.survive_hangup,
                )
        except BaseException:
            if journaled:
                self._safe_rollback("install on live failed")
            raise
        # apply_plan read the installed distributions again after the installer (to verify them)
        if self.requested == "rollback":
            self._step(step, "stopped", "stopped: rollback requested", _since(started))
            self._record(step, f"Install the plan in {where}?", "stopped: rollback requested")
            self._poll()
        detail = "; ".join(result.mismatches)
        self._spent["installer"] += result.duration
        self._record(
            step,
            f"Install the plan in {where}?",
            "installed " + " ".join(self.plan.pinned) if result.ok else f"install FAILED: {detail}",
            Evidence(counts={"installed": len(self.plan.pinned)}, duration=result.duration, detail=detail),
        )
        if not result.ok:
            self._step(step, "failed", f"install failed: {detail}", _since(started))
            if journaled:
                self.rollback("install on live failed")
                raise _Stop(FlowOutcome("rolled-back", "install failed on live: rolled back, verified", 1))
            raise _Stop(FlowOutcome("failed", "install failed in staging: live is untouched", 1))
        self._step(step, "passed", f"installed in {where}", _since(started))

    def _gate(self, step: StepName, env: Environment, upgraded: list[str], *, live: bool) -> None:
        from oxwizard.checks.predicted import with_predictions
        from oxwizard.checks.suite import run_checks

        phase: Literal["staging", "live"] = "live" if live else "staging"
        pending, self._pip_confirm = self._pip_confirm, None  # the baseline's pip check, still running
        smoked, self._smoke_confirm = self._smoke_confirm, None  # and its import smoke
        attempt = 0
        while True:
            attempt += 1
            again = f" (attempt {attempt})" if attempt > 1 else ""  # a retry is seen to have run
            self._step(step, "running", f"checks on {phase}{again}")
            started = time.monotonic()
            judged = self._judged()
            cs = run_checks(
                env,
                self.project,
                self.config,
                phase,
                upgraded=upgraded,
                baseline=self.baseline,
                on_line=lambda ln: self._output(step, ln),
                pip_checked=self._pip_check_after(pending, env, upgraded, judged),
                smoked_before=smoked,
                judged=judged,
            )
            for name in ("tests", "import-smoke", "warnings"):  # what the plan's API impact named
                failed = cs.get(name)
                if failed is not None and self.plan is not None:
                    cs = cs.with_result(with_predictions(failed, self.plan.api_impact, self.project))
            self._poll()
            confirmed, pending, smoked = self._confirm_baseline(pending, smoked), None, None
            self.listener.on_checks(cs)
            self._record_checks(step, f"Do the checks pass on {phase}?", cs, started, confirmed)
            if cs.ok:
                warns = bool(cs.new_warnings or _unproven(cs))  # a check that proved nothing: "!"
                self._step(step, "warned" if warns else "passed", _checks_line(cs), _since(started))
                if live:
                    self._on_live = cs
                break
            reason = ", ".join(r.name for r in cs.failed) + " failed"
            # the attempt first: a narrow steps box keeps the start of the line
            self._step(step, "failed", f"attempt {attempt}: {reason}" if again else reason, _since(started))
            if not live and self.isolate and len(self.plan.targets if self.plan else []) > 1:
                raise _Isolate(reason)
            choice = self._ask(
                step,
                detail="\n".join(
                    ["Live is untouched." if not live else "Live has the new version."]
                    # each failed check, then what the plan predicted of it (under it, not the last's)
                    + [
                        line
                        for r in cs.failed
                        for line in [
                            f"{r.name}: {r.summary}",
                            *(f"  {p}" for p in r.details.get("predicted", [])),
                        ]
                    ]
                ),
                after_failure=True,
                reason=reason,
            )
            if choice == "retry":  # the failed attempt's log lines are not the next one's
                self._logs_from_now()
                continue
            if live and choice == "rollback":
                self.rollback(f"{step} failed")
                raise _Stop(
                    FlowOutcome("rolled-back", f"checks failed on live ({reason}): rolled back, verified", 1)
                )
            if live:
                raise _Stop(FlowOutcome("kept", f"checks failed on live ({reason}); kept by decision", 1))
            raise _Stop(FlowOutcome("failed", f"checks failed in staging ({reason}): live is untouched", 1))
        if not live:
            warned = cs.get("warnings")
            self._ack_warnings(cs.new_warnings, warned.details.get("predicted", []) if warned else [])

    def _logs_from_now(self) -> None:
        """The project's logs are read from here on by the checks that follow: what earlier runs of
        the upgraded code wrote there (a failed attempt, the culprit search's trials) is theirs."""
        if self.baseline is not None:
            from oxwizard.checks.logs import mark_logs

            marks = mark_logs(self.project, self.config)
            self.baseline = self.baseline.model_copy(update={"log_marks": marks})

    def _ack_warnings(self, new_warnings: list[str], predicted: Sequence[str] = ()) -> None:
        """New warnings in staging are acknowledged before live is touched (asked, --yes, replay)."""
        if not new_warnings:
            return
        named = [
            f"  the plan named it: {line.split(' — ')[0]}" for line in predicted
        ]  # the use, not the change
        detail = "\n".join([*new_warnings, *named])
        answer = self._ask("ack-warnings", detail=detail, count=len(new_warnings))
        if answer != "acknowledge":
            raise _Stop(FlowOutcome("declined", "stopped on new warnings: live is untouched", 1))

    def _monitor(self, upgraded: list[str]) -> tuple[bool, str]:
        """The monitoring rounds on live: (healthy, which round failed which check)."""
        from oxwizard.checks.monitor import monitor, record_round

        total = self.options.monitor_rounds
        self._step("monitor", "running", f"{total} monitoring rounds on live")
        started = time.monotonic()

        def on_round(n: int, cs: CheckSet) -> None:
            self.listener.on_checks(cs)
            assert self.runbook is not None
            with RunbookRepo(self.repo_path) as repo:
                record_round(repo, self.runbook, n, total, cs)
            self._step("monitor", "running", f"round {n} of {total}: {_round_line(cs)}", _since(started))

        result = monitor(
            self.env,
            self.project,
            self.config,
            rounds=total,
            interval=self.options.monitor_interval,
            baseline=self.baseline,
            upgraded=upgraded,
            on_round=on_round,
            on_line=lambda ln: self._output("monitor", ln),
            stop=self._stopper.event,
            judged=self._judged(),  # as the checks on live judged the project's own old requirement
        )
        self._poll()
        failed = result.failures()
        self._step(
            "monitor",
            "passed" if result.healthy else "failed",
            f"{total} of {total} rounds healthy" if result.healthy else "; ".join(failed),
            _since(started),
        )
        return bool(result.healthy), "\n".join(failed)

    def _write_pins(self) -> None:
        """The ``pins`` step (with ``update_pins``): the diff shown, asked, then the edits committed on
        a new branch of the project (or written as a patch). A planned line changed since the plan,
        or a lock tool resolving something else than staging tested, stops the flow before promote."""
        from oxwizard.flow import pins

        assert self.plan is not None and self.runbook is not None
        if not pins.wanted(self.plan, self.options.update_pins) or self.runbook.last("pins") is not None:
            return
        started = time.monotonic()
        self._step("pins", "running", "preparing the edits of the project files")
        branch, rid = self.options.pins_branch, self.runbook.id
        try:
            prepared = pins.prepare_pins(
                self.project, self.plan, pip_argv=self.env.pip_argv(), index=self.index, runbook_id=rid,
                branch=branch,
            )  # fmt: skip
            for line in prepared.diff.splitlines():
                self._output("pins", line)
            # staging passed with the edits: without them, before live, the project conflicts with it
            cleared = self._cleared()
            stops = cleared[0] if cleared and not self.live_touched else ""
            if self._ask("pins", detail=prepared.diff, skip_stops=stops, branch=prepared.where) != "write":
                self._step("pins", "skipped", "project files not written (skip)", _since(started))
                if stops:
                    raise _Stop(FlowOutcome("declined", "the project files are not written, and without them "
                                            f"the project conflicts with the upgrade ({stops}): live "
                                            "is untouched", 0))  # fmt: skip
                return
            staged = (self.stage_env or self.env).distributions
            landed = pins.land_pins(
                self.project, prepared, runbook_id=rid, branch=branch, index=self.index,
                staged={canonicalize_name(d.name): d.version for d in staged.values()},
                python=(self.stage_env or self.env).python,
            )  # fmt: skip
        except OxwizardError as exc:  # a planned line changed, a branch exists, a lock tool failed
            self._step("pins", "failed", str(exc), _since(started))
            self._record("pins", "Write the upgrade into the project files?", f"not written: {exc}")
            if self.live_touched:
                return  # --no-stage: live has it already; the verdict is still the user's
            raise _Stop(FlowOutcome("failed", f"project files: {exc}; live is untouched", 1)) from None
        self.pins = landed
        cleared = self._cleared()
        if cleared:  # the project's installed metadata keeps its old requirement
            from oxwizard.env.project_files import own_distribution, reinstall_command

            own = own_distribution(self.project, self.env.distributions)
            again = reinstall_command(self.project, self.env.distributions.get(own) if own else None)
        for line in cleared:
            merged = f"until the project is installed again from the merged files (`{again}`)"
            landed.notes.append(f"{merged}, pip check reports: {line}")
        for note in [landed.note, *landed.notes]:
            self._output("pins", note)
        patch = [self.project / landed.evidence.patch] if landed.evidence.patch else None
        detail = "; ".join([landed.note, *landed.notes])
        self._record(
            "pins", "Where did the project's file edits land?", landed.line(),
            Evidence(detail=detail, pins=landed.evidence, duration=_since(started)), extra=patch,
        )  # fmt: skip
        self._step("pins", "passed", landed.line(), _since(started))

    def _record_risk(self, risk: RiskSummary) -> None:
        self._record("risk", "How risky is it?", _risk_line(risk), Evidence(detail="; ".join(risk.reasons)))

    def reassess(self) -> RiskSummary:
        """The plan's risk summary with the options as they are now (the wizard's ``u`` turns the
        writing of the project files on and off after the plan): the flow's risk from then on."""
        from oxwizard.checks.risk import assess  # imported while the dry run ran (_preload_plan_step)
        from oxwizard.flow import pins

        assert self.plan is not None
        self.risk = assess(
            self.plan,
            security=self.security,
            tests_found=self._tests_found(),
            pins=pins.wanted(self.plan, self.options.update_pins),
            cleared=self._cleared(),
        )
        return self.risk

    def _cleared(self) -> list[str]:
        """The plan's predicted ``pip check`` problems that are the project's own old requirements,
        rewritten by the pins step (:meth:`_judged`): none without ``--update-pins`` or such a problem."""
        from oxwizard.env.plan import cleared_problems

        plan = self.plan
        return cleared_problems(self.env, plan.changes, plan.pip_check_after, self._judged()) if plan else []

    def _judged(self) -> dict[str, dict[str, str]]:
        """With ``--update-pins``: the project's own distribution's requirements that the pins step
        rewrites, judged as the edited files say them (:func:`~oxwizard.env.plan.cleared_by_pins`)."""
        from oxwizard.env.plan import cleared_by_pins
        from oxwizard.env.project_files import own_distribution
        from oxwizard.flow import pins

        if self.plan is None or not pins.wanted(self.plan, self.options.update_pins):
            return {}
        return cleared_by_pins(own_distribution(self.project, self.env.distributions), self.plan)

    def _unpin(self) -> None:
        """After a rollback: the branch the upgrade's files were written on goes too (if unmerged and
        still oxwizard's commit; otherwise it stays, and the output says why)."""
        from oxwizard.flow.pins import unpin

        with proc.unstoppable():  # a rollback by request stopped the flow's stopper: git must still run
            said = unpin(self.project, self.runbook) if self.runbook is not None else None
        if said is not None:
            self._output("rollback", said)
            self._record("pins", "Remove the branch of the project's files?", said)

    # -- helpers ----------------------------------------------------------------------------------------
    def _ask(
        self,
        name: StepName,
        *,
        detail: str = "",
        default: str | None = None,
        after_failure: bool = False,
        skip_stops: str = "",
        **fields: object,
    ) -> str:
        """Ask the step table's question of ``name`` (its template filled from ``fields``)."""
        table = step(name)
        text, choices = table.question.format(**fields), table.choices
        default = default or table.default
        recorded = self.answers.get(name)
        if recorded is not None and recorded in choices:
            answer = recorded
        else:
            with self._lock:
                self._asking = True
            try:
                self._poll()
                q = Question(name, text, choices, default, detail, skip_stops, cancelled=self._stopper.event)
                asked = time.monotonic()
                answer = self.listener.ask(q)
                self._spent["waiting"] += _since(asked)
            finally:
                with self._lock:
                    self._asking = False
            if answer not in choices:
                answer = default
        self._poll()
        self._record(name, text, answer)
        if after_failure:  # the decision does not turn the failed step green
            self._step(name, "failed", f"{answer} (after the failure)")
        else:
            self._step(name, "passed", answer)
        return answer

    def _record(
        self,
        step: str,
        question: str,
        answer: str,
        evidence: Evidence | None = None,
        extra: list[Path] | None = None,
    ) -> None:
        if self.runbook is None:
            return
        with RunbookRepo(self.repo_path) as repo:
            repo.decide(
                self.runbook,
                Decision(step=step, question=question, answer=answer, evidence=evidence),
                extra=extra,
            )

    def _later(self, work: Callable[..., CheckResult], *args: object) -> Future[CheckResult]:
        """``work(*args)`` in the background pool, in this thread's context (the flow's stopper
        reaches its children), the children at a lower priority (:func:`proc.in_background`)."""
        assert self._background is not None
        return self._background.submit(contextvars.copy_context().run, proc.in_background, work, *args)

    def _pip_check_after(
        self, pending: Future[CheckResult] | None, env: Environment, upgraded: list[str], judged: Judged
    ) -> Future[CheckResult] | None:
        """The staging phase's pip check, judged against the baseline's (``pending``, the child run
        on live beside the install in staging): queued behind it, while the tests start."""
        from oxwizard.checks.compat import pip_check

        if pending is None or self._background is None:
            return None
        return self._background.submit(
            contextvars.copy_context().run,
            lambda: pip_check(env, baseline=pending.result(), changed=upgraded, judged=judged),
        )

    def _confirm_baseline(self, *pending: Future[CheckResult] | None) -> list[Path]:
        """The baseline's checks run after it was recorded (``pending``, ended) take their places in
        it: its ``pip check`` child that of the verdict it was recorded with (read from the
        metadata), so that the later phases know whether the two agree; its import smoke the place
        left for it. The baseline's evidence file is written again and committed with the next
        decision (the paths returned)."""
        from oxwizard.checks.result import save_checkset

        done = [p.result() for p in pending if p is not None]
        if not done or self.baseline is None or self.runbook is None:
            return []
        for real in done:
            self.baseline = self.baseline.with_result(real)
            if real.name == "import-smoke":  # its details now (its line was told when it ended)
                self.listener.on_checks(CheckSet(phase="baseline", results=[real]))
        path = self.repo_path / "evidence" / self.runbook.id / "baseline.json"
        save_checkset(path, self.baseline)
        return [path]

    def _record_checks(
        self, step: str, question: str, cs: CheckSet, started: float, also: list[Path] | None = None
    ) -> None:
        from oxwizard.checks.result import save_checkset

        assert self.runbook is not None
        path = self.repo_path / "evidence" / self.runbook.id / f"{step}.json"
        save_checkset(path, cs)
        tests = cs.get("tests")
        self._spent["tests"] += tests.duration if tests is not None else 0.0
        counts = {f"{r.name}.{k}": v for r in cs.results for k, v in r.numbers.items()}
        counts["failed_checks"] = len(cs.failed)
        self._record(
            step,
            question,
            _checks_line(cs),
            Evidence(counts=counts, duration=_since(started)),
            extra=[path, *(also or [])],
        )

    def _finish(self, outcome: FlowOutcome) -> FlowOutcome:
        self._discard_early_clone()  # ended before the staging step (declined, nothing to do)
        timing = self._timing()
        late = self._late_baseline()
        self._record("outcome", "How did it end?", f"{outcome.status}: {outcome.message}", timing, late)
        return outcome

    def _late_baseline(self) -> list[Path]:
        """The baseline's checks run after it was recorded, when the flow ended before the staging
        phase took them in (declined at the go, the install in staging failed): waited for, and kept
        in the baseline's evidence when they ended on their own. After a stop or rollback request,
        which kills their children, they are not evidence: nothing of them is kept."""
        pending = [p for p in (self._pip_confirm, self._smoke_confirm) if p is not None]
        self._pip_confirm = self._smoke_confirm = None
        wait(pending)
        if self._stopper.reason is not None:
            return []
        return self._confirm_baseline(*[p for p in pending if p.exception() is None])

    def _timing(self) -> Evidence | None:
        """Where the flow's time went, and what of it oxwizard itself added (``seconds.overhead``:
        checkpoint, staging clone, the checks other than the tests, runbook commits, rollbacks)."""
        if self._started is None:
            return None  # a flow resumed after promotion: its start is another process's
        total = _since(self._started)
        counts = {f"seconds.{k}": round(v, 3) for k, v in self._spent.items()}
        counts["seconds.total"] = round(total, 3)
        counts["seconds.overhead"] = round(max(0.0, total - sum(self._spent.values())), 3)
        return Evidence(counts=counts, duration=total)

    def _safe_rollback(self, reason: str) -> None:
        if self.live_touched and not self.rolled_back and self.checkpoint is not None:
            try:
                self.rollback(reason)
            except OxwizardError as exc:
                self._output("rollback", f"rollback failed: {exc}")

    def _cleanup_stage(self) -> None:
        self._discard_early_clone()
        if self._background is not None:  # the baseline's later checks, when the flow ended before them
            self._background.shutdown(wait=True)
            self._background = None
        self._drop_stage()
        if self._stage_removal is not None:
            self._stage_removal.join()
            self._stage_removal = None

    def _drop_stage(self, *, background: bool = False) -> None:
        """Retire the staging clone (kept as a spare for the next clone); ``background``: in a thread,
        while the flow goes on (once live is promoted nothing needs the clone: its retirement overlaps
        the checks on live)."""
        if self.stage_env is None:
            return
        from oxwizard.safety.stage import retire_stage

        root, self.stage_env = self.stage_env.root, None
        if not background:
            retire_stage(root, self.env)
            return
        self._stage_removal = threading.Thread(
            target=retire_stage, args=(root, self.env), name="oxwizard-stage-removal", daemon=True
        )
        self._stage_removal.start()

    def _new_runbook(self, plan: Plan, repo: RunbookRepo) -> Runbook:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        first = canonicalize_name(self.requirements[0].name) if self.requirements else "upgrade"
        runbook_id = self._runbook_id or repo.free_id(f"{stamp}-{re.sub(r'[^a-z0-9._-]', '-', first)}")
        origin = repo.origin()
        runbook = Runbook(
            id=runbook_id,
            targets=list(plan.targets),
            environment=self.env.facts(),
            index=self.index.redacted(),
            options=self.options,
            checks=self.config,
            origin=origin,
        )
        runbook.set_plan(plan)
        return runbook

    def _tests_found(self) -> bool:
        from oxwizard.checks.tests import tests_found

        return tests_found(self.project, self.config)

    def _step(self, step: StepName, status: StepStatus, message: str, elapsed: float | None = None) -> None:
        self._running_step = step if status == "running" else None
        self._tell(step, status, message, elapsed)

    def _tell(self, step: StepName, status: StepStatus, message: str, elapsed: float | None = None) -> None:
        """Tell the listener, from any thread: a step done in a thread of its own beside the
        baseline (the checkpoint, the staging clone) is told from there as soon as it is done, and
        leaves the flow's running step (the baseline) as it is."""
        with self._lock:
            if status in ("passed", "failed", "skipped", "warned", "stopped") and step in STEPS:
                self._done = max(self._done, STEPS.index(step) + 1)
            done = self._done
        self.listener.on_step(StepEvent(step, status, message, elapsed, (done, len(STEPS))))

    def _output(self, step: StepName, line: str) -> None:
        self.listener.on_output(step, line)


def _ended_by(exc: BaseException) -> str:
    """What ended a flow unexpectedly, in the runbook's words: a signal by its name, else the error."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    if isinstance(exc, SystemExit) and exc.code == 143:  # SIGTERM, made SystemExit by sigterm_as_exit
        return "terminated (SIGTERM)"
    return f"{type(exc).__name__}: {exc}"


def start_state(project: Path, env: Environment | None = None) -> tuple[ResumeInfo | None, str]:
    """Where the newest runbook of ``project`` (for ``env``) that changed anything left things, read
    once at start: (where it stands, "") when it is unfinished, (None, how it ended in one line) when
    it finished (a flow whose terminal was lost may have finished unwatched), (None, "") when there is
    none. Runbooks of other environments, and plans that changed nothing, are passed over (the
    newest ``LOOK_BACK``)."""
    repo_dir = runbook_repo_path(project) / "runbooks"
    paths = sorted(repo_dir.glob("*.json")) if repo_dir.is_dir() else []
    for path in reversed(paths[-LOOK_BACK:]):
        try:
            runbook = load_runbook(path)
        except RunbookError:
            if path == paths[-1]:
                raise  # the newest, as before: said, not passed over
            continue
        if not runbook.decisions or (env is not None and runbook.environment.prefix != str(env.prefix)):
            continue
        if runbook.checkpoint_id is None and runbook.decisions[-1].step in ("plan", "risk"):
            continue  # planned only: nothing was changed, nothing to resume or roll back
        return _where_it_stands(runbook, path)
    return None, ""


LOOK_BACK = 100  # runbooks read at most by start_state


def _where_it_stands(runbook: Runbook, path: Path) -> tuple[ResumeInfo | None, str]:
    last = runbook.decisions[-1]
    end = _end_of(runbook)
    if end is not None:
        targets, when = ", ".join(runbook.targets), end.at[:16].replace("T", " ")
        if end.step in FINAL_STEPS:
            said = end.answer if end.step == "outcome" else f"{end.step}: {end.answer}"
            return None, f"{targets} {said} ({when})"
        # restored and verified (the wizard's R, oxwizard rollback): nothing is left to resume
        return None, f"{targets}: {end.answer} ({when})"
    live_touched = where_the_upgrade_is(runbook) == "on live"
    return ResumeInfo(runbook, path, last.step, live_touched, runbook.checkpoint_id), ""


def where_the_upgrade_is(runbook: Runbook) -> Literal["on live", "never reached live", "was rolled back"]:
    """Whether the upgrade of ``runbook`` is on live: installed there (``promote``) and not rolled
    back since by a verified rollback (the flow's, the wizard's R, ``oxwizard rollback``'s). A
    FAILED rollback did not put live back: the upgrade, or part of it, is still there."""
    steps = runbook.decisions
    promoted = _promoted_at(runbook)
    if promoted < 0:
        return "never reached live"
    restored = [i for i, d in enumerate(steps) if d.step == "rollback" and not d.answer.startswith("FAILED")]
    return "was rolled back" if restored and restored[-1] > promoted else "on live"


def _promoted_at(runbook: Runbook) -> int:
    """The index of the last install on live among the decisions of ``runbook`` (-1: none)."""
    return max((i for i, d in enumerate(runbook.decisions) if d.step == "promote"), default=-1)


def done_on_live(runbook: Runbook) -> str:
    """What an unfinished run did on live since its upgrade was installed there, read from its
    decisions, in one line: ``checks on live passed; monitoring: 3 of 3 rounds healthy; verdict not
    given yet`` ("" when it never reached live)."""
    promoted = _promoted_at(runbook)
    if promoted < 0:
        return ""
    since = runbook.decisions[promoted + 1 :]

    def failed(d: Decision) -> int:
        return int(d.evidence.counts.get("failed_checks", 0)) if d.evidence is not None else 0

    checks = [d for d in since if d.step == "checks-live"]
    if not checks:
        return "installed on live; checks on live not run yet; verdict not given yet"
    bad = failed(checks[-1])
    said = [f"checks on live failed ({bad} check(s))" if bad else "checks on live passed"]
    rounds = [d for d in since if d.step == "monitor"]
    if rounds:
        last = rounds[-1].evidence
        total = int(last.counts.get("rounds", len(rounds))) if last is not None else len(rounds)
        healthy = sum(1 for d in rounds if d.answer == "healthy")
        if len(rounds) >= total:
            said.append(f"monitoring: {healthy} of {total} rounds healthy")
        else:
            said.append(f"monitoring: {len(rounds)} of {total} rounds done, {healthy} healthy")
    elif runbook.options.monitor_rounds > 0:
        said.append("monitoring not started")
    return "; ".join([*said, "verdict not given yet"])


def _end_of(runbook: Runbook) -> Decision | None:
    """The decision that ended the run of ``runbook``, or None while it is unfinished: a final one
    (FINAL_STEPS) or a verified rollback, last — or last but for what ``oxwizard monitor`` added
    since (MONITOR_STEPS: monitoring live after the run ended, a rollback included, reopens nothing;
    rounds that follow no such decision are the run's own, stopped while monitoring), and but for
    the removal of the upgrade's branch that a rollback records after itself."""
    decisions = runbook.decisions
    n = len(decisions)
    while n > 1 and (
        decisions[n - 1].step in MONITOR_STEPS
        # the rollback's own clean-up: the branch of the project's files, taken away after it
        or (decisions[n - 1].step == "pins" and decisions[n - 2].step == "rollback")
    ):
        n -= 1
    end = decisions[n - 1]
    if end.step in FINAL_STEPS or (end.step == "rollback" and not end.answer.startswith("FAILED")):
        return end
    return None


def requirements_of(runbook: Runbook) -> list[Requirement]:
    return parse_specs(list(runbook.targets))


def flow_options(
    config: ChecksConfig,
    *,
    stage: bool = True,
    rounds: int | None = None,
    interval: float | None = None,
    update_pins: bool = False,
    pins_branch: str | None = None,
    raise_floors: bool = False,
) -> FlowOptions:
    """How a flow runs: the one builder for upgrade, the wizard, monitor and (recorded) replay.
    ``rounds``/``interval`` left out come from the project's ``[tool.oxwizard]``."""
    return FlowOptions(
        stage=stage,
        monitor_rounds=config.monitor_rounds if rounds is None else rounds,
        monitor_interval=config.monitor_interval if interval is None else interval,
        update_pins=update_pins,
        pins_branch=pins_branch,
        raise_floors=raise_floors,
    )


def resume_flow(
    env: Environment,
    project: Path,
    info: ResumeInfo,
    index: IndexOptions,
    listener: FlowListener,
    *,
    survive_hangup: bool = False,
) -> UpgradeFlow:
    """The flow of an unfinished runbook, picked up where it stands: its decisions append to that
    runbook. After promotion, :meth:`UpgradeFlow.run_from_live` continues (checks on live,
    monitoring, verdict); :meth:`UpgradeFlow.rollback` restores its checkpoint."""
    rb = info.runbook
    flow = UpgradeFlow(
        env,
        project,
        requirements_of(rb),
        index,
        listener=listener,
        options=rb.options,
        config=rb.checks,
        runbook_id=rb.id,
        preset_plan=rb.plan,
        survive_hangup=survive_hangup,
    )
    flow.plan = rb.plan
    flow.runbook = rb
    return flow


# how a run ends that nothing of reached live, when the next start is told to leave it ("n")
LEFT_AT_START = "left: not resumed at the next start; live was never changed"


def close_unfinished(project: Path, info: ResumeInfo, why: str) -> None:
    """End an unfinished runbook that will not be resumed (nothing of it reached live)."""
    with RunbookRepo.for_project(project) as repo:
        repo.decide(info.runbook, Decision(step="outcome", question="How did it end?", answer=why))


def record_rollback(
    project: Path,
    env: Environment,
    result: RollbackResult,
    command: str,
    on_line: Callable[[str], None] | None = None,
) -> str | None:
    """A rollback made outside a flow (``oxwizard rollback``) goes into the newest runbook of
    ``project`` for ``env``, like any other decision, so the next start tells the truth. The
    runbook's id, or None when there is no runbook of this environment (or nothing was restored).
    The branch the upgrade wrote the project's files on goes too when still oxwizard's (``on_line``
    hears what became of it)."""
    return _record_restore(project, env, result, command, on_line)


def record_lost_rollback(project: Path, env: Environment, result: RollbackResult) -> str | None:
    """``oxwizard rollback`` found live already at the checkpoint it was rolled back to, while the
    runbook still has the upgrade on live: the rollback that restored it was killed before it was
    recorded. It is recorded now (the runbook's id), so the next start and ``resume`` tell the truth."""
    return _record_restore(
        project, env, result, "oxwizard rollback (recorded late: cut short before)", lost=True
    )


def recover_recorded(
    env: Environment,
    project: Path,
    say: Callable[[str], None],
    index: Callable[[], IndexOptions | None] | None = None,
) -> RollbackResult | None:
    """Crash recovery (:func:`oxwizard.safety.recovery.recover`), and its record in the runbook of
    the run it cut short: the interrupted install on live (the run recorded its install only once
    it ended) and the rollback that undid it end that run, so the next start, the resume dialog and
    the exit line say live was changed and put back, never "live was not changed"."""
    from oxwizard.safety.journal import pending, read_journal
    from oxwizard.safety.recovery import recover

    journal = read_journal(env) if pending(env) else None  # what was cut short, read before it goes
    result = recover(env, say, index)
    if result is None or journal is None:
        return result
    started = f"pid {journal.pid}, started {journal.started_at}"
    if journal.operation == "apply":
        interrupted = Decision(
            step="promote",
            question="Install the plan in live?",
            answer=f"interrupted while installing on live ({started}): undone by recovery",
        )
        ended = "rolled-back: the install on live was cut short; oxwizard recovery put live back, verified"
        _record_restore(project, env, result, "oxwizard recovery", say, cut_short=interrupted, ended=ended)
    else:
        _record_restore(project, env, result, f"oxwizard recovery (of a rollback cut short: {started})", say)
    return result


def _record_restore(
    project: Path,
    env: Environment,
    result: RollbackResult,
    command: str,
    on_line: Callable[[str], None] | None = None,
    *,
    cut_short: Decision | None = None,
    ended: str = "",
    lost: bool = False,
) -> str | None:
    """:func:`record_rollback`; ``cut_short``, the install on live a crash interrupted, recorded first
    (only in the runbook whose checkpoint the rollback went to, and only when it has no install on
    live after that checkpoint already); ``ended``: the outcome recorded (``rolled-back: by COMMAND``).
    ``lost``: ``result`` says live is already at the checkpoint; recorded only when the newest
    runbook still has its upgrade on live (a rollback killed after its restore, before its record)."""
    if (result.noop and not lost) or not (runbook_repo_path(project) / ".git").is_dir():
        return None
    with RunbookRepo.for_project(project) as repo:
        runbook = repo.latest()
        if runbook is None or not runbook.is_for(env.prefix):
            return None
        if lost and (
            runbook.checkpoint_id != result.checkpoint_id or where_the_upgrade_is(runbook) != "on live"
        ):
            return None
        if cut_short is not None:
            if runbook.checkpoint_id != result.checkpoint_id:
                return None
            if where_the_upgrade_is(runbook) != "on live":
                repo.decide(runbook, cut_short)
        evidence = Evidence(
            command=command.split(),
            counts={"restored_files": result.restored_files, "removed": len(result.removed)},
            duration=result.duration,
            detail=f"method {result.method}; fingerprint {result.fingerprint_after}",
        )
        answer = f"rolled back to {result.checkpoint_id}, verified"
        question = f"Roll back ({command})?"
        repo.decide(runbook, Decision(step="rollback", question=question, answer=answer, evidence=evidence))
        from oxwizard.flow.pins import unpin

        said = unpin(project, runbook)
        if said is not None:
            if on_line is not None:
                on_line(said)
            question = "Remove the branch of the project's files?"
            repo.decide(runbook, Decision(step="pins", question=question, answer=said))
        repo.decide(
            runbook,
            Decision(
                step="outcome", question="How did it end?", answer=ended or f"rolled-back: by {command}"
            ),
        )
        return runbook.id


def _round_line(cs: CheckSet) -> str:
    if not cs.ok:
        return "FAILED " + ", ".join(r.name for r in cs.failed)
    unproven = _unproven(cs)
    return f"healthy ({unproven})" if unproven else "healthy"


def _unproven(cs: CheckSet) -> str:
    """``tests: no tests found``: the checks that warned (ran, yet proved nothing: no tests, a test
    command whose results cannot be read, an inconclusive benchmark, imports that failed before the
    upgrade too), one clause each. New deprecation warnings are not among them: they are acknowledged
    before live is touched, and said on their own."""
    return "; ".join(
        f"{r.name}: {r.summary}" for r in cs.results if r.status == "warn" and r.name != "warnings"
    )


def _checks_line(cs: CheckSet) -> str:
    parts = [f"{r.name} {r.status}" for r in cs.results if r.status != "skip"]
    return ", ".join(parts) or "no checks configured"


def _risk_line(risk: RiskSummary) -> str:
    return f"{risk.level} risk: {risk.recommendation}"


def _since(started: float) -> float:
    return time.monotonic() - started


def _preload_plan_step(names: Iterable[str]) -> None:
    """What the plan step uses after the dry run, imported while it runs (griffe when a comparison
    of the targets is not cached: most of it)."""
    import oxwizard.checks.risk
    import oxwizard.checks.security
    import oxwizard.env.project_files  # noqa: F401
    from oxwizard.checks.api_impact import preload

    preload(names)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"


__all__ = [
    "STEPS", "Abandoned", "FlowListener", "FlowOutcome", "FlowStopped", "Question", "ResumeInfo",
    "StepEvent", "UpgradeFlow", "close_unfinished", "flow_options", "record_rollback", "requirements_of",
    "resume_flow", "start_state",
]  # fmt: skip
