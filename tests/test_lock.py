"""The per-environment lock: a second process is refused naming the holder; a dead holder's lock is taken."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from oxwizard.core.errors import LockHeld
from oxwizard.env.environment import Environment
from oxwizard.safety.lock import env_lock, lock_path


@pytest.fixture(scope="module")
def bare_env(tmp_path_factory: pytest.TempPathFactory) -> Environment:
    folder = tmp_path_factory.mktemp("lockenv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    return Environment.open(folder)


HOLD = """
import sys, time
from oxwizard.env.environment import Environment
from oxwizard.safety.lock import env_lock
with env_lock(Environment.open(sys.argv[1]), "oxwizard upgrade oxzep7==2.0.0"):
    print("held", flush=True)
    time.sleep(60)
"""


def _holder(env: Environment) -> subprocess.Popen[str]:
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(env.root)], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "held"
    return child


def test_second_process_is_refused_with_holder_pid_and_command(bare_env: Environment) -> None:
    child = _holder(bare_env)
    try:
        with pytest.raises(LockHeld) as caught, env_lock(bare_env, "oxwizard rollback"):
            pass
        assert f"locked by pid {child.pid} (oxwizard upgrade oxzep7==2.0.0)" in str(caught.value)
        done = subprocess.run(
            [sys.executable, "-m", "oxwizard", "rollback", "--env", str(bare_env.root)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 2
        assert f"is locked by pid {child.pid}" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    finally:
        child.kill()
        child.wait()


def test_stage_is_refused_while_an_upgrade_holds_the_lock(bare_env: Environment) -> None:
    """The running upgrade's staging clone (the default destination) is never replaced under it."""
    dest = Path(bare_env.root).parent / ".venv-stage-of-the-upgrade"
    child = _holder(bare_env)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "oxwizard", "stage", "--env", str(bare_env.root), "--dest", str(dest)],
            capture_output=True,
            text=True,
        )
    finally:
        child.kill()
        child.wait()
    assert done.returncode == 2
    assert f"is locked by pid {child.pid}" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert not dest.exists()


def test_lock_of_a_killed_process_is_taken_over(bare_env: Environment) -> None:
    child = _holder(bare_env)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert json.loads(lock_path(bare_env).read_text())["pid"] == child.pid  # the stale lock is still there
    notes: list[str] = []
    with env_lock(bare_env, "oxwizard rollback", on_stale=notes.append):
        assert json.loads(lock_path(bare_env).read_text())["pid"] == os.getpid()
    assert notes == [f"took over a stale lock of pid {child.pid} (oxwizard upgrade oxzep7==2.0.0)"]


def test_lock_is_reentrant_in_one_process_and_private(bare_env: Environment) -> None:
    with env_lock(bare_env, "outer"), env_lock(bare_env, "inner"):
        assert json.loads(lock_path(bare_env).read_text())["command"] == "outer"
    assert (Path(bare_env.root) / ".oxwizard").stat().st_mode & 0o777 == 0o700
    with env_lock(bare_env, "again"):  # released after the outer block
        pass
