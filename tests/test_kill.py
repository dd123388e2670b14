"""Kill the real process (SIGKILL) at many points of apply and of rollback, then recover and verify.

A small driver runs in a subprocess: checkpoint, apply the plan to the live env (journaled), and
optionally roll back. ``OXWIZARD_TEST_KILL_AT`` makes it SIGKILL itself after N installer lines or
N rollback file operations. Then an ordinary ``oxwizard`` command opens the env: it must say it is
recovering, and the env must end exactly at the checkpoint.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import assert_restored

from oxwizard.demo.sandbox import DemoSandbox
from oxwizard.env.environment import Environment
from oxwizard.env.plan import compute_plan
from oxwizard.env.specs import IndexOptions, parse_specs
from oxwizard.safety.journal import pending

DRIVER = r"""
import sys
from oxwizard.safety.apply import apply_plan
from oxwizard.safety.checkpoint import take_checkpoint
from oxwizard.env.environment import Environment
from oxwizard.safety.journal import pending
from oxwizard.env.plan import Plan
from oxwizard.env.specs import IndexOptions

env = Environment.open(sys.argv[1])
plan = Plan.model_validate_json(open(sys.argv[2]).read())
index = IndexOptions.build(find_links=[sys.argv[3]], no_index=True)
ck = take_checkpoint(env, plan)
print(ck.id, flush=True)
result = apply_plan(env, plan, index, checkpoint=ck, on_line=lambda line: print(line, flush=True))
print("APPLIED", result.ok, flush=True)
if sys.argv[4] == "rollback":
    from oxwizard.safety.rollback import rollback
    r = rollback(env, ck.id)
    print("ROLLED-BACK", r.operations, flush=True)
"""
OXWIZARD = [sys.executable, "-m", "oxwizard"]


def _env(kill: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("OXWIZARD_TEST_KILL_AT", None)
    if kill:
        env["OXWIZARD_TEST_KILL_AT"] = kill
    return env


@pytest.fixture(scope="module")
def plan_file(live_demo: DemoSandbox, tmp_path_factory: pytest.TempPathFactory) -> Path:
    env = Environment.open(live_demo.venv)
    index = IndexOptions.build(find_links=[str(live_demo.wheelhouse)], no_index=True)
    plan = compute_plan(env, parse_specs(["oxzep7==2.0.0", "humbleconf==1.3.0", "ziprow==0.3.2"]), index)
    assert len(plan.changes) == 4  # oxzep7-core is new
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    path.write_text(plan.model_dump_json(), encoding="utf-8")
    return path


def _drive(demo: DemoSandbox, plan: Path, then: str, kill: str | None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-c", DRIVER, str(demo.venv), str(plan), str(demo.wheelhouse), then]
    return subprocess.run(argv, capture_output=True, text=True, env=_env(kill), timeout=120)


@pytest.fixture(scope="module")
def clean_run(live_demo: DemoSandbox, plan_file: Path) -> subprocess.CompletedProcess[str]:
    """One full apply then rollback, never killed: how many installer lines and rollback file
    operations there are to kill at (shared by the tests that kill at each of them)."""
    clean = _drive(live_demo, plan_file, "rollback", None)
    assert "APPLIED True" in clean.stdout, clean.stdout + clean.stderr
    return clean


def _cli(demo: DemoSandbox, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [*OXWIZARD, *args, "--env", str(demo.venv)]
    return subprocess.run(argv, capture_output=True, text=True, env=_env(None), timeout=120)


def _recover_with_any_command(demo: DemoSandbox) -> subprocess.CompletedProcess[str]:
    done = _cli(demo, "env")
    assert done.returncode == 0, done.stderr
    return done


def test_kill_during_apply_at_every_installer_line(
    live_demo: DemoSandbox, plan_file: Path, clean_run: subprocess.CompletedProcess[str]
) -> None:
    lines = clean_run.stdout.splitlines().index("APPLIED True") - 1  # how many lines a full apply prints
    assert lines >= 5
    for n in range(lines + 1):
        done = _drive(live_demo, plan_file, "keep", f"apply:{n}")
        assert done.returncode == -signal.SIGKILL, (n, done.stdout, done.stderr)
        ck_id = done.stdout.splitlines()[0]
        recovered = _recover_with_any_command(live_demo)
        assert "interrupted apply (pid" in recovered.stderr, (n, recovered.stderr)
        assert f"rolled back to {ck_id}" in recovered.stderr
        assert_restored(live_demo.venv, ck_id)


def test_kill_whole_process_group_at_random_moments_of_apply(live_demo: DemoSandbox, plan_file: Path) -> None:
    argv = [sys.executable, "-c", DRIVER, str(live_demo.venv), str(plan_file), str(live_demo.wheelhouse), "x"]

    def start() -> tuple[subprocess.Popen[str], str, float]:
        child = subprocess.Popen(
            argv, stdout=subprocess.PIPE, text=True, env=_env(None), start_new_session=True
        )
        assert child.stdout is not None
        ck_id = child.stdout.readline().strip()  # the checkpoint exists: the apply starts now
        return child, ck_id, time.monotonic()

    child, ck_id, began = start()  # a full apply, to know how long one takes here
    assert child.stdout is not None
    assert "APPLIED True" in child.stdout.read()
    span = time.monotonic() - began
    child.wait()
    child.stdout.close()
    assert _cli(live_demo, "rollback").returncode == 0
    interrupted = 0
    for fraction in (0.1, 0.3, 0.5, 0.7, 0.85):
        child, ck_id, began = start()
        time.sleep(max(0.0, span * fraction - (time.monotonic() - began)))
        os.killpg(child.pid, signal.SIGKILL)  # a power loss: the installer dies too
        child.wait()
        assert child.stdout is not None
        child.stdout.close()
        if pending(live_demo.venv):
            interrupted += 1
            assert "interrupted apply" in _recover_with_any_command(live_demo).stderr
        else:  # the apply had finished and been verified: roll it back the ordinary way
            assert _cli(live_demo, "rollback").returncode == 0
        assert_restored(live_demo.venv, ck_id)
    assert interrupted >= 2  # timing-based: most of the kills land mid-install


def test_kill_during_rollback_at_many_file_operations(
    live_demo: DemoSandbox, plan_file: Path, clean_run: subprocess.CompletedProcess[str]
) -> None:
    total = int(clean_run.stdout.split("ROLLED-BACK")[1].split()[0])
    assert total > 20
    points = sorted({1, 2, 3, *range(5, total + 1, max(1, total // 8)), total - 1, total})
    for n in points:
        done = _drive(live_demo, plan_file, "rollback", f"rollback:{n}")
        assert done.returncode == -signal.SIGKILL, (n, done.stdout[-500:], done.stderr[-500:])
        assert "APPLIED True" in done.stdout
        ck_id = done.stdout.splitlines()[0]
        recovered = _recover_with_any_command(live_demo)
        assert "interrupted rollback" in recovered.stderr, (n, recovered.stderr)
        assert_restored(live_demo.venv, ck_id)
