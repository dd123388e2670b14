"""The blocking work the wizard does, as plain functions its thread workers call.

Each one only calls the engine (the same calls the headless commands make) and returns what the
screens show; none touches a widget. Imports of the engine happen here, after the first paint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from oxwizard.tui.messages import EnvironmentLoaded, EnvironmentRefreshed, LatestArrived, PipChecked
from oxwizard.tui.widgets.target_row import TargetRow

if TYPE_CHECKING:
    from oxwizard.checks.risk import RiskSummary
    from oxwizard.checks.security import SecurityReport
    from oxwizard.env.environment import Environment
    from oxwizard.env.plan import Plan
    from oxwizard.env.specs import IndexOptions
    from oxwizard.flow.upgrade import FlowListener, ResumeInfo, UpgradeFlow
    from oxwizard.runbook.repo import LogEntry
    from oxwizard.safety.rollback import RollbackResult


@dataclass(frozen=True)
class Sources:
    """Index options as typed on the command line (built into IndexOptions in a worker)."""

    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    no_index: bool = False
    isolated: bool = False

    def build(self, env: Environment) -> IndexOptions:
        """The effective sources for ``env``: pip's configuration with these over it (unless isolated)."""
        from oxwizard.env.pipconfig import effective_index
        from oxwizard.env.specs import IndexOptions

        flags = IndexOptions.build(
            index_url=self.index_url,
            extra_index_urls=self.extra_index_urls,
            find_links=self.find_links,
            no_index=self.no_index,
            isolated=self.isolated,
        )
        return effective_index(env, flags, isolated=self.isolated)


def load_environment(env_path: str | None, project: Path, sources: Sources) -> EnvironmentLoaded:
    """Open the environment, run crash recovery, and read what the prepare screen shows.

    The targets come with their installed versions. Unless every source is on this machine
    (``--no-index``), their "latest" is left pending and ``ask`` says which sources to read in the
    background (:func:`read_latest`: pip's configuration is read there too); ``pip check`` runs in
    the background as well (:func:`pip_check`), so that the table is usable at once."""
    from oxwizard.env.environment import Environment
    from oxwizard.env.locktools import choose_installer
    from oxwizard.env.project_files import detect
    from oxwizard.flow.upgrade import start_state
    from oxwizard.safety.lock import holder_now

    env = Environment.open(env_path)
    recovered = run_recovery(env, project, sources)
    choose_installer(env, project)
    rows, ask = first_rows(env, sources)
    resume, last = start_state(project, env)
    # another oxwizard still runs on it (an SSH session dropped, the old one finishing its step): its
    # run is not offered to resume, its runbook being written as this one reads it
    elsewhere = holder_now(env)
    return EnvironmentLoaded(
        env, rows, (), tuple(recovered), None if elsewhere else resume, last, managers=tuple(detect(project)),
        ask=ask, demo=is_demo(env, project), held_elsewhere=elsewhere,
    )  # fmt: skip


def is_demo(env: Environment, project: Path) -> bool:
    """The wizard is open on the demo sandbox (``oxwizard demo DIR``): its environment and project."""
    from oxwizard.demo.sandbox import DemoSandbox

    demo = DemoSandbox.existing(project.parent)
    return demo is not None and demo.project == project.resolve() and demo.venv == Path(env.prefix).resolve()


def pip_check(env: Environment) -> PipChecked:
    """``pip check`` on the environment (seconds on a large one: after the table is usable)."""
    return PipChecked(tuple(env.pip_check()))


def refresh_environment(env: Environment, sources: Sources) -> EnvironmentRefreshed:
    """Read live again after something changed it: what is installed now, and ``pip check``."""
    env.refresh()
    rows, ask = first_rows(env, sources)
    return EnvironmentRefreshed(rows, tuple(env.pip_check()), ask)


def first_rows(env: Environment, sources: Sources) -> tuple[tuple[TargetRow, ...], Sources | None]:
    """The targets table as soon as the environment is read, and the sources still to ask (or None).

    With ``--no-index`` only folders are read: the answers are there at once. Otherwise every row's
    "latest" is pending until :func:`read_latest` brings it."""
    from oxwizard.env.outdated import outdated_report

    if not sources.no_index:
        pending = [TargetRow(n, d.version, None, "", "pending") for n, d in env.distributions.items()]
        return sort_rows(pending), sources
    report = outdated_report(env, sources.build(env))
    newer = {o.name: o for o in report.rows}
    unknown = {u.name for u in report.unanswered}
    rows = []
    for name, dist in env.distributions.items():
        o = newer.get(name)
        status = "unknown" if name in unknown else ""
        rows.append(TargetRow(name, dist.version, o.latest if o else None, o.impact if o else "", status))
    return sort_rows(rows), None


def read_latest(
    env: Environment,
    sources: Sources,
    post: Callable[[LatestArrived], object],
    generation: int,
    stopped: Callable[[], bool] | None = None,
    every: float = 0.1,
) -> None:
    """Ask the sources for every target; post the answers in batches (at most one per ``every``
    seconds, and the last when all are in), so that a burst of answers is one redraw."""
    import time

    from oxwizard.core.errors import OxwizardError
    from oxwizard.env.index import Answer, IndexReader
    from oxwizard.env.outdated import candidates_for, outdated_row

    dists = env.distributions
    total, done, last = len(dists), 0, time.monotonic()
    batch: list[TargetRow] = []
    try:
        index = sources.build(env)
    except OxwizardError as exc:  # pip's configuration cannot be read: every answer is unknown
        rows = tuple(TargetRow(n, d.version, None, "", "unknown") for n, d in dists.items())
        post(LatestArrived(rows, total, total, (str(exc),), generation))
        return
    reader = IndexReader(index)

    def row_of(answer: Answer) -> TargetRow:
        current = dists[answer.name].version
        if answer.versions is None:
            return TargetRow(answer.name, current, None, "", "unknown")
        o = outdated_row(answer.name, current, answer.versions, "major")
        return TargetRow(answer.name, current, o.latest if o else None, o.impact if o else "")

    try:
        floors = {n: d.version for n, d in dists.items()}  # only a newer version makes a row's latest
        for answer in reader.answers(dists, candidates_for(env, index.pre), stopped, floors):
            done += 1
            if answer.name in dists:
                batch.append(row_of(answer))
            if time.monotonic() - last >= every:
                post(LatestArrived(tuple(batch), done, total, tuple(reader.errors), generation))
                batch, last = [], time.monotonic()
    finally:
        reader.close()
    if stopped is None or not stopped():
        post(LatestArrived(tuple(batch), total, total, tuple(reader.errors), generation))


def sort_rows(rows: Iterable[TargetRow]) -> tuple[TargetRow, ...]:
    """Installed first with a newer version, then the rest, by name."""
    return tuple(sorted(rows, key=lambda r: (r.latest is None, r.name)))


def run_recovery(env: Environment, project: Path, sources: Sources) -> list[str]:
    """Crash recovery, recorded in the project's runbook (:func:`oxwizard.flow.upgrade.recover_recorded`):
    what it did, one line each (nothing when there was nothing to recover)."""
    from oxwizard.flow.upgrade import recover_recorded

    lines: list[str] = []
    recover_recorded(env, project, lines.append, lambda: sources.build(env))
    return lines


def new_flow(
    env: Environment,
    project: Path,
    specs: list[str],
    sources: Sources,
    listener: FlowListener,
    monitor_rounds: int | None,
    monitor_interval: float | None,
) -> UpgradeFlow:
    from oxwizard.core.config import load_project_config
    from oxwizard.env.specs import parse_specs
    from oxwizard.flow.trials import default_parallel
    from oxwizard.flow.upgrade import UpgradeFlow, flow_options

    config = load_project_config(project)
    options = flow_options(config, rounds=monitor_rounds, interval=monitor_interval)
    return UpgradeFlow(
        env, project, parse_specs(specs), sources.build(env), listener=listener, options=options,
        config=config, survive_hangup=True, isolate=len(specs) > 1, parallel=default_parallel(),
    )  # fmt: skip


def set_update_pins(flow: UpgradeFlow, on: bool) -> None:
    """What ``u`` on Prepare chose, as the option the flow reads at its ``pins`` step."""
    flow.options.update_pins = on


def promoted_risk(flow: UpgradeFlow) -> tuple[RiskSummary | None, SecurityReport | None]:
    """After a partial promotion the flow's plan is the promoted set's: its risk and security, assessed
    again (the plan's were the whole set's, the culprits' included), the flow's from then on."""
    from oxwizard.checks.security import security_delta
    from oxwizard.core.errors import OxwizardError

    if flow.plan is None:
        return None, None
    try:
        flow.security = security_delta(
            flow.plan, flow.env, flow.config, flow.project, offline=flow.index.no_index
        )
    except OxwizardError:
        flow.security = None
    return flow.reassess(), flow.security


def undo_hint(env: Environment, project: Path) -> str:
    """What ``R`` says when no checkpoint is on screen (the wizard reopened after an upgrade ended):
    the newest upgrade of this environment that took a checkpoint, where it is, and the command that
    undoes it when it is on live ("" when there is none)."""
    import shlex

    from oxwizard.core.errors import RunbookError
    from oxwizard.core.places import runbook_repo_path
    from oxwizard.flow.upgrade import LOOK_BACK, where_the_upgrade_is
    from oxwizard.runbook.model import load_runbook

    folder = runbook_repo_path(project) / "runbooks"
    for path in sorted(folder.glob("*.json"), reverse=True)[:LOOK_BACK]:
        try:
            runbook = load_runbook(path)
        except RunbookError:
            continue
        if runbook.checkpoint_id is None or runbook.environment.prefix != str(env.prefix):
            continue
        targets, where = ", ".join(runbook.targets), where_the_upgrade_is(runbook)
        if where != "on live":
            return f"The last upgrade ({targets}) {where}: nothing to roll back."
        command = ["oxwizard", "rollback", "--env", str(env.prefix), "--project", str(project)]
        command += ["--to", runbook.checkpoint_id]
        return f"The last upgrade ({targets}) ended on live; to undo it: {shlex.join(command)}"
    return ""


def planned_diff(project: Path, plan: Plan | None) -> str:
    """The planned edits of the project's files as a unified diff ("" when there are none)."""
    from oxwizard.env.project_files import unified_diff

    if plan is None or plan.project_files is None:
        return ""
    return unified_diff(project, plan.project_files)


def resumed_flow(
    env: Environment, project: Path, info: ResumeInfo, sources: Sources, listener: FlowListener
) -> UpgradeFlow:
    """The flow of an unfinished runbook, picked up where it stands (decisions append to it)."""
    from oxwizard.flow.upgrade import resume_flow

    return resume_flow(env, project, info, sources.build(env), listener, survive_hangup=True)


def read_runbook_log(project: Path, limit: int = 200) -> list[LogEntry]:
    from oxwizard.core.places import runbook_repo_path
    from oxwizard.runbook.repo import RunbookRepo

    path = runbook_repo_path(project)
    if not (path / ".git").exists():
        return []
    with RunbookRepo(path) as repo:
        return repo.log(limit)


def verify_rollback_fully(env: Environment, result: RollbackResult) -> tuple[bool, str]:
    """The sha256 pass behind a rollback verified by signatures: every file of its checkpoint hashed.

    The result line to show: the rollback's message ending ``verified (sha256)``, or the first file
    that differs.
    """
    from oxwizard.core.errors import OxwizardError
    from oxwizard.safety.checkpoint import load_checkpoint
    from oxwizard.safety.rollback import verify_files

    if result.checkpoint_id is None:
        return False, "the sha256 pass after the rollback could not run: the rollback named no checkpoint"
    try:
        problems = verify_files(env, load_checkpoint(env, result.checkpoint_id))
    except OxwizardError as exc:
        return False, f"the sha256 pass after the rollback failed: {exc}"
    if problems:
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        return False, f"rolled back, but the sha256 pass found: {problems[0]}{more}"
    return True, result.message.removesuffix("verified (signatures)").rstrip() + " verified (sha256)"
