"""The two places oxwizard keeps things on disk, both named ``.oxwizard`` — this module owns both:

- the **environment's state folder** ``ENV_ROOT/.oxwizard/`` (:func:`state_path`, :func:`state_dir`):
  lock, write-ahead journal, checkpoints. It lives inside the environment on purpose: checkpoint
  stashes must be on the same filesystem as the files they protect, so that stashing is a hard link
  and restoring is a link or a rename. The folder is private (0700); staging clones never copy it.
- the **project's runbook repository** ``PROJECT/.oxwizard/`` (:func:`runbook_repo_path`): a git
  repository of its own holding runbooks, evidence and replay reports, committed one decision at a
  time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

STATE_NAME = ".oxwizard"
RUNBOOK_REPO_NAME = ".oxwizard"


class _Rooted(Protocol):
    @property
    def root(self) -> Path: ...


def state_path(env: _Rooted | Path) -> Path:
    """Where the state folder of ``env`` (an environment, or its root folder) is (not created)."""
    root = env if isinstance(env, Path) else env.root
    return root / STATE_NAME


def runbook_repo_path(project: Path) -> Path:
    """Where the runbook repository of ``project`` is (not created: :class:`RunbookRepo` does)."""
    return project.resolve() / RUNBOOK_REPO_NAME


def state_dir(env: _Rooted | Path) -> Path:
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
