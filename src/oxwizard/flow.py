"""The upgrade flow: the one sequence of steps every front end drives.

plan → risk → checkpoint → stage → baseline → go? → install in staging → checks in staging (gate)
→ acknowledge new warnings → promote to live (journaled) → checks on live (gate) → monitoring rounds
→ verdict. The TUI, ``oxwizard upgrade`` and ``oxwizard replay`` differ only in their
:class:`FlowListener`: where the output goes and who answers the questions (a person, ``--yes``, or
the answers recorded in a runbook). Every answer is recorded as one runbook commit as it happens.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from oxwizard.checks.result import CheckSet
from oxwizard.config import ChecksConfig, load_project_config
from oxwizard.environment import Environment
from oxwizard.errors import Abandoned, OxwizardError, RollbackFailed
from oxwizard.plan import Plan, compute_plan
from oxwizard.runbook import Decision, Evidence, FlowOptions, Runbook, load_runbook
from oxwizard.runbook_repo import RunbookRepo
from oxwizard.specs import IndexOptions, parse_specs
from oxwizard.steps import CHECKLIST, StepName

if TYPE_CHECKING:
    from oxwizard.checkpoint import Checkpoint
    from oxwizard.checks.risk import RiskSummary
    from oxwizard.checks.security import SecurityReport
    from oxwizard.rollback import RollbackResult

StepStatus = Literal["running", "passed", "failed", "warned", "skipped"]
OutcomeStatus = Literal["upgraded", "rolled-back", "kept", "declined", "failed", "nothing-to-do"]

STEPS = CHECKLIST
# Decisions that close a runbook: a runbook whose last decision is not one of these is unfinished.
FINAL_STEPS = {"verdict", "outcome", "replay"}


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


class FlowListener(Protocol):
    """What a front end provides. Called from the flow's thread."""

    def on_step(self, event: StepEvent) -> None: ...
    def on_output(self, step: StepName, line: str) -> None: ...
    def on_checks(self, checkset: CheckSet) -> None: ...
    def ask(self, question: Question) -> str: ...


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
        self.repo_path = self.project / ".oxwizard"
        self.plan: Plan | None = None
        self.risk: RiskSummary | None = None
        self.security: SecurityReport | None = None
        self.checkpoint: Checkpoint | None = None
        self.runbook: Runbook | None = None
        self.baseline: CheckSet | None = None
        self.stage_env: Environment | None = None
        self.live_touched = False
        self.rolled_back = False
        self._runbook_id = runbook_id
        self._preset_plan = preset_plan  # replay: install exactly what was recorded
        self.survive_hangup = survive_hangup  # the wizard: an install outlives a lost terminal
        self._holding_lock = False
        self._done = 0

    # -- public -------------------------------------------------------------------------------------
    def prepare(self) -> Plan:
        """Plan, security and risk. Changes nothing; records the plan and the risk summary."""
        from oxwizard.checks.risk import assess
        from oxwizard.checks.security import security_delta

        self._step("plan", "running", f"resolving {', '.join(str(r) for r in self.requirements)}")
        started = time.monotonic()
        plan = self._preset_plan or compute_plan(self.env, self.requirements, self.index)
        self.plan = plan
        try:
            self.security = security_delta(
                plan, self.env, self.config, self.project, offline=self.index.no_index
            )
        except OxwizardError as exc:
            self._output("plan", f"security check unavailable: {exc}")
            self.security = None
        from oxwizard.pins import stale_pins

        self.risk = assess(
            plan,
            security=self.security,
            tests_found=self._tests_found(),
            stale_pins=stale_pins(self.project, plan),
        )
        self.runbook = self._new_runbook(plan)
        self._record(
            "plan",
            "What would the upgrade change?",
            plan.summary(),
            Evidence(counts={"changes": len(plan.changes)}, duration=time.monotonic() - started),
        )
        self._record(
            "risk",
            "How risky is it?",
            f"{self.risk.level} risk: {self.risk.recommendation}",
            Evidence(detail="; ".join(self.risk.reasons)),
        )
        self._step("plan", "passed", plan.summary(), time.monotonic() - started)
        return plan

    def run(self) -> FlowOutcome:
        """Run the flow to its end; every failure leaves live untouched or rolled back."""
        from oxwizard.lock import env_lock

        if self.plan is None:
            self.prepare()
        assert self.plan is not None
        if self.plan.is_empty:
            return self._finish(FlowOutcome("nothing-to-do", "nothing to change: already satisfied", 0))
        self.env.require_writable(self.allow_externally_managed)
        try:
            with env_lock(self.env, "oxwizard upgrade " + " ".join(self.plan.targets)):
                self._holding_lock = True
                try:
                    return self._finish(self._run_locked())
                finally:
                    self._holding_lock = False
        except _Stop as stop:
            return self._finish(stop.outcome)
        except Abandoned:
            raise
        except BaseException as exc:
            # Any error or interrupt (SIGINT, SIGTERM turned into SystemExit): never leave live
            # half-upgraded. Roll back to the checkpoint, record how it ended, re-raise.
            self._safe_rollback(f"interrupted: {type(exc).__name__}")
            self._record("outcome", "How did it end?", f"failed: {type(exc).__name__}: {exc}")
            raise
        finally:
            self._cleanup_stage()

    def run_from_live(self) -> FlowOutcome:
        """Resume after promotion: checks on live, monitoring, verdict."""
        from oxwizard.lock import env_lock

        with env_lock(self.env, "oxwizard upgrade (resume)"):
            self._holding_lock = True
            try:
                self.live_touched = True
                return self._finish(self._after_promote())
            except _Stop as stop:
                return self._finish(stop.outcome)
            finally:
                self._holding_lock = False

    def rollback(self, reason: str = "requested") -> RollbackResult:
        """Restore live to the checkpoint and record the verified result (the one key)."""
        from oxwizard.lock import env_lock
        from oxwizard.rollback import rollback

        self._step("rollback", "running", f"rolling back ({reason})")
        started = time.monotonic()
        to = self.checkpoint.id if self.checkpoint else (self.runbook.checkpoint_id if self.runbook else None)

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
        self._step("rollback", "passed", verdict, time.monotonic() - started)
        return result

    # -- the steps ------------------------------------------------------------------------------------
    def _run_locked(self) -> FlowOutcome:
        from oxwizard.checkpoint import take_checkpoint
        from oxwizard.checks.suite import run_checks
        from oxwizard.stage import create_stage

        plan = self.plan
        assert plan is not None and self.runbook is not None
        # checkpoint
        self._step("checkpoint", "running", "recording the current state")
        started = time.monotonic()
        ck = take_checkpoint(self.env, plan)
        self.checkpoint = ck
        self.runbook.checkpoint_id = ck.id
        manifest = self.repo_path / "checkpoints" / f"{ck.id}.json"
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text(ck.model_dump_json(indent=2) + "\n", encoding="utf-8")
        self._record(
            "checkpoint",
            "Where can we roll back to?",
            f"{ck.id}: {len(ck.changed)} dists, {ck.files} files, {_size(ck.size)}",
            Evidence(counts={"files": ck.files, "bytes": ck.size}, duration=time.monotonic() - started),
            extra=[manifest],
        )
        self._step("checkpoint", "passed", f"{ck.id} · {ck.files} files · {_size(ck.size)}", _since(started))

        # staging clone + baseline
        target = self.env
        if self.options.stage:
            self._step("stage", "running", "cloning the environment for staging")
            started = time.monotonic()
            self.stage_env = create_stage(self.env)
            target = self.stage_env
            self._record(
                "stage",
                "Where is the upgrade tried first?",
                f"staging clone {self.stage_env.root}",
                Evidence(duration=_since(started)),
            )
            self._step("stage", "passed", str(self.stage_env.root), _since(started))
        else:
            self._step("stage", "skipped", "staging skipped (--no-stage): the upgrade is tried on live")
        self._step("baseline", "running", f"baseline checks on {'staging' if self.options.stage else 'live'}")
        started = time.monotonic()
        self.baseline = run_checks(
            target, self.project, self.config, "baseline", on_line=lambda ln: self._output("baseline", ln)
        )
        self.listener.on_checks(self.baseline)
        self._record_checks("baseline", "What does the current version give?", self.baseline, started)
        self._step(
            "baseline",
            "passed" if self.baseline.ok else "warned",
            _checks_line(self.baseline),
            _since(started),
        )

        # go / no-go
        go = self._ask(
            "go",
            f"Upgrade {plan.summary()}?",
            ("go", "wait"),
            "go",
            detail=self.risk.recommendation if self.risk else "",
        )
        if go != "go":
            raise _Stop(FlowOutcome("declined", "not now: nothing was changed", 0))

        upgraded = [c.name for c in plan.changes]
        if self.options.stage:
            assert self.stage_env is not None
            self._install("install-staging", self.stage_env, journaled=False)
            self._gate("checks-staging", self.stage_env, upgraded, live=False)
        # promote
        self._install("promote", self.env, journaled=True)
        return self._after_promote()

    def _after_promote(self) -> FlowOutcome:
        assert self.plan is not None
        upgraded = [c.name for c in self.plan.changes]
        self._gate("checks-live", self.env, upgraded, live=True)
        healthy = True
        if self.options.monitor_rounds > 0:
            healthy = self._monitor(upgraded)
        verdict = self._ask(
            "verdict",
            "Declare success, or roll back?" if healthy else "Monitoring found problems: roll back?",
            ("success", "rollback"),
            "success" if healthy else "rollback",
        )
        if verdict == "rollback":
            self.rollback("verdict")
            return FlowOutcome(
                "rolled-back", "rolled back after monitoring; verified", 1 if not healthy else 0
            )
        return FlowOutcome("upgraded", f"{self.plan.summary()}; verified on live", 0)

    def _install(self, step: StepName, env: Environment, *, journaled: bool) -> None:
        from oxwizard.apply import apply_plan

        assert self.plan is not None
        where = "live" if journaled else "staging"
        self._step(step, "running", f"installing {' '.join(self.plan.pinned)} in {where}")
        started = time.monotonic()
        if journaled:
            self.live_touched = True
        try:
            result = apply_plan(
                env,
                self.plan,
                self.index,
                checkpoint=self.checkpoint if journaled else None,
                on_line=lambda ln: self._output(step, ln),
                journaled=journaled,
                survive_hangup=self.survive_hangup,
            )
        except BaseException:
            if journaled:
                self._safe_rollback("install on live failed")
            raise
        env.refresh()
        detail = "; ".join(result.mismatches)
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
        from oxwizard.checks.suite import run_checks

        phase: Literal["staging", "live"] = "live" if live else "staging"
        while True:
            self._step(step, "running", f"checks on {phase}")
            started = time.monotonic()
            cs = run_checks(
                env,
                self.project,
                self.config,
                phase,
                upgraded=upgraded,
                baseline=self.baseline,
                on_line=lambda ln: self._output(step, ln),
            )
            self.listener.on_checks(cs)
            self._record_checks(step, f"Do the checks pass on {phase}?", cs, started)
            if cs.ok:
                self._step(step, "warned" if cs.new_warnings else "passed", _checks_line(cs), _since(started))
                break
            reason = ", ".join(r.name for r in cs.failed) + " failed"
            self._step(step, "failed", reason, _since(started))
            default = "rollback" if live else "keep"
            choice = self._ask(
                step,
                f"Gate failed on {phase}: {reason}",
                ("rollback", "keep", "retry"),
                default,
                detail="\n".join(
                    ["Live is untouched." if not live else "Live has the new version."]
                    + [f"{r.name}: {r.summary}" for r in cs.failed]
                ),
                after_failure=True,
            )
            if choice == "retry":
                continue
            if live and choice == "rollback":
                self.rollback(f"{step} failed")
                raise _Stop(
                    FlowOutcome("rolled-back", f"checks failed on live ({reason}): rolled back, verified", 1)
                )
            if live:
                raise _Stop(FlowOutcome("kept", f"checks failed on live ({reason}); kept by decision", 1))
            raise _Stop(FlowOutcome("failed", f"checks failed in staging ({reason}): live is untouched", 1))
        if cs.new_warnings and not live:
            answer = self._ask(
                "ack-warnings",
                f"{len(cs.new_warnings)} new warning(s) after the upgrade: acknowledge and continue?",
                ("acknowledge", "stop"),
                "acknowledge",
                detail="\n".join(cs.new_warnings),
            )
            if answer != "acknowledge":
                raise _Stop(FlowOutcome("declined", "stopped on new warnings: live is untouched", 1))

    def _monitor(self, upgraded: list[str]) -> bool:
        from oxwizard.checks.monitor import monitor

        self._step("monitor", "running", f"{self.options.monitor_rounds} monitoring rounds on live")
        started = time.monotonic()

        def on_round(n: int, cs: CheckSet) -> None:
            self.listener.on_checks(cs)
            self._record_checks("monitor", f"Monitoring round {n}: healthy?", cs, time.monotonic())

        result = monitor(
            self.env,
            self.project,
            self.config,
            rounds=self.options.monitor_rounds,
            interval=self.options.monitor_interval,
            baseline=self.baseline,
            upgraded=upgraded,
            on_round=on_round,
            on_line=lambda ln: self._output("monitor", ln),
        )
        self._step(
            "monitor",
            "passed" if result.healthy else "failed",
            "healthy" if result.healthy else "a check failed",
            _since(started),
        )
        return bool(result.healthy)

    # -- helpers ----------------------------------------------------------------------------------------
    def _ask(
        self,
        step: StepName,
        text: str,
        choices: tuple[str, ...],
        default: str,
        detail: str = "",
        *,
        after_failure: bool = False,
    ) -> str:
        recorded = self.answers.get(step)
        if recorded is not None and recorded in choices:
            answer = recorded
        else:
            answer = self.listener.ask(Question(step, text, choices, default, detail))
            if answer not in choices:
                answer = default
        if self.rolled_back and answer != "rollback":
            raise _Stop(FlowOutcome("rolled-back", "rolled back by request; verified", 0))
        self._record(step, text, answer)
        if after_failure:  # the decision does not turn the failed step green
            self._step(step, "failed", f"{answer} (after the failure)")
        else:
            self._step(step, "passed", answer)
        if self.rolled_back:
            raise _Stop(FlowOutcome("rolled-back", "rolled back by request; verified", 0))
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

    def _record_checks(self, step: str, question: str, cs: CheckSet, started: float) -> None:
        from oxwizard.checks.result import save_checkset

        assert self.runbook is not None
        path = self.repo_path / "evidence" / self.runbook.id / f"{step}.json"
        save_checkset(path, cs)
        counts = {f"{r.name}.{k}": v for r in cs.results for k, v in r.numbers.items()}
        counts["failed_checks"] = len(cs.failed)
        self._record(
            step, question, _checks_line(cs), Evidence(counts=counts, duration=_since(started)), extra=[path]
        )

    def _finish(self, outcome: FlowOutcome) -> FlowOutcome:
        self._record("outcome", "How did it end?", f"{outcome.status}: {outcome.message}")
        return outcome

    def _safe_rollback(self, reason: str) -> None:
        if self.live_touched and not self.rolled_back and self.checkpoint is not None:
            try:
                self.rollback(reason)
            except OxwizardError as exc:
                self._output("rollback", f"rollback failed: {exc}")

    def _cleanup_stage(self) -> None:
        if self.stage_env is not None:
            from oxwizard.stage import remove_stage

            remove_stage(self.stage_env.root)
            self.stage_env = None

    def _new_runbook(self, plan: Plan) -> Runbook:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        first = canonicalize_name(self.requirements[0].name) if self.requirements else "upgrade"
        runbook_id = self._runbook_id or f"{stamp}-{re.sub(r'[^a-z0-9._-]', '-', first)}"
        with RunbookRepo(self.repo_path) as repo:
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
        return self.config.test_command is not None or (self.project / "tests").is_dir()

    def _step(self, step: StepName, status: StepStatus, message: str, elapsed: float | None = None) -> None:
        if status in ("passed", "failed", "skipped", "warned") and step in STEPS:
            self._done = max(self._done, STEPS.index(step) + 1)
        self.listener.on_step(StepEvent(step, status, message, elapsed, (self._done, len(STEPS))))

    def _output(self, step: StepName, line: str) -> None:
        self.listener.on_output(step, line)


def start_state(project: Path, env: Environment | None = None) -> tuple[ResumeInfo | None, str]:
    """Where the newest runbook of ``project`` (for ``env``) left things, read once at start:
    (where it stands, "") when it is unfinished, (None, how it ended in one line) when it finished
    (a flow whose terminal was lost may have finished unwatched), (None, "") when there is none."""
    repo_dir = project.resolve() / ".oxwizard" / "runbooks"
    paths = sorted(repo_dir.glob("*.json")) if repo_dir.is_dir() else []
    if not paths:
        return None, ""
    runbook = load_runbook(paths[-1])
    if not runbook.decisions or (env is not None and runbook.environment.prefix != str(env.prefix)):
        return None, ""
    last = runbook.decisions[-1]
    if last.step in FINAL_STEPS:
        said = last.answer if last.step == "outcome" else f"{last.step}: {last.answer}"
        return None, f"{', '.join(runbook.targets)} {said} ({last.at[:16].replace('T', ' ')})"
    promoted = runbook.last("promote")
    rolled = runbook.last("rollback")
    live_touched = promoted is not None and (
        rolled is None or runbook.decisions.index(rolled) < runbook.decisions.index(promoted)
    )
    return ResumeInfo(runbook, paths[-1], last.step, live_touched, runbook.checkpoint_id), ""


def requirements_of(runbook: Runbook) -> list[Requirement]:
    return parse_specs(list(runbook.targets))


def _checks_line(cs: CheckSet) -> str:
    parts = [f"{r.name} {r.status}" for r in cs.results if r.status != "skip"]
    return ", ".join(parts) or "no checks configured"


def _since(started: float) -> float:
    return time.monotonic() - started


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"


__all__ = [
    "STEPS", "Abandoned", "FlowListener", "FlowOutcome", "Question", "ResumeInfo", "StepEvent",
    "UpgradeFlow", "requirements_of", "start_state",
]  # fmt: skip
