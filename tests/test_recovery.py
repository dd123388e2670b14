"""Crash recovery: cheap when idle, leaves a running operation alone, cleans only its own leftovers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import assert_restored

from oxwizard.demo.sandbox import DemoSandbox
from oxwizard.env.environment import Environment
from oxwizard.env.plan import compute_plan
from oxwizard.env.specs import IndexOptions, parse_specs
from oxwizard.safety.journal import pending
from oxwizard.safety.recovery import recover

KILLED_APPLY = r"""
import sys
from oxwizard.safety.apply import apply_plan
from oxwizard.safety.checkpoint import take_checkpoint
from oxwizard.env.environment import Environment
from oxwizard.env.plan import Plan
from oxwizard.env.specs import IndexOptions
env = Environment.open(sys.argv[1])
plan = Plan.model_validate_json(open(sys.argv[2]).read())
ck = take_checkpoint(env, plan)
print(ck.id, flush=True)
apply_plan(env, plan, IndexOptions.build(find_links=[sys.argv[3]], no_index=True), checkpoint=ck)
"""


def _killed_apply(demo: DemoSandbox, tmp_path: Path, at: int) -> str:
    env = Environment.open(demo.venv)
    index = IndexOptions.build(find_links=[str(demo.wheelhouse)], no_index=True)
    plan = compute_plan(env, parse_specs(["oxzep7==2.0.0"]), index)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(plan.model_dump_json())
    done = subprocess.run(
        [sys.executable, "-c", KILLED_APPLY, str(demo.venv), str(plan_file), str(demo.wheelhouse)],
        capture_output=True, text=True, env={**os.environ, "OXWIZARD_TEST_KILL_AT": f"apply:{at}"},
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr
    return done.stdout.split()[0]


def test_recover_is_a_noop_without_a_journal(live_demo: DemoSandbox) -> None:
    said: list[str] = []
    assert recover(Environment.open(live_demo.venv), said.append) is None
    assert said == []


def test_foreign_tilde_leftovers_are_reported_and_kept(live_demo: DemoSandbox, tmp_path: Path) -> None:
    env = Environment.open(live_demo.venv)
    foreign = env.purelib / "~oreign-1.0.dist-info"
    foreign.mkdir()
    try:
        ck_id = _killed_apply(live_demo, tmp_path, 6)
        said: list[str] = []
        result = recover(env, said.append)
        assert result is not None and result.verified and result.checkpoint_id == ck_id
        assert any("an interrupted apply (pid" in s and ck_id in s for s in said)
        assert any("~oreign-1.0.dist-info was left by an earlier interrupted pip" in s for s in said)
        assert foreign.is_dir()
    finally:
        foreign.rmdir()
    assert_restored(live_demo.venv, ck_id)


HOLD = """
import sys, time
from oxwizard.env.environment import Environment
from oxwizard.safety.lock import env_lock
with env_lock(Environment.open(sys.argv[1]), "oxwizard upgrade (still running)"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_an_operation_still_running_elsewhere_is_left_alone(live_demo: DemoSandbox, tmp_path: Path) -> None:
    ck_id = _killed_apply(live_demo, tmp_path, 0)
    env = Environment.open(live_demo.venv)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(live_demo.venv)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        said: list[str] = []
        assert recover(env, said.append) is None
        assert any(f"locked by pid {holder.pid}" in s for s in said)
        assert pending(env)
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout:
            holder.stdout.close()
    said = []
    result = recover(env, said.append)
    assert result is not None and result.verified
    assert_restored(live_demo.venv, ck_id)


def test_an_upgrade_killed_while_installing_on_live_is_recorded_as_changed_then_undone(demo: Any) -> None:
    """`kill -9` of `oxwizard upgrade` in the middle of its install on live: the run had not yet
    recorded that install. The next command recovers live, and the runbook says so — the install on
    live, cut short, then the rollback that undid it — so the next start does not offer the run as
    one that "never reached live", and says how it ended."""
    from oxwizard.flow.upgrade import start_state, where_the_upgrade_is
    from oxwizard.runbook.model import load_runbook

    sandbox = demo()
    where = ["--env", str(sandbox.venv), "--project", str(sandbox.project)]
    sources = ["--find-links", str(sandbox.wheelhouse), "--no-index"]
    upgrade = ["upgrade", "oxzep7==2.0.0", *where, *sources, "--yes", "--no-stage"]
    killed = subprocess.run(
        [sys.executable, "-m", "oxwizard", *upgrade],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OXWIZARD_TEST_KILL_AT": "apply:2"},
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert pending(sandbox.venv)
    [path] = (sandbox.project / ".oxwizard" / "runbooks").glob("*.json")
    assert where_the_upgrade_is(load_runbook(path)) == "never reached live"  # as the killed run left it

    done = subprocess.run([sys.executable, "-m", "oxwizard", "env", *where], capture_output=True, text=True,
                          timeout=300)  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "interrupted apply (pid" in done.stderr
    runbook = load_runbook(path)
    ck = runbook.checkpoint_id
    assert ck is not None
    assert_restored(sandbox.venv, ck)
    steps = [(d.step, d.answer) for d in runbook.decisions]
    (cut, said), rolled, ended = steps[-3:]
    assert cut == "promote" and said.startswith("interrupted while installing on live (pid ")
    assert said.endswith("): undone by recovery")
    assert rolled == ("rollback", f"rolled back to {ck}, verified")
    ending = "rolled-back: the install on live was cut short; oxwizard recovery put live back, verified"
    assert ended == ("outcome", ending)
    assert where_the_upgrade_is(runbook) == "was rolled back"
    resume, last = start_state(sandbox.project, Environment.open(sandbox.venv))
    assert resume is None  # nothing to resume: the run ended
    assert last.startswith(f"oxzep7==2.0.0 {ending} (")
