"""Running a project command for a check: an argument list, in the project folder, with the
target environment's bin first on PATH, a timeout and capped output. Never a shell."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from oxwizard.core import proc
from oxwizard.core.config import ChecksConfig
from oxwizard.core.errors import UsageError
from oxwizard.env.environment import Environment


def command_env(env: Environment, extra: dict[str, str] | None = None) -> dict[str, str]:
    """os.environ with the target env activated (bin first on PATH, VIRTUAL_ENV set)."""
    out = proc.pip_environment()
    out["PATH"] = os.pathsep.join([str(env.scripts), out.get("PATH", "")])
    out["VIRTUAL_ENV"] = str(env.prefix)
    out.pop("PYTHONHOME", None)
    out.update(extra or {})
    return out


def run_command(
    env: Environment,
    argv: Sequence[str],
    project: Path,
    *,
    timeout: float,
    on_line: Callable[[str], None] | None = None,
    extra_env: dict[str, str] | None = None,
) -> proc.Completed:
    """Run ``argv`` for a check; ``python`` resolves to the target env's interpreter via PATH."""
    environ = command_env(env, extra_env)
    if argv and _the_envs_python(env, argv[0]):
        # the env's own interpreter, also where its scripts folder has no ``python`` (a system
        # Python: /usr/local/bin, or a python3-only /usr/bin), so PATH would find another one
        argv = [str(env.python), *argv[1:]]
    if on_line is None:
        return proc.run(list(argv), cwd=project, env=environ, timeout=timeout)
    return proc.stream(list(argv), on_line=on_line, cwd=project, env=environ, timeout=timeout)


def _the_envs_python(env: Environment, name: str) -> bool:
    """``name`` is run as the environment's own interpreter (:func:`run_command`)."""
    major, minor = env.python_version_tuple
    return name in ("python", "python3", f"python{major}.{minor}")


def require_commands(env: Environment, project: Path, config: ChecksConfig) -> None:
    """Refuse (:class:`UsageError`, exit 2) a configured command that cannot be started: found
    neither on the environment's PATH (its bin first) nor, for a path, as an executable file of the
    project. Checked before anything is made, not found out after the staging install."""
    commands = {
        "test command": config.test_command,
        "benchmark command": config.benchmark_command,
        "data command": config.data_command,
    }
    search = command_env(env)["PATH"]
    for key, argv in commands.items():
        if not argv or _the_envs_python(env, argv[0]):
            continue
        if os.sep not in argv[0]:  # looked up on PATH, as the child will be
            if shutil.which(argv[0], path=search) is None:
                raise UsageError(f"{key}: {argv[0]} not found (looked in {env.scripts} and on PATH)")
            continue
        where = project / Path(argv[0]).expanduser()  # a path: from the project folder, the child's cwd
        if not (where.is_file() and os.access(where, os.X_OK)):
            raise UsageError(f"{key}: {argv[0]} is not an executable file (from {project})")


def describe_failure(done: proc.Completed, what: str, timeout: float) -> str | None:
    """A one-line reason when the command did not run properly, else None."""
    if done.timed_out:
        return f"{what} timed out after {timeout:.0f} s"
    if done.returncode == 127:
        return f"{what}: command not found ({done.argv[0]})"
    if done.returncode == 126:
        return f"{what}: cannot run {done.argv[0]}"
    return None


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""
