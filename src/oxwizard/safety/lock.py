"""One lock per environment, so that two oxwizard processes never change the same env at once.

The lock is ``ENV_ROOT/.oxwizard/lock``: an advisory ``flock`` on that file (the kernel releases it
when the holder dies, even by SIGKILL, so a stale lock can never block anyone) plus the holder's pid
and command written into it, for the refusal message. A lock file naming a dead pid is a stale lock:
it is taken over and said so. The lock is re-entrant within one process (the upgrade flow holds it
while the rollback it triggers asks for it again).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

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
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            raise LockHeld(_held_message(env, path)) from None
        previous = read_holder(path)
        old_pid = previous.get("pid")
        if isinstance(old_pid, int) and old_pid != os.getpid() and not pid_alive(old_pid):
            _stale_note(on_stale, f"took over a stale lock of pid {old_pid} ({previous.get('command', '?')})")
        record = json.dumps({"pid": os.getpid(), "command": command, "since": time.time()})
        os.ftruncate(fd, 0)
        os.pwrite(fd, record.encode(), 0)
        with _GUARD:
            _HELD[key] = 1
        try:
            yield
        finally:
            with _GUARD:
                _HELD.pop(key, None)
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing releases the flock


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


def _stale_note(sink: object, line: str) -> None:
    if callable(sink):
        sink(line)
