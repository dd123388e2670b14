"""One lock per environment, so that two oxwizard processes never change the same env at once.

The lock is ``ENV_ROOT/.oxwizard/lock``: an advisory ``flock`` on that file (the kernel releases it
when the holder dies, even by SIGKILL, so a stale lock can never block anyone) plus the holder's pid
and command written into it, for the refusal message. A lock file naming a dead pid is a stale lock:
it is taken over and said so. The lock is re-entrant within one process (the upgrade flow holds it
while the rollback it triggers asks for it again).

The children the holder starts (pip, uv, the project's tests: :mod:`oxwizard.core.proc`) keep the
lock file open, so the lock outlives a holder killed while they run: an installer left writing on
live after ``kill -9`` of oxwizard still holds it. The next command finds the holder dead and the
lock held: it stops those orphans (the processes that hold the lock file open), takes the lock, and
says so; its crash recovery then restores an environment nothing writes to any more.

The culprit search's trial clones beside the environment (``.ENVNAME-trial-N``) exist only while
their run holds the lock: the process that takes it (not again, re-entrantly) retires those a run
killed before retiring them left, and says so where it says a stale lock was taken over
(:func:`oxwizard.safety.stage.clear_leftover_trials`).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from oxwizard.core import proc
from oxwizard.core.errors import LockHeld
from oxwizard.core.places import state_dir, state_path

if TYPE_CHECKING:
    from oxwizard.env.interpreter import Interpreter

_HELD: dict[str, int] = {}
_GUARD = threading.Lock()


def lock_path(env: Interpreter) -> Path:
    return state_dir(env) / "lock"


def held_here(env: Interpreter) -> bool:
    """True when this process holds the lock of ``env``."""
    return str(state_path(env) / "lock") in _HELD


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_holder(path: Path) -> dict[str, object]:
    """What the lock file says about its holder (empty when unreadable)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def holder_now(env: Interpreter) -> tuple[str, str] | None:
    """Who holds the lock of ``env`` at this moment: (``pid 123 runs oxwizard upgrade …``, the line
    a refusal would say: ``environment … is locked by pid 123 (oxwizard upgrade …); try again when it
    has finished``), or None when no other process does. A shared lock is asked for and let go at
    once: nothing is written, nothing waits."""
    path = state_path(env) / "lock"
    if held_here(env) or not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        if _flock(fd, fcntl.LOCK_SH):
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        said = _held_message(env, path)
        holder = read_holder(path)
        return f"pid {holder.get('pid', '?')} runs {holder.get('command', 'an unknown command')}", said
    finally:
        os.close(fd)


@contextlib.contextmanager
def env_lock(env: Interpreter, command: str, *, on_stale: object = None) -> Iterator[None]:
    """Hold the lock of ``env`` for the ``with`` block, or raise :class:`LockHeld` at once."""
    path = lock_path(env)
    key = str(path)
    with _GUARD:
        if key in _HELD:
            _HELD[key] += 1
            reentrant = True
        else:
            reentrant = False
    if reentrant:
        try:
            yield
        finally:
            with _GUARD:
                _HELD[key] -= 1
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        stopped = "" if _flock(fd) else _from_orphans(path, fd)
        if stopped is None:
            raise LockHeld(_held_message(env, path))
        previous = read_holder(path)
        old_pid = previous.get("pid")
        if isinstance(old_pid, int) and old_pid != os.getpid() and not pid_alive(old_pid):
            _stale_note(
                on_stale, f"took over a stale lock of pid {old_pid} ({previous.get('command', '?')}){stopped}"
            )
        record = json.dumps({"pid": os.getpid(), "command": command, "since": time.time()})
        os.ftruncate(fd, 0)
        os.pwrite(fd, record.encode(), 0)
        with _GUARD:
            _HELD[key] = 1
        proc.share_with_children(fd)
        try:
            _clear_leftovers(env, on_stale)
            yield
        finally:
            proc.share_with_children(fd, False)
            with _GUARD:
                _HELD.pop(key, None)
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing releases the flock (once no child holds it open either)


def _flock(fd: int, mode: int = fcntl.LOCK_EX) -> bool:
    """Lock ``fd`` at once (``mode``: exclusive, or ``LOCK_SH``): True, or False when another open
    file holds the lock."""
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            raise
        return False
    return True


ORPHANS_WAIT = 10.0  # seconds for the stopped orphans to end and let the lock go


def _from_orphans(path: Path, fd: int) -> str | None:
    """The lock on ``fd``, held by the children of a holder that died (killed while they ran): they
    are stopped (SIGKILL, with their process group when they lead one) and the lock taken. What was
    stopped, as a clause of the stale-lock note; None when the holder lives (or is unknown), or the
    lock stays held."""
    pid = read_holder(path).get("pid")
    if not isinstance(pid, int) or pid == os.getpid() or pid_alive(pid):
        return None
    orphans = _holding(path, pid)
    if not orphans:  # another command's lock (it has just taken it), or one let go this moment
        return "" if _flock(fd) else None
    for orphan in orphans:
        with contextlib.suppress(OSError):
            if os.getpgid(orphan) == orphan:
                os.killpg(orphan, signal.SIGKILL)
            os.kill(orphan, signal.SIGKILL)
    deadline = time.monotonic() + ORPHANS_WAIT
    while not _flock(fd):
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)
    said = ", ".join(f"{p} ({name})" for p, name in orphans.items())
    return f"; stopped what it had started, still running: {said}"


def _holding(path: Path, holder: int) -> dict[int, str]:
    """The processes ``holder`` started that hold ``path`` open (Linux ``/proc``; marked in their
    environment, :data:`oxwizard.core.proc.HOLDER_ENV`): pid -> program name."""
    target, mark = os.path.realpath(path), f"{proc.HOLDER_ENV}={holder}".encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if mark in (entry / "environ").read_bytes().split(b"\0") and any(
                os.readlink(link) == target for link in (entry / "fd").iterdir()
            ):
                found[int(entry.name)] = (entry / "comm").read_text().strip()
        except OSError:
            continue  # gone, or not ours to look at
    return found


def _held_message(env: Interpreter, path: Path) -> str:
    holder: dict[str, object] = {}
    for _ in range(20):  # the holder writes its pid right after locking: give it a moment
        holder = read_holder(path)
        if holder.get("pid"):
            break
        time.sleep(0.01)
    pid = holder.get("pid", "?")
    command = holder.get("command", "unknown command")
    return f"environment {env.root} is locked by pid {pid} ({command}); try again when it has finished"


def _clear_leftovers(env: Interpreter, sink: object) -> None:
    """The trial clones a killed run left beside ``env``, retired by the new holder of its lock."""
    from oxwizard.safety.stage import clear_leftover_trials

    clear_leftover_trials(env, lambda line: _stale_note(sink, line))


def _stale_note(sink: object, line: str) -> None:
    if callable(sink):
        sink(line)
