"""The two places oxwizard keeps things on disk, both named ``.oxwizard`` — this module owns both:

- the **environment's state folder** ``ENV_ROOT/.oxwizard/`` (:func:`state_path`, :func:`state_dir`):
  lock, write-ahead journal, checkpoints, spares (ignored by git: its ``.gitignore`` is ``*``). It
  lives inside the environment on purpose: checkpoint stashes must be on the same filesystem as the
  files they protect, so that stashing is a hard link and restoring is a link or a rename. The
  folder is private (0700); staging clones never copy it.
- the **project's runbook repository** ``PROJECT/.oxwizard/`` (:func:`runbook_repo_path`): a git
  repository of its own holding runbooks, evidence and replay reports, committed one decision at a
  time.
"""

from __future__ import annotations

import contextlib
import os
import threading
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
    """The state folder of ``env``, created private (0700) if missing, with a ``.gitignore`` of ``*``:
    a venv kept in a git repository (or a tool that honours ``.gitignore``) never sees the
    checkpoints, the trash or the spares as new files."""
    path = state_path(env)
    path.mkdir(mode=0o700, exist_ok=True)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o700)
    ignore = path / ".gitignore"
    if not ignore.exists():
        fresh = path / f".gitignore.{os.getpid()}.tmp"
        fresh.write_text("*\n", encoding="utf-8")
        os.replace(fresh, ignore)
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


def store_kept(path: Path, text: str, keep: int) -> None:
    """Write one cache file whole (a reader sees the old file or the new one) and private (0600,
    its folder 0700), then remove the files of its folder used longest ago (their mtime: see
    :func:`mark_used`) beyond ``keep``, this one included. Best effort: a cache that cannot be
    written only costs the next run the work it would have saved."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        private_dir(path.parent)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
        others = [(p.stat().st_mtime_ns, p) for p in path.parent.glob(f"*{path.suffix}") if p != path]
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return
    for _, old in sorted(others, reverse=True)[keep - 1 :]:
        with contextlib.suppress(OSError):
            old.unlink()


def mark_used(path: Path) -> None:
    """Mark a cache file kept by :func:`store_kept` as used now (kept longer). Best effort."""
    with contextlib.suppress(OSError):
        os.utime(path)
