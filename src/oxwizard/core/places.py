"""The per-environment state folder ``ENV_ROOT/.oxwizard/``: lock, write-ahead journal, checkpoints.

It lives inside the environment on purpose: checkpoint stashes must be on the same filesystem as the
files they protect, so that stashing is a hard link and restoring is a link or a rename. The folder
is private (0700); staging clones never copy it.
"""

from __future__ import annotations

import os
from pathlib import Path

from oxwizard.env.environment import Environment

STATE_NAME = ".oxwizard"


def state_path(env: Environment | Path) -> Path:
    """Where the state folder of ``env`` is (not created)."""
    root = env.root if isinstance(env, Environment) else env
    return root / STATE_NAME


def state_dir(env: Environment | Path) -> Path:
    """The state folder of ``env``, created private (0700) if missing."""
    path = state_path(env)
    path.mkdir(mode=0o700, exist_ok=True)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) with mode 0700 and return it."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def fsync_dir(path: Path) -> None:
    """Make a rename or a creation in ``path`` durable (best effort)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a crash leaves the old or the new content, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)
