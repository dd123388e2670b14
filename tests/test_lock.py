"""The per-environment lock: a second process is refused naming the holder; a dead holder's lock is taken."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from oxwizard.core.errors import LockHeld
from oxwizard.env.environment import Environment
from oxwizard.safety.lock import env_lock, holder_now, lock_path


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


def test_who_holds_the_lock_now_is_told_without_taking_it(bare_env: Environment) -> None:
    """The wizard, opened while another oxwizard runs on the environment (an SSH session dropped, the
    old one still installing), is told who holds it; once it is let go, no one is named."""
    assert holder_now(bare_env) is None
    child = _holder(bare_env)
    try:
        held = holder_now(bare_env)
        assert held is not None
        assert held[0] == f"pid {child.pid} runs oxwizard upgrade oxzep7==2.0.0"
        assert f"is locked by pid {child.pid} (oxwizard upgrade oxzep7==2.0.0)" in held[1]
    finally:
        child.kill()
        child.wait()
    assert holder_now(bare_env) is None
    with env_lock(bare_env, "oxwizard stage"):
        assert holder_now(bare_env) is None  # this process's own lock is not another's


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


HOLD_AND_START = """
import os, signal, sys, threading, time
from oxwizard.core import proc
from oxwizard.env.environment import Environment
from oxwizard.safety.lock import env_lock
with env_lock(Environment.open(sys.argv[1]), "oxwizard upgrade oxzep7==2.0.0"), proc.Stopper().active():
    # an installer on live: its own process group (as under a flow's stopper), still running when we die
    threading.Thread(target=proc.run, args=([sys.executable, "-c", sys.argv[2]],), daemon=True).start()
    while not os.path.exists(sys.argv[3]):
        time.sleep(0.01)
    print("started", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
"""
# the child: says it runs (its pid), then writes on for 60 s unless stopped
WRITER = "import os, time; open({ready!r}, 'w').write(str(os.getpid())); time.sleep(60)"


def test_a_killed_holders_children_still_hold_the_lock_and_are_stopped_before_it_is_taken(
    bare_env: Environment, tmp_path: Path
) -> None:
    """kill -9 of oxwizard while its installer writes on live: the installer, in a process group
    of its own, runs on. The lock must not pass to the next command while it writes (the crash
    recovery would restore under it): the orphan still holds the lock; the next command stops it,
    then takes the lock, and says so."""
    ready = tmp_path / "child-pid"
    killed = subprocess.run(
        [sys.executable, "-c", HOLD_AND_START, str(bare_env.root), WRITER.format(ready=str(ready)),
         str(ready)], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL and killed.stdout == "started\n", killed.stderr
    orphan = int(ready.read_text())
    try:
        assert Path(f"/proc/{orphan}").exists(), "the orphan runs on after its parent died"
        notes: list[str] = []
        with env_lock(bare_env, "oxwizard rollback", on_stale=notes.append):
            state = Path(f"/proc/{orphan}/stat")
            assert not state.exists() or state.read_text().split(")")[-1].split()[0] == "Z"
        assert len(notes) == 1 and notes[0].startswith("took over a stale lock of pid "), notes
        assert f"; stopped what it had started, still running: {orphan} (python" in notes[0], notes
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(orphan, signal.SIGKILL)


def test_another_commands_fresh_lock_is_never_taken_for_an_orphans(bare_env: Environment) -> None:
    """A holder whose pid is not written yet (a stale pid still in the file) is a live command, not
    the orphan of the dead one: it is refused, and nothing is stopped."""
    child = _holder(bare_env)
    try:
        lock_path(bare_env).write_text(json.dumps({"pid": 999_999_999, "command": "oxwizard upgrade x"}))
        with pytest.raises(LockHeld), env_lock(bare_env, "oxwizard rollback"):
            pass
        assert child.poll() is None, "the live holder was left alone"
    finally:
        child.kill()
        child.wait()


def test_lock_is_reentrant_in_one_process_and_private(bare_env: Environment) -> None:
    with env_lock(bare_env, "outer"), env_lock(bare_env, "inner"):
        assert json.loads(lock_path(bare_env).read_text())["command"] == "outer"
    assert (Path(bare_env.root) / ".oxwizard").stat().st_mode & 0o777 == 0o700
    with env_lock(bare_env, "again"):  # released after the outer block
        pass
