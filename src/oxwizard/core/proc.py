"""Running child processes: argument lists only, never a shell, with pip isolated on request.

Everything the engine runs (pip, uv, git, the project's tests) goes through :func:`run` or
:func:`stream`, so the rules live in one place: argument lists and no shell, stdout and stderr kept apart,
output capped, a timeout, and a hermetic pip environment where the caller asks for one.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from oxwizard.core.pipenv import pip_environment as pip_environment
from oxwizard.core.pipenv import uv_environment as uv_environment

OUTPUT_CAP = 2_000_000  # bytes kept of each stream


class Stopper:
    """A request to stop, made from any thread, that reaches the running child processes at once.

    While a stopper is active in a thread (:meth:`active`), every child that :func:`run` and
    :func:`stream` start there gets a process group of its own, so that :meth:`stop` can kill the
    child and everything it started (a test runner's workers, a build backend) in one signal. A
    child started after the request is killed as soon as it starts. Inside :meth:`protected` (the
    install on live, which a kill would leave half-done) only a ``force`` request kills.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._children: set[subprocess.Popen[str]] = set()
        self._reason: tuple[str, str] | None = None
        self._protected = False
        self._force = False
        self.event = threading.Event()

    @property
    def reason(self) -> tuple[str, str] | None:
        """(kind, why) of the first request, or None."""
        return self._reason

    def stop(self, kind: str, why: str, *, force: bool) -> bool:
        """Ask to stop; True for the first request (a later one changes nothing)."""
        with self._lock:
            first = self._reason is None
            if first:
                self._reason = (kind, why)
            kill = force or not self._protected
            children = list(self._children) if kill else []
            if kill:
                self._force = True
        self.event.set()
        for child in children:
            _kill_group(child)
        return first

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True as soon as a stop is requested."""
        return self.event.wait(seconds)

    @contextlib.contextmanager
    def active(self) -> Iterator[Stopper]:
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)

    @contextlib.contextmanager
    def protected(self) -> Iterator[None]:
        with self._lock:
            self._protected, self._force = True, False
        try:
            yield
        finally:
            with self._lock:
                self._protected = False

    def _adopt(self, child: subprocess.Popen[str]) -> None:
        with self._lock:
            self._children.add(child)
            late = self._reason is not None and (not self._protected or self._force)
        if late:
            _kill_group(child)

    def _release(self, child: subprocess.Popen[str]) -> None:
        with self._lock:
            self._children.discard(child)


_ACTIVE: contextvars.ContextVar[Stopper | None] = contextvars.ContextVar("oxwizard_stopper", default=None)

# Open files every child started from now on keeps open: the environment locks this process holds
# (:mod:`oxwizard.safety.lock`). A child left running when this process is killed (an installer
# on live, a test run) then still holds the lock, so that no other command takes the environment
# over while it writes there.
# Such a child is told whose it is (our pid, in its environment), so that only our children are
# taken for orphans once we are dead, never another command's.
_INHERITED: set[int] = set()
HOLDER_ENV = "OXWIZARD_LOCK_HOLDER"


def share_with_children(fd: int, shared: bool = True) -> None:
    """Children started from now on inherit ``fd`` (or no longer do, ``shared=False``)."""
    if shared:
        _INHERITED.add(fd)
    else:
        _INHERITED.discard(fd)


def _child_environment(env: Mapping[str, str] | None) -> dict[str, str] | None:
    """``env`` for a child (None: ours), marked with our pid while it inherits a lock."""
    if not _INHERITED:
        return dict(env) if env is not None else None
    return {**(env if env is not None else os.environ), HOLDER_ENV: str(os.getpid())}


# how much lower than ours the CPU priority of the children started in this context is (0: the same)
_LOWER: contextvars.ContextVar[int] = contextvars.ContextVar("oxwizard_lower", default=0)
_T = TypeVar("_T")


def in_background(work: Callable[..., _T], *args: object) -> _T:
    """``work(*args)``, every child it starts (and their own children) running at a lower CPU
    priority than ours (nice +10): work done beside the installer that must not slow it down. The
    caller waits for it when it needs the result."""
    token = _LOWER.set(10)
    try:
        return work(*args)
    finally:
        _LOWER.reset(token)


def _lower(child: subprocess.Popen[str]) -> None:
    """The child's CPU priority, lowered as the context asks (before it reads its input: a child
    that forks once it has read it forks at the lower priority)."""
    if not (lower := _LOWER.get()) or not hasattr(os, "setpriority"):
        return
    with contextlib.suppress(OSError):  # it ended already, or we may not
        os.setpriority(os.PRIO_PROCESS, child.pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + lower))


@contextlib.contextmanager
def unstoppable() -> Iterator[None]:
    """Children started inside run to their end even after a stop was requested: for the work that
    must follow a stop (a rollback's clean-up), which a stopper would otherwise kill at once."""
    token = _ACTIVE.set(None)
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def _kill_group(child: subprocess.Popen[str]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(child.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        child.kill()


def _kill(child: subprocess.Popen[str], stopper: Stopper | None, *, grouped: bool = False) -> None:
    """The child alone, or its whole group when it has one of its own (started under a stopper, or
    ``grouped``)."""
    if stopper is not None or grouped:
        _kill_group(child)
    else:
        with contextlib.suppress(OSError):
            child.kill()


@contextlib.contextmanager
def _watched(
    child: subprocess.Popen[str], stopper: Stopper | None, *, grouped: bool = False
) -> Iterator[None]:
    """Registers ``child`` with the active stopper; any exception (an interrupt) kills it first."""
    if stopper is not None:
        stopper._adopt(child)
    try:
        yield
    except BaseException:
        _kill(child, stopper, grouped=grouped)
        with contextlib.suppress(Exception):
            child.wait(5)
        raise
    finally:
        if stopper is not None:
            stopper._release(child)


class Completed:
    """What a finished child process left behind. A plain class, not a dataclass: importing
    dataclasses costs more than starting the plan's dry run early (:mod:`oxwizard.env.dry_run`)."""

    __slots__ = ("argv", "returncode", "stdout", "stderr", "duration", "timed_out")

    def __init__(
        self,
        argv: tuple[str, ...],
        returncode: int,
        stdout: str,
        stderr: str,
        duration: float,
        timed_out: bool = False,
    ) -> None:
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.duration = duration
        self.timed_out = timed_out

    def __repr__(self) -> str:
        return (
            f"Completed(argv={self.argv!r}, returncode={self.returncode!r}, stdout={self.stdout!r}, "
            f"stderr={self.stderr!r}, duration={self.duration!r}, timed_out={self.timed_out!r})"
        )

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def _not_started(argv: Sequence[str], exc: OSError, start: float) -> Completed:
    """What :func:`run` and :func:`stream` return for a command that does not exist (exit 127, as a
    shell's) or that cannot be run: not executable, a folder, not a program (exit 126)."""
    what = exc.filename or argv[0]
    if isinstance(exc, FileNotFoundError):
        return Completed(tuple(argv), 127, "", f"command not found: {what}", time.monotonic() - start)
    why = exc.strerror or str(exc)
    return Completed(tuple(argv), 126, "", f"cannot run {what}: {why}", time.monotonic() - start)


def run(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    stdin_data: str | None = None,
    started: threading.Event | None = None,
    own_group: bool = False,
) -> Completed:
    """Run ``argv`` to completion and capture both streams separately; ``started``, when given, is
    set once the child runs (or could not be started). ``own_group``: the child leads a process
    group of its own, all of which its timeout kills (a child that forks children of its own)."""
    start = time.monotonic()
    stopper = _ACTIVE.get()
    try:
        child = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=_child_environment(env),
            stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            process_group=0 if stopper is not None or own_group else None,
            pass_fds=tuple(_INHERITED),
        )
    except OSError as exc:
        return _not_started(argv, exc, start)
    finally:
        if started is not None:
            started.set()
    _lower(child)
    with _watched(child, stopper, grouped=own_group):
        try:
            out, err = child.communicate(stdin_data, timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(child, stopper, grouped=own_group)
            out, err = child.communicate()
            return Completed(
                tuple(argv),
                -9,
                (out or "")[:OUTPUT_CAP],
                (err or "")[:OUTPUT_CAP],
                time.monotonic() - start,
                timed_out=True,
            )
    return Completed(
        tuple(argv),
        child.returncode,
        out[:OUTPUT_CAP],
        err[:OUTPUT_CAP],
        time.monotonic() - start,
    )


def stream(
    argv: Sequence[str],
    *,
    on_line: Callable[[str], None],
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    on_start: Callable[[subprocess.Popen[str]], None] | None = None,
    ignore_hangup: bool = False,
) -> Completed:
    """Run ``argv``, calling ``on_line`` for each line of its merged output as it arrives.

    ``on_start`` receives the child so that a caller can forward signals to it. With
    ``ignore_hangup`` the child starts with SIGHUP ignored (as ``nohup`` does; the disposition
    survives ``exec``): a lost terminal no longer kills it half-way, while it stays in our process
    group, so SIGINT, SIGTERM and a SIGKILL of the whole group still reach it.
    """
    start = time.monotonic()
    command = list(argv)
    if ignore_hangup and hasattr(signal, "SIGHUP"):
        command = [sys.executable, "-I", "-S", "-c", _NOHUP, *command]
    lines: list[str] = []
    size = 0
    stopper = _ACTIVE.get()
    try:
        child = subprocess.Popen(
            command,
            cwd=cwd,
            env=_child_environment(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            bufsize=1,
            process_group=0 if stopper is not None else None,
            pass_fds=tuple(_INHERITED),
        )
    except OSError as exc:
        return _not_started(argv, exc, start)
    _lower(child)
    with _watched(child, stopper):
        if on_start is not None:
            on_start(child)
        timed_out = False
        assert child.stdout is not None
        for line in _lines(child.stdout):
            text = line.rstrip("\n")
            on_line(text)
            if size < OUTPUT_CAP:
                lines.append(text)
                size += len(text) + 1
            if timeout is not None and time.monotonic() - start > timeout:
                _kill(child, stopper)
                timed_out = True
                break
        try:
            left = max(0.1, (timeout or 0) - (time.monotonic() - start)) if timeout else None
            code = child.wait(timeout=left)
        except subprocess.TimeoutExpired:
            _kill(child, stopper)
            code = child.wait()
            timed_out = True
    return Completed(tuple(argv), code, "\n".join(lines), "", time.monotonic() - start, timed_out=timed_out)


# Runs in the child: ignore SIGHUP, then become the real command (exit 127 when it does not exist).
_NOHUP = (
    "import os, signal, sys\n"
    "signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
    "try:\n"
    "    os.execvp(sys.argv[1], sys.argv[1:])\n"
    "except OSError as exc:\n"
    "    print(f'command not found: {sys.argv[1]} ({exc.strerror})', flush=True)\n"
    "    sys.exit(127)\n"
)


def _lines(handle: object) -> Iterator[str]:
    yield from iter(handle.readline, "")  # type: ignore[attr-defined]
