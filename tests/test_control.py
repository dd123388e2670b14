"""The one key, in the engine: a rollback requested from another thread at any moment of the flow.

Each case runs the real flow (oxzep7 1.4.2 -> 1.5.0, staging, tests, new warnings acknowledged,
monitoring) on one real demo sandbox and asks for a rollback at one point: before a step, while an
installer or a check's child process runs, at a question, between monitoring rounds. Every run must
end "rolled-back" with live byte-identical to how it started, and nothing may reach live after the
request. The sandbox is shared: each case starts from the state the previous one restored.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from oxwizard.checks.result import CheckSet, load_checkset
from oxwizard.checks.suite import SMOKE_LATER
from oxwizard.core.config import load_project_config
from oxwizard.core.places import runbook_repo_path
from oxwizard.demo.sandbox import DemoSandbox
from oxwizard.env.environment import Environment
from oxwizard.env.specs import IndexOptions, parse_specs
from oxwizard.flow.upgrade import FlowStopped, Question, StepEvent, UpgradeFlow, start_state
from oxwizard.runbook.model import Decision, FlowOptions, dump_runbook, load_runbook
from tests.conftest import env_state


@dataclass
class Trigger:
    """Where to ask: a step event ("promote:running"), the first output line of a step (the
    installer's: "promote:line"), the first line a step's child prints after a marker line
    ("checks-staging:── tests"), or a question ("ask:verdict")."""

    at: str
    kind: str = "rollback"


@dataclass
class ScriptedListener:
    trigger: Trigger
    flow: UpgradeFlow | None = None
    fired_after: int | None = None  # decisions recorded when the request was made
    events: list[StepEvent] = field(default_factory=list)
    _armed: dict[str, bool] = field(default_factory=dict)

    def _fire(self) -> None:
        assert self.flow is not None and self.flow.runbook is not None
        if self.fired_after is not None:
            return
        self.fired_after = len(self.flow.runbook.decisions)
        request = self.flow.request_rollback if self.trigger.kind == "rollback" else self.flow.request_stop
        other = threading.Thread(target=request, args=("test request",))  # from another thread
        other.start()
        other.join()

    def on_step(self, event: StepEvent) -> None:
        self.events.append(event)
        if self.trigger.at == f"{event.step}:{event.status}":
            self._fire()

    def on_output(self, step: str, line: str) -> None:
        name, _, marker = self.trigger.at.partition(":")
        if name != step:
            return
        if marker == "line" or self._armed.get(step):
            self._fire()  # a line printed by the child that runs after the marker
        elif marker.startswith("──") and line.startswith(marker):
            self._armed[step] = True

    def on_checks(self, checkset: CheckSet) -> None:
        return None

    def ask(self, question: Question) -> str:
        if self.trigger.at == f"ask:{question.step}":
            self._fire()
        return question.default

    def interrupt(self) -> None:
        return None


def _flow(sandbox: DemoSandbox, listener: ScriptedListener) -> UpgradeFlow:
    config = load_project_config(sandbox.project).model_copy(
        update={"benchmark_runs": 1, "benchmark_threshold": 50.0}
    )
    flow = UpgradeFlow(
        Environment.open(sandbox.venv),
        sandbox.project,
        parse_specs(["oxzep7==1.5.0"]),
        IndexOptions.build(find_links=[str(sandbox.wheelhouse)], no_index=True),
        listener=listener,
        config=config,
        options=FlowOptions(stage=True, monitor_rounds=2, monitor_interval=0.3),
    )
    listener.flow = flow
    return flow


BEFORE_LIVE = [
    "checkpoint:running",
    "stage:running",
    "baseline:── tests",
    "ask:go",
    "install-staging:running",
    "install-staging:line",  # the installer is running
    "checks-staging:── tests",
    "ask:ack-warnings",
]
ON_LIVE = [
    "promote:running",
    "promote:line",
    "checks-live:── tests",
    "monitor:── tests",
    "ask:verdict",
]


@pytest.mark.parametrize("at", BEFORE_LIVE + ON_LIVE)
def test_a_rollback_requested_at_any_point_ends_rolled_back_with_live_as_it_was(
    live_demo: DemoSandbox, at: str
) -> None:
    before = env_state(live_demo.venv)
    listener = ScriptedListener(Trigger(at))
    flow = _flow(live_demo, listener)

    outcome = flow.run()

    assert listener.fired_after is not None, f"the trigger {at} never came"
    assert outcome.status == "rolled-back", outcome
    assert env_state(live_demo.venv) == before, "live is not byte-identical to how it started"
    assert flow.runbook is not None
    decisions = flow.runbook.decisions
    after = decisions[listener.fired_after :]
    assert not [d for d in after if d.step == "promote" and d.answer.startswith("installed")], after
    assert [d.step for d in decisions[-2:]] == ["rollback", "outcome"]
    assert decisions[-1].answer.startswith("rolled-back")
    if at in BEFORE_LIVE:
        assert "promote" not in [d.step for d in decisions]
        assert decisions[-2].answer.startswith("live untouched, matches checkpoint ck-")
    else:
        assert "verified" in decisions[-2].answer
    # the step that was running when the request came says it was stopped, not passed
    rolled = [e for e in listener.events if e.step == "rollback"]
    assert rolled[-1].status == "passed"
    assert not (live_demo.project / ".venv-stage").exists(), "the staging copy was left behind"
    if at in ("ask:go", "install-staging:running", "install-staging:line"):
        # the baseline's import smoke was under way on live (after the baseline, beside the go and
        # the install in staging): killed by the request, it is no evidence; its place-holder stays
        baseline = load_checkset(flow.repo_path / "evidence" / flow.runbook.id / "baseline.json")
        smoke = baseline.get("import-smoke")
        assert smoke is not None and (smoke.status, smoke.summary) == ("skip", SMOKE_LATER), smoke
    if at == "ask:go":
        # the baseline runs on live while the staging clone is made: the wizard shows the baseline
        # checks under way on live before the clone is done, and the runbook still tells them in
        # order: checkpoint, stage (the clone's own time), baseline
        seen = [(e.step, e.status) for e in listener.events]
        assert seen.index(("baseline", "running")) < seen.index(("stage", "passed")), seen
        assert [e.message for e in listener.events if e.step == "baseline"][0] == "baseline checks on live"
        steps = [d.step for d in decisions]
        assert steps[steps.index("checkpoint") : steps.index("checkpoint") + 3] == [
            "checkpoint",
            "stage",
            "baseline",
        ]
        stage = flow.runbook.last("stage")
        assert stage is not None and stage.evidence is not None and stage.evidence.counts["linked_files"] > 0


def test_planning_alone_is_not_an_unfinished_upgrade(
    live_demo: DemoSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OXWIZARD_CACHE_DIR", str(tmp_path / "cache"))  # the API compared now, not cached
    listener = ScriptedListener(Trigger("never"))
    flow = _flow(live_demo, listener)
    flow.prepare()
    doing = [e.message for e in listener.events if e.step == "plan" and e.status == "running"]
    assert doing == [  # what the wizard's plan pane says meanwhile
        "resolving oxzep7==1.5.0",
        "API impact: fetching the new version of oxzep7",
        "API impact: comparing oxzep7 1.4.2 with 1.5.0 (1 of 1)",
    ]
    assert flow.runbook is not None and (live_demo.project / ".oxwizard" / "runbooks").is_dir()
    info, _ = start_state(live_demo.project, Environment.open(live_demo.venv))
    # the plan is no unfinished upgrade (what this module's earlier tests left may be told instead)
    assert info is None or info.runbook.id != flow.runbook.id


def test_plans_made_since_do_not_hide_how_the_last_upgrade_stands(tmp_path: Path) -> None:
    """The wizard records every plan: a plan made after an upgrade (finished or not) is passed over,
    where it hid it ("nothing changed: no upgrade recorded for this environment yet" at the exit)."""
    from test_runbook_repo import make_runbook

    folder = runbook_repo_path(tmp_path) / "runbooks"
    upgraded = make_runbook("20260101-000000-oxzep7")
    upgraded.checkpoint_id = "ck-20260101T000000-0123456789ab"
    upgraded.record(Decision(step="outcome", question="How did it end?", answer="upgraded: oxzep7 2.0.0",
                             at="2026-01-01T00:00:30+00:00"))  # fmt: skip
    dump_runbook(upgraded, folder / f"{upgraded.id}.json")
    for day in ("02", "03"):  # planned only, twice since
        planned = make_runbook(f"202601{day}-000000-oxzep7")
        planned.record(Decision(step="plan", question="What would the upgrade change?", answer="1 change"))
        dump_runbook(planned, folder / f"{planned.id}.json")

    assert start_state(tmp_path) == (None, "oxzep7==2.0.0 upgraded: oxzep7 2.0.0 (2026-01-01 00:00)")

    upgraded.decisions[-1] = Decision(
        step="promote", question="Install the plan in live?", answer="installed"
    )
    dump_runbook(upgraded, folder / f"{upgraded.id}.json")  # stopped once on live: still unfinished
    info, _ = start_state(tmp_path)
    assert info is not None and info.runbook.id == upgraded.id and info.live_touched


def test_monitoring_after_a_run_ended_does_not_reopen_it(tmp_path: Path) -> None:
    """`oxwizard monitor` commits its rounds and verdict to the newest runbook, after its outcome: the
    run stays ended, told as it ended (they made it unfinished, and `resume --yes` re-applied the
    upgrade a rollback had undone). Rounds that follow no ending are the run's own: still unfinished."""
    from test_runbook_repo import make_runbook

    folder = runbook_repo_path(tmp_path) / "runbooks"
    ended = make_runbook("20260101-000000-oxzep7")
    ended.checkpoint_id = "ck-20260101T000000-0123456789ab"
    for minute, (step, answer) in enumerate([
        ("promote", "installed oxzep7==2.0.0"), ("outcome", "upgraded: oxzep7 2.0.0"),
        ("rollback", "rolled back to ck-20260101T000000-0123456789ab, verified"),
        ("outcome", "rolled-back: by oxwizard rollback"), ("monitor", "healthy"),
        ("monitor-verdict", "healthy (the upgrade is not on live: no success to declare)"),
    ]):  # fmt: skip
        ended.record(Decision(step=step, question="?", answer=answer, at=f"2026-01-01T00:0{minute}:00+00:00"))
    dump_runbook(ended, folder / f"{ended.id}.json")
    assert start_state(tmp_path) == (
        None,
        "oxzep7==2.0.0 rolled-back: by oxwizard rollback (2026-01-01 00:03)",
    )

    ended.decisions = ended.decisions[:3] + ended.decisions[4:]  # a verified rollback ended it, no outcome
    dump_runbook(ended, folder / f"{ended.id}.json")
    assert start_state(tmp_path) == (
        None, "oxzep7==2.0.0: rolled back to ck-20260101T000000-0123456789ab, verified (2026-01-01 00:02)"
    )  # fmt: skip
    # the wizard's R after the project files were written: the branch's removal follows the rollback
    branch = Decision(step="pins", question="Remove the branch?", answer="branch oxwizard/x removed",
                      at="2026-01-01T00:06:00+00:00")  # fmt: skip
    ended.decisions = ended.decisions[:3] + [branch]
    dump_runbook(ended, folder / f"{ended.id}.json")
    assert start_state(tmp_path) == (
        None, "oxzep7==2.0.0: rolled back to ck-20260101T000000-0123456789ab, verified (2026-01-01 00:02)"
    )  # fmt: skip

    stopped = make_runbook("20260102-000000-oxzep7")
    stopped.checkpoint_id = "ck-20260102T000000-0123456789ab"
    for step in ("promote", "checks-live", "monitor"):
        stopped.record(Decision(step=step, question="?", answer="installed oxzep7==2.0.0"))
    dump_runbook(stopped, folder / f"{stopped.id}.json")
    info, _ = start_state(tmp_path)
    assert info is not None and info.runbook.id == stopped.id and info.last_step == "monitor"
    assert info.live_touched

    # a rollback that FAILED did not put live back: the run stays open with the upgrade on live (it
    # said "Live was not changed", and n would have recorded that)
    stopped.record(Decision(step="rollback", question="?", answer="FAILED: could not be verified"))
    dump_runbook(stopped, folder / f"{stopped.id}.json")
    info, _ = start_state(tmp_path)
    assert info is not None and info.last_step == "rollback" and info.live_touched


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oxwizard", *args], capture_output=True, text=True, timeout=900,
        check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_resume_and_rollback_headless_are_recorded_in_the_runbook(demo: Callable[[], DemoSandbox]) -> None:
    sandbox = demo()
    where = ["--env", str(sandbox.venv), "--project", str(sandbox.project)]
    sources = ["--find-links", str(sandbox.wheelhouse), "--no-index"]
    # the user quit while the new version was being installed on live: it finished, unverified
    flow = _flow(sandbox, ScriptedListener(Trigger("promote:line", kind="stop")))
    with pytest.raises(FlowStopped):
        flow.run()
    env = Environment.open(sandbox.venv)
    assert env.distributions["oxzep7"].version == "1.5.0", "the install on live was not let finish"
    info, _ = start_state(sandbox.project, env)
    assert info is not None and info.live_touched and info.last_step == "promote"
    assert flow.runbook is not None
    runbook = sandbox.project / ".oxwizard" / "runbooks" / f"{flow.runbook.id}.json"

    # with no terminal to give the verdict and no --yes: nothing is done (a cron job never rolls back
    # a healthy upgrade by itself), as `upgrade` declines before any change
    before = runbook.read_bytes()
    unasked = _cli("resume", *where, *sources)
    assert unasked.returncode == 2, unasked.stdout + unasked.stderr
    assert "oxwizard: error: nothing was done: oxzep7==1.5.0 is on live and resuming ends in a verdict" in (
        unasked.stderr
    )
    assert runbook.read_bytes() == before
    assert Environment.open(sandbox.venv).distributions["oxzep7"].version == "1.5.0"

    resumed = _cli("resume", *where, *sources, "--yes")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resuming {flow.runbook.id}" in resumed.stdout
    assert "upgraded:" in resumed.stdout
    steps = [d.step for d in load_runbook(runbook).decisions]
    assert steps[steps.index("promote") + 1 :] == ["checks-live", "monitor", "monitor", "verdict", "outcome"]
    assert Environment.open(sandbox.venv).distributions["oxzep7"].version == "1.5.0"

    rolled = _cli("rollback", *where)
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert f"recorded in runbook {flow.runbook.id}" in rolled.stdout
    last = load_runbook(runbook).decisions[-2:]
    assert [d.step for d in last] == ["rollback", "outcome"]
    assert last[0].answer.endswith("verified") and last[1].answer == "rolled-back: by oxwizard rollback"
    env = Environment.open(sandbox.venv)
    assert env.distributions["oxzep7"].version == "1.4.2"
    info, said = start_state(sandbox.project, env)
    assert info is None and "oxzep7==1.5.0 rolled-back: by oxwizard rollback" in said

    nothing = _cli("resume", *where, *sources, "--yes")
    assert nothing.returncode == 0 and "nothing to resume: last oxzep7==1.5.0 rolled-back" in nothing.stdout

    # stopped during the staging checks: it ends at once, live untouched, no staging copy left;
    # resume plans the same targets again and runs them
    before = env_state(sandbox.venv)
    flow = _flow(sandbox, ScriptedListener(Trigger("checks-staging:── tests", kind="stop")))
    with pytest.raises(FlowStopped):
        flow.run()
    assert env_state(sandbox.venv) == before
    info, _ = start_state(sandbox.project, Environment.open(sandbox.venv))
    assert info is not None and not info.live_touched
    assert not (sandbox.project / ".venv-stage").exists()
    assert flow.runbook is not None
    first = flow.runbook.id
    again = _cli("resume", *where, *sources, "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "the upgrade is not on live; planning oxzep7==1.5.0 again" in again.stdout
    closed = load_runbook(sandbox.project / ".oxwizard" / "runbooks" / f"{first}.json").decisions[-1]
    assert closed.step == "outcome" and closed.answer.startswith("re-planned: continued as ")
    assert Environment.open(sandbox.venv).distributions["oxzep7"].version == "1.5.0"


@dataclass
class _KeepsDespiteMonitoring:
    """A person who, after the checks on live passed, sees the app log an error (the monitoring round
    catches it) and keeps the upgrade anyway."""

    log: Path
    answers: dict[str, str] = field(default_factory=dict)

    def on_step(self, event: StepEvent) -> None:
        if event.step == "checks-live" and event.status in ("passed", "warned"):
            with self.log.open("a", encoding="utf-8") as f:
                f.write("ERROR oxzep7 broke something in production\n")

    def on_output(self, step: str, line: str) -> None:
        return None

    def on_checks(self, checkset: CheckSet) -> None:
        return None

    def ask(self, question: Question) -> str:
        self.answers[question.step] = question.default
        return "success" if question.step == "verdict" else question.default

    def interrupt(self) -> None:
        return None


def test_an_upgrade_kept_despite_failed_monitoring_is_not_said_verified(
    demo: Callable[[], DemoSandbox],
) -> None:
    sandbox = demo()
    listener = _KeepsDespiteMonitoring(sandbox.project / "logs" / "app.log")
    config = load_project_config(sandbox.project).model_copy(
        update={"benchmark_runs": 1, "benchmark_threshold": 50.0}
    )
    flow = UpgradeFlow(
        Environment.open(sandbox.venv), sandbox.project, parse_specs(["oxzep7==1.5.0"]),
        IndexOptions.build(find_links=[str(sandbox.wheelhouse)], no_index=True), listener=listener,
        config=config, options=FlowOptions(stage=True, monitor_rounds=1, monitor_interval=0),
    )  # fmt: skip

    outcome = flow.run()

    assert listener.answers["verdict"] == "rollback"  # what it proposed: roll back
    assert outcome.status == "kept" and outcome.exit_code == 1, outcome
    assert outcome.message.startswith("monitoring found problems (") and outcome.message.endswith(
        "kept by decision"
    )
    assert "error-logs" in outcome.message and "verified" not in outcome.message
