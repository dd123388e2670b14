"""Unattended replay of a saved runbook: validation first, then the recorded flow, then the audit.

:func:`validate_replay` does every refusal before anything changes (each an :class:`OxwizardError`
with exit code 2): the runbook's schema and integrity (its plan digest, and its ``runbook_digest``
over the whole document: any edit is refused, even with ``--trust``), trust (only a file committed,
unmodified, in this project's own runbook repository replays without ``--trust``; see
:func:`committed_here`), the environment facts (implementation, interpreter version,
platform), the targets' from-versions (already applied → a no-op; anything else → stale), the env
lock, and the recomputed plan (drift refused unless allowed; a different artefact or a different
source under the same version always refused). :func:`replay` then runs the recorded flow with the
recorded plan, options and checks, answering every question from the runbook or with the safe
choice, and returns a :class:`~oxwizard.runbook.report.ReplayReport` (the report model and the
audit commit live in :mod:`oxwizard.runbook.report`).
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from packaging.version import InvalidVersion, Version

from oxwizard.checks.result import CheckSet
from oxwizard.checks.tests import choose_command
from oxwizard.core.errors import OxwizardError, RollbackFailed, RunbookError, UntrustedRunbook
from oxwizard.core.places import runbook_repo_path
from oxwizard.core.redact import MASK
from oxwizard.env.environment import Environment
from oxwizard.env.plan import Change, Plan, compute_plan
from oxwizard.env.specs import IndexOptions
from oxwizard.flow.pins import wanted as pins_wanted
from oxwizard.flow.steps import StepName
from oxwizard.flow.upgrade import FlowListener, Question, StepEvent, UpgradeFlow, requirements_of
from oxwizard.runbook.model import (
    Runbook,
    now,
    parse_runbook,
    read_runbook_bytes,
    runbook_digest_state,
    runbook_text,
)
from oxwizard.runbook.report import ReplayOutcome, ReplayReport, ReplayStep, slug


@dataclass
class ReplayCheck:
    """Everything validation established; :func:`replay` runs from it."""

    runbook: Runbook
    runbook_path: Path
    env: Environment
    project: Path
    index: IndexOptions
    trust: Literal["same repository", "--trust"]
    fingerprint: str
    already_applied: bool = False
    drift: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sources_note: str | None = None  # the sources used are not the recorded ones (see resolve_index)
    commands: list[tuple[str, list[str]]] = field(default_factory=list)  # what runs (replay_commands)
    elapsed: float = 0.0

    @property
    def plan(self) -> Plan:
        assert self.runbook.plan is not None
        return self.runbook.plan


def _refuse(message: str) -> RunbookError:
    return RunbookError(message)  # exit code 2: refused before any change


# -- validation -------------------------------------------------------------------------------------
def validate_replay(
    runbook_path: Path,
    env: Environment,
    project: Path,
    index: IndexOptions | None,
    *,
    allow_drift: bool = False,
    trust: bool = False,
) -> ReplayCheck:
    """Every check a replay does before it may change anything; raises exit-2 errors on refusal."""
    started = time.monotonic()
    data = read_runbook_bytes(runbook_path)  # read once: what is checked below is what runs
    source = str(runbook_path)
    text = runbook_text(data, source)
    runbook = parse_runbook(text, source)  # schema, version, unknown fields, tampered plan
    digest = runbook_digest_state(text, source)  # any edit of the document: refused, even with --trust
    if runbook.plan is None:
        raise _refuse(f"{runbook_path}: the runbook has no recorded plan: nothing to replay")
    if not runbook.targets:
        raise _refuse(f"{runbook_path}: targets: empty: nothing to replay")
    project = project.resolve()
    trusted = _check_trust(runbook_path, data, digest, project, trust)
    _check_env_facts(runbook, env)
    configured = _configured(env, index)
    index, sources_note = resolve_index(runbook, index, configured)
    check = ReplayCheck(runbook, runbook_path, env, project, index, trusted, env.fingerprint())
    if digest == "absent":
        check.notes.append(
            "no runbook_digest (recorded by an older oxwizard): its checks, commands and options "
            "are not covered by a digest"
        )
    check.sources_note = sources_note
    if sources_note:
        check.notes.append(sources_note)
    state = from_version_state(runbook.plan, env)
    if state == "applied":
        check.already_applied = True
        check.elapsed = time.monotonic() - started
        return check
    if state:
        raise _refuse(f"stale runbook: the environment changed since it was recorded ({state})")
    _check_lock(env)
    fresh = compute_plan(env, requirements_of(runbook), index, suggest=False)
    problems = artefact_problems(runbook.plan, fresh)
    if problems:
        raise _refuse("refused before any change: " + "; ".join(problems))
    check.drift = plan_diff(runbook.plan, fresh)
    if check.drift and not allow_drift:
        raise _refuse(
            "the plan differs from the recorded one (use --allow-drift to install the recorded plan "
            "anyway): " + "; ".join(check.drift)
        )
    check.notes += [
        f"{c.name} {c.to_version}: no sha256 recorded" for c in runbook.plan.changes if not c.sha256
    ]
    check.commands = replay_commands(runbook, env, project)
    check.elapsed = time.monotonic() - started
    return check


def committed_here(runbook_path: Path, data: bytes, project: Path) -> str | None:
    """None when ``data``, the runbook as read from ``runbook_path``, is a file committed, unmodified,
    in ``project``'s own runbook repository; else why not.

    Where the file is decides, never a field of the file: a runbook's ``origin`` names the
    repository it claims to come from, and anybody can write that."""
    repo_dir = runbook_repo_path(project)
    if not (repo_dir / ".git").exists():
        return f"this project has no runbook repository ({repo_dir})"
    if not runbook_path.resolve().is_relative_to(repo_dir.resolve()):
        return f"{runbook_path} is not in this project's runbook repository ({repo_dir})"
    from oxwizard.runbook.repo import RunbookRepo

    try:
        with RunbookRepo(repo_dir) as repo:
            committed = repo.committed(runbook_path)
    except RunbookError as exc:
        return f"this project's runbook repository cannot be read ({exc})"
    if committed is None:
        return f"{runbook_path} is not committed in this project's runbook repository ({repo_dir})"
    if committed != data:
        return f"{runbook_path} differs from its last commit in this project's runbook repository"
    return None


def _configured(env: Environment, given: IndexOptions | None) -> IndexOptions:
    """The effective sources here: pip's configuration with the command line over it."""
    from oxwizard.env.pipconfig import effective_index

    flags = given if given is not None else IndexOptions()
    return effective_index(env, flags, isolated=flags.isolated)


def _check_trust(
    runbook_path: Path, data: bytes, digest: str, project: Path, trust: bool
) -> Literal["same repository", "--trust"]:
    why = committed_here(runbook_path, data, project)
    if why is None and digest == "verified":
        return "same repository"
    if trust:
        return "--trust"
    if why is None:
        why = (
            f"{runbook_path} has no runbook_digest (recorded by an older oxwizard): an edit of its "
            "commands or options would go unnoticed"
        )
    raise UntrustedRunbook(
        f"untrusted runbook: {why}; a replay runs its checks' commands in {project}: review them "
        "(oxwizard replay RUNBOOK --dry-run --trust lists them), then pass --trust"
    )


def _check_env_facts(runbook: Runbook, env: Environment) -> None:
    rec = runbook.environment
    if rec.implementation != env.implementation:
        raise _refuse(
            f"environment mismatch: recorded on {rec.implementation}, "
            f"this environment is {env.implementation}"
        )
    if _minor(rec.version) != _minor(env.version):
        raise _refuse(
            f"environment mismatch: interpreter version recorded {rec.version}, this environment has "
            f"{env.version}"
        )
    if rec.platform != env.platform:
        raise _refuse(
            f"environment mismatch: platform recorded {rec.platform}, this environment is {env.platform}"
        )


def _minor(version: str) -> tuple[str, ...]:
    return tuple(version.split(".")[:2])


def resolve_index(
    runbook: Runbook, given: IndexOptions | None, configured: IndexOptions | None = None
) -> tuple[IndexOptions, str | None]:
    """The sources a replay uses, and a note when they are not the recorded ones.

    ``given``: the index options on the command line (with ``--isolated`` if it was given);
    ``configured``: the effective sources here (pip's configuration with ``given`` over it).
    Options on the command line win. Without them, pip's configuration here is used when it names
    exactly the recorded sources (it may hold the credentials the runbook has masked); when it names
    others, the recorded ones are used and the note says so; recorded sources whose credentials
    are masked and that nothing here supplies are refused."""
    recorded = runbook.index
    here = configured if configured is not None else given
    if given is not None and (given.given or given.isolated):
        assert here is not None
        if here.redacted().sources() != recorded.sources():
            return here, (
                f"package sources differ from the recorded ones: recorded {recorded.describe()}; "
                f"now {here.describe()} (as given): the given ones are used"
            )
        return here, None
    if here is not None and here.given:
        if here.redacted().sources() == recorded.sources():
            return here, None
        note = (
            f"package sources differ from the recorded ones: recorded {recorded.describe()}; "
            f"pip's configuration here: {here.describe()}"
        )
        if not _masked(recorded):
            return recorded, note + ": the recorded ones are used"
        raise _refuse(f"{note}; the recorded ones hold redacted credentials: give the sources with "
                      "--index-url/--extra-index-url/--find-links")  # fmt: skip
    if _masked(recorded):
        raise _refuse(
            "the recorded index options hold redacted credentials: give them with --index-url/"
            "--extra-index-url/--find-links"
        )
    return recorded, None


def _masked(index: IndexOptions) -> bool:
    values = [index.index_url or "", *index.extra_index_urls, *index.find_links, index.proxy or ""]
    return any(MASK in v for v in values)


def _same_version(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def from_version_state(plan: Plan, env: Environment) -> str:
    """'' when every change starts from its recorded version, 'applied' when all are at their
    recorded to-version, else a description of what differs (a stale runbook)."""
    have = {name: d.version for name, d in env.distributions.items()}
    if plan.changes and all(_same_version(have.get(c.name), c.to_version) for c in plan.changes):
        return "applied"
    stale = [
        f"{c.name} recorded from {c.from_version or 'absent'}, now {have.get(c.name) or 'absent'}"
        for c in plan.changes
        if not _same_version(have.get(c.name), c.from_version)
    ]
    return "; ".join(stale)


def _same_source(a: str, b: str) -> bool:
    local = ("find-links ", "file ")
    # A local wheelhouse may live at another path on another host: the sha256 pins the artefact.
    return a == b or (a.startswith(local) and b.startswith(local))


def artefact_problems(recorded: Plan, fresh: Plan) -> list[str]:
    """Same version, different artefact or different source: always refused."""
    out: list[str] = []
    for a in recorded.changes:
        b = fresh.change_for(a.name)
        if b is None or not _same_version(a.to_version, b.to_version):
            continue
        if a.sha256 and b.sha256 and a.sha256 != b.sha256:
            out.append(
                f"{a.name} {a.to_version}: a different artefact under the same version "
                f"(sha256 recorded {a.sha256[:12]}…, found {b.sha256[:12]}…)"
            )
        if not _same_source(a.index, b.index):
            out.append(f"{a.name} {a.to_version}: recorded from {a.index or '?'}, now from {b.index or '?'}")
    return out


def plan_diff(recorded: Plan, fresh: Plan) -> list[str]:
    """A readable diff of two plans: '- name' (gone), '+ name' (new), '~ name' (changed)."""
    rec: dict[str, Change] = {c.name: c for c in recorded.changes}
    new: dict[str, Change] = {c.name: c for c in fresh.changes}
    lines: list[str] = []
    for name in sorted(rec.keys() | new.keys()):
        a, b = rec.get(name), new.get(name)
        if b is None and a is not None:
            lines.append(f"- {name} {a.arrow} (recorded, not in the plan now)")
        elif a is None and b is not None:
            lines.append(f"+ {name} {b.arrow} (in the plan now, not recorded)")
        elif a is not None and b is not None:
            if not (
                _same_version(a.from_version, b.from_version) and _same_version(a.to_version, b.to_version)
            ):
                lines.append(f"~ {name}: recorded {a.arrow}, now {b.arrow}")
    return lines


def _check_lock(env: Environment) -> None:
    """Refuse now (exit 2) when another process holds the env lock, rather than mid-flow."""
    from oxwizard.safety.lock import env_lock

    with env_lock(env, "oxwizard replay (validation)"):
        pass


# -- what the runbook would run -------------------------------------------------------------------
def replay_commands(runbook: Runbook, env: Environment, project: Path) -> list[tuple[str, list[str]]]:
    """Every command a replay of ``runbook`` runs, by purpose (argument lists, never a shell): the
    checks' commands in ``project`` (the runbook's own, and, when it records no test command, the one
    the checks detect here — pytest or unittest discovery — which runs the project's test code all
    the same, at the baseline, in staging and on live), then the lockfile tools the project's files
    are regenerated with when the recorded run wrote them (in the branch's copy of the project)."""
    config = runbook.checks
    if config.test_command:
        named = [("tests", list(config.test_command))]
    else:
        found = choose_command(env, project, config)
        named = [(f"tests (none recorded: detected in this project, {found.why})", found.argv)]
    named += [("benchmark", list(config.benchmark_command))] if config.benchmark_command else []
    named += [("data", list(config.data_command))] if config.data_command else []
    files = runbook.plan.project_files if runbook.plan is not None else None
    if (
        files is not None
        and replay_answers(runbook)["pins"] == "write"
        and pins_wanted(runbook.plan, runbook.options.update_pins)
    ):
        for regen in files.regenerate:
            named.append((f"lockfile {regen.path}", list(regen.command)))
            named += [(f"lockfile {regen.path}, then", list(regen.then))] if regen.then else []
    return named


def describe(check: ReplayCheck) -> list[str]:
    """What a replay of ``check`` would do, for ``--dry-run`` (changes nothing)."""
    rb, plan, opts = check.runbook, check.plan, check.runbook.options
    lines = [
        f"runbook {rb.id} (recorded {rb.created_at}; trusted: {check.trust})",
        f"environment {check.env.root} (Python {check.env.version}, {check.env.platform}), "
        f"fingerprint {check.fingerprint}",
        f"plan: {plan.summary()}",
    ]
    for c in plan.changes:
        sha = f"sha256 {c.sha256[:16]}…" if c.sha256 else "no sha256"
        lines.append(f"  install {c.name}=={c.to_version} ({c.arrow}; {sha}; from {c.index or '?'})")
    if check.already_applied:
        lines.append("already applied: every target is at its recorded version; a replay changes nothing")
        return lines
    steps = ["checkpoint"]
    steps += ["staging clone", "install in staging", "checks in staging"] if opts.stage else []
    steps += ["promote to live", "checks on live"]
    if opts.monitor_rounds:
        steps += [f"{opts.monitor_rounds} monitoring round(s) every {opts.monitor_interval:g}s"]
    steps += ["verdict (rollback on any failed gate)"]
    lines.append("flow: " + " -> ".join(steps))
    cfg = check.runbook.checks
    lines.append(
        f"thresholds: benchmark x{cfg.benchmark_threshold:g} over {cfg.benchmark_runs} runs, "
        f"log lines matching {cfg.log_pattern!r} <= {cfg.log_threshold}, "
        f"command timeout {cfg.command_timeout:g}s"
    )
    lines.append(
        f"commands (argument lists, run without a shell, in {check.project}; "
        "python is the environment's interpreter):"
    )
    lines += [f"  {what}: {json.dumps(argv)}" for what, argv in check.commands]
    lines.append("drift: " + ("; ".join(check.drift) if check.drift else "none"))
    lines += [f"note: {n}" for n in check.notes]
    return lines


# -- the replay -------------------------------------------------------------------------------------
class _Recorder:
    """Forwards to the front end's listener and keeps each step's latest state for the report."""

    def __init__(self, inner: FlowListener) -> None:
        self.inner = inner
        self.steps: dict[str, ReplayStep] = {}

    def on_step(self, event: StepEvent) -> None:
        seen = self.steps.get(event.step)
        if seen is not None and seen.status == "failed" and event.elapsed is None:
            # The answer to a failed gate ("rollback") does not make the gate pass.
            seen.message += f" -> {event.message}"
            self.inner.on_step(event)
            return
        self.steps[event.step] = ReplayStep(
            step=event.step, status=event.status, message=event.message, elapsed=event.elapsed
        )
        self.inner.on_step(event)

    def on_output(self, step: StepName, line: str) -> None:
        self.inner.on_output(step, line)

    def on_checks(self, checkset: CheckSet) -> None:
        self.inner.on_checks(checkset)

    def ask(self, question: Question) -> str:
        return self.inner.ask(question)

    def interrupt(self) -> None:
        self.inner.interrupt()


def replay_answers(runbook: Runbook) -> dict[str, str]:
    """Every decision a replay takes without asking: go; a failed check takes the step table's safe
    answer (staging: keep the current version; live: roll back); new warnings are acknowledged only
    when the recorded run acknowledged them. The verdict is left to the flow's default (success when
    healthy, else rollback)."""
    from oxwizard.flow.steps import safe_answers

    ack = runbook.last("ack-warnings")
    answers = {k: v for k, v in safe_answers().items() if k in ("checks-staging", "checks-live")}
    answers["go"] = "go"
    answers["ack-warnings"] = "acknowledge" if ack is not None and ack.answer == "acknowledge" else "stop"
    wrote = any(d.step == "pins" and d.answer == "write" for d in runbook.decisions)
    answers["pins"] = "write" if wrote else "skip"  # the files again, on the replay's own branch
    return answers


def host_name() -> str:
    return socket.gethostname() or "localhost"


def new_report(check: ReplayCheck, host: str, started_at: str) -> ReplayReport:
    return ReplayReport(
        runbook_id=check.runbook.id,
        runbook_path=str(check.runbook_path),
        host=host,
        env=str(check.env.root),
        project=str(check.project),
        started_at=started_at,
        ended_at=started_at,
        outcome="dry-run",
        exit_code=0,
        message="",
        plan=check.plan.pinned,
        steps=[ReplayStep(step="validate", status="passed", message="runbook valid", elapsed=check.elapsed)],
        fingerprint_before=check.fingerprint,
        fingerprint_after=check.fingerprint,
        drift=check.drift,
        commands=[argv for _, argv in check.commands],
    )


_OUTCOMES: dict[str, ReplayOutcome] = {
    "upgraded": "upgraded",
    "rolled-back": "rolled-back",
    "kept": "failed",  # a replay never keeps a failed gate; listed for completeness
    "declined": "declined",
    "failed": "failed",
    "nothing-to-do": "already-applied",
}


def replay(check: ReplayCheck, *, listener: FlowListener, host: str | None = None) -> ReplayReport:
    """Run the recorded flow on ``check.env``; every failure ends rolled back and verified (or 3)."""
    report = new_report(check, host or host_name(), now())
    if check.already_applied:
        report.outcome = "already-applied"
        # the outcome says "already-applied": the message does not say it again
        report.message = (
            f"every target is at its recorded version ({' '.join(check.plan.pinned)} installed); "
            "nothing was changed"
        )
        report.ended_at = now()
        return report
    rb = check.runbook
    recorder = _Recorder(listener)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    flow = UpgradeFlow(
        check.env,
        check.project,
        requirements_of(rb),
        check.index,
        listener=recorder,
        options=rb.options.model_copy(update={"pins_branch": None}),  # a branch named after the replay
        config=rb.checks,
        answers=replay_answers(rb),
        runbook_id=f"{stamp}-replay-{slug(rb.id)}",
        preset_plan=rb.plan,
    )
    try:
        outcome = flow.run()
        report.outcome = _OUTCOMES[outcome.status]
        report.exit_code, report.message = outcome.exit_code, outcome.message
    except RollbackFailed as exc:
        report.outcome, report.exit_code, report.message = "rollback-failed", 3, str(exc)
    except OxwizardError as exc:  # e.g. the lock taken meanwhile (2), an installer failure
        report.outcome = "refused" if exc.exit_code == 2 and not flow.live_touched else "failed"
        report.exit_code, report.message = exc.exit_code, str(exc)
    check.env.refresh()
    after = check.env.fingerprint()
    report.fingerprint_after = after
    report.steps += list(recorder.steps.values())
    if report.outcome != "upgraded":
        # Rolled back, or stopped before promotion: either way live must be exactly as before.
        unchanged = after == check.fingerprint
        report.rollback_verified = unchanged and report.outcome != "rollback-failed"
        if not unchanged and report.exit_code < 3:
            report.outcome, report.exit_code = "rollback-failed", 3
            report.message += (
                f"; the environment is not back to its state before ({after} != {check.fingerprint})"
            )
        elif report.outcome in ("failed", "declined") and report.exit_code == 0:
            report.exit_code = 1
    report.ended_at = now()
    return report
