"""Running child processes: argument lists only, never a shell, with pip isolated on request.

Everything the engine runs (pip, uv, git, the project's tests) goes through :func:`run` or
:func:`stream`, so the rules live in one place: argument lists and no shell, stdout and stderr kept apart,
output capped, a timeout, and a hermetic pip environment where the caller asks for one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

OUTPUT_CAP = 2_000_000  # bytes kept of each stream


@dataclass(frozen=True)
class Completed:
    """What a finished child process left behind."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def pip_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of the environment in which pip reads no user or global configuration.

    pip on a developer machine may read a global config with extra indexes, find-links and
    constraints; oxwizard passes every index option explicitly, so it removes all ``PIP_*``
    variables and points ``PIP_CONFIG_FILE`` at ``/dev/null``.
    """
    env = {k: v for k, v in (base if base is not None else os.environ).items()}
    for key in list(env):
        if key.startswith("PIP_") or key in {"PYTHONHOME", "PYTHONPATH", "__PYVENV_LAUNCHER__"}:
            del env[key]
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def run(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    stdin_data: str | None = None,
) -> Completed:
    """Run ``argv`` to completion and capture both streams separately."""
    start = time.monotonic()
    try:
        proc = subprocess.run(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            input=stdin_data,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else ""
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else ""
        return Completed(
            tuple(argv),
            -9,
            out[:OUTPUT_CAP],
            err[:OUTPUT_CAP],
            time.monotonic() - start,
            timed_out=True,
        )
    except FileNotFoundError as exc:
        return Completed(
            tuple(argv),
            127,
            "",
            f"command not found: {exc.filename or argv[0]}",
            time.monotonic() - start,
        )
    return Completed(
        tuple(argv),
        proc.returncode,
        proc.stdout[:OUTPUT_CAP],
        proc.stderr[:OUTPUT_CAP],
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
    try:
        child = subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            bufsize=1,
        )
    except FileNotFoundError as exc:
        return Completed(
            tuple(argv),
            127,
            "",
            f"command not found: {exc.filename or argv[0]}",
            time.monotonic() - start,
        )
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
            child.kill()
            timed_out = True
            break
    try:
        code = child.wait(timeout=max(0.1, (timeout or 0) - (time.monotonic() - start)) if timeout else None)
    except subprocess.TimeoutExpired:
        child.kill()
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
