"""Copy a folder, hard-linking the files it may share: the staging clone's file work.

A module of its own with light imports, so that the clone can be made in a child process
(``python -m oxwizard.safety.tree_copy``, its arguments as JSON on stdin, its counts as JSON on
stdout): tens of thousands of ``link()`` calls from a thread of the flow's process share the GIL
with everything else the flow does meanwhile (the baseline checks' output, other threads), and a
thread that gives the GIL up at each system call waits to get it back each time; in a process of
its own the clone runs at the speed of the kernel, on another core.

:func:`refresh_tree` turns a kept clone (a spare, see :mod:`oxwizard.safety.stage`) into exactly what
:func:`copy_tree` would make, keeping what is already right: on ext4 without a journal, a fresh clone
made within minutes of another's removal pays a scan of the inode table for every ``mkdir`` (the
allocator skips recently freed inodes), while a refresh makes almost no folder and links only what
changed.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from oxwizard.core.places import STATE_NAME
from oxwizard.core.testhooks import kill_counter

_FICLONE = 0x40049409  # Linux ioctl: share the blocks copy-on-write (btrfs, xfs, ...)
_reflink_ok = True
_LINK_REFUSED = (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EACCES, errno.ENOTSUP, errno.EOPNOTSUPP)


@dataclass
class CloneStats:
    """How many files a clone linked and copied (the flow records them with the stage's evidence)."""

    linked: int = 0
    copied: int = 0
    omitted: int = 0  # files the upgrade replaces, left out of the clone (see Sharing.omit)
    reused: int = 0  # entries a refreshed spare already had right (files, folders, symlinks): kept
    refreshed: bool = False  # made from a kept clone (a spare) rather than from nothing
    while_planning: bool = False  # made before the plan was known (the flow's early clone)


@dataclass
class Sharing:
    """Which files of a venv may be hard links: those in ``sites`` outside ``own`` and ``singles``."""

    sites: set[str] = field(default_factory=set)
    own: set[str] = field(default_factory=set)  # folders copied whole (a changing distribution's)
    singles: set[str] = field(default_factory=set)  # single files copied (modules, scripts, data)
    # files the installer removes before anything can read them in the clone (a changing
    # distribution's RECORD, its dist-info aside, and their bytecode): not in the clone at all
    omit: set[str] = field(default_factory=set)


def _links_inside(sharing: Sharing | None, folder: str, link_here: bool) -> bool:
    """May the files of ``folder`` (in a folder whose files may be links when ``link_here``) be links?"""
    if sharing is None:
        return False
    return (link_here or folder in sharing.sites) and folder not in sharing.own


def _may_link(sharing: Sharing | None, path: str, link_here: bool) -> bool:
    """May the file ``path``, in a folder whose files may be links when ``link_here``, be one?"""
    return link_here and sharing is not None and path not in sharing.singles


def copy_tree(
    source: Path, dest: Path, sharing: Sharing | None = None, stats: CloneStats | None = None
) -> None:
    """Copy the folder ``source`` to ``dest``; with ``sharing``, link the files it allows.

    One ``scandir`` per folder: whether an entry is a symlink, a folder or a file comes with the
    listing, so a linked file costs one ``link()`` and nothing else (26,000 files: a third less)."""
    dest.mkdir(mode=source.stat().st_mode & 0o7777)
    stats = stats if stats is not None else CloneStats()
    src_root = str(source)
    # (folder, its copy, may its files be links)
    todo = [(src_root, str(dest), _links_inside(sharing, src_root, False))]
    while todo:
        folder, out, link_here = todo.pop()
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:  # gone since it was listed (see below)
            continue
        for entry in entries:
            src, dst = entry.path, os.path.join(out, entry.name)
            try:
                if entry.is_symlink():
                    os.symlink(os.readlink(src), dst)
                elif entry.is_dir(follow_symlinks=False):
                    if folder == src_root and entry.name == STATE_NAME:
                        continue
                    os.mkdir(dst, mode=entry.stat(follow_symlinks=False).st_mode & 0o7777)
                    todo.append((src, dst, _links_inside(sharing, src, link_here)))
                elif sharing is not None and src in sharing.omit:
                    stats.omitted += 1
                elif _may_link(sharing, src, link_here) and _link(src, dst):
                    stats.linked += 1
                else:
                    copy_file(Path(src), Path(dst))
                    stats.copied += 1
            except FileNotFoundError:
                # gone since it was listed: the flow clones live while the baseline checks run on it,
                # and Python writes bytecode to a temporary file it renames into place
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(dst)


def refresh_tree(source: Path, dest: Path, sharing: Sharing | None, stats: CloneStats | None = None) -> None:
    """Make the existing folder ``dest`` (a spare: an earlier clone of ``source``) exactly what
    :func:`copy_tree` would make of ``source``, by one ``scandir`` of each folder on both sides.

    A folder on both sides is kept (its mode fixed if it differs); a file that may be a link is kept
    when the spare's entry is a regular file with live's inode (the listing gives it: no extra stat),
    else replaced by a new link; a file that must be a copy is always copied afresh (a leftover may be
    an older version, or a file the installer wrote in the clone); a symlink is kept if it points at
    the same place; whatever the spare has that ``source`` does not is removed. Nothing is ever written
    into an existing file of the spare (it may be live's): it is removed first, then linked or copied."""
    stats = stats if stats is not None else CloneStats()
    stats.refreshed = True
    mask = ~_umask()  # the mode a fresh mkdir gives a folder
    src_root = str(source)
    top = source.stat()
    # inodes compare only on one filesystem (a spare elsewhere holds copies, whatever their numbers)
    same_fs = top.st_dev == dest.stat().st_dev
    _fix_mode(str(dest), top.st_mode & 0o7777 & mask)
    # the test suite's crash half way: ``OXWIZARD_TEST_KILL_AT=refresh:N`` kills this process after
    # the N-th folder (see oxwizard.core.testhooks); nothing otherwise
    tick = kill_counter("refresh")
    todo = [(src_root, str(dest), _links_inside(sharing, src_root, False))]
    while todo:
        folder, out, link_here = todo.pop()
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:  # gone since it was listed: a fresh copy would leave it empty
            entries = []
        have = {e.name: e for e in os.scandir(out)}
        for entry in entries:
            src, dst = entry.path, os.path.join(out, entry.name)
            old = have.get(entry.name)
            try:
                if entry.is_symlink():
                    target = os.readlink(src)
                    if old is not None and old.is_symlink() and os.readlink(dst) == target:
                        stats.reused += 1
                        del have[entry.name]
                        continue
                    _remove(old)
                    os.symlink(target, dst)
                elif entry.is_dir(follow_symlinks=False):
                    if folder == src_root and entry.name == STATE_NAME:
                        continue  # never copied: left in ``have``, removed below
                    mode = entry.stat(follow_symlinks=False).st_mode & 0o7777
                    if old is not None and old.is_dir(follow_symlinks=False):
                        _fix_mode(dst, mode & mask, old.stat(follow_symlinks=False).st_mode & 0o7777)
                        stats.reused += 1
                    else:
                        _remove(old)
                        os.mkdir(dst, mode=mode)
                    todo.append((src, dst, _links_inside(sharing, src, link_here)))
                elif sharing is not None and src in sharing.omit:
                    _remove(old)
                    stats.omitted += 1
                elif _may_link(sharing, src, link_here):
                    if (
                        same_fs
                        and old is not None
                        and old.is_file(follow_symlinks=False)
                        and old.inode() == entry.inode()
                    ):
                        stats.reused += 1
                        stats.linked += 1
                    else:
                        _remove(old)
                        if _link(src, dst):
                            stats.linked += 1
                        else:
                            copy_file(Path(src), Path(dst))
                            stats.copied += 1
                else:
                    _remove(old)
                    copy_file(Path(src), Path(dst))
                    stats.copied += 1
            except FileNotFoundError:  # gone since it was listed (see copy_tree)
                if os.path.isdir(dst) and not os.path.islink(dst):
                    shutil.rmtree(dst)
                else:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(dst)
            have.pop(entry.name, None)
        for leftover in have.values():  # what live does not have (any more)
            _remove(leftover)
        tick()


def _remove(entry: os.DirEntry[str] | None) -> None:
    """Remove a spare's entry (a folder with all it holds); never a write into a file."""
    if entry is None:
        return
    if entry.is_dir(follow_symlinks=False):
        shutil.rmtree(entry.path)
    else:
        os.unlink(entry.path)


def _fix_mode(path: str, want: int, have: int | None = None) -> None:
    """A kept folder's mode, set to ``want`` where it differs (folders are never shared with live)."""
    if have is None:
        have = os.stat(path, follow_symlinks=False).st_mode & 0o7777
    if have != want:
        os.chmod(path, want, follow_symlinks=False)


def _umask() -> int:
    """The process's umask, read without changing it where Linux says it (``/proc/self/status``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _link(src: str, dst: str) -> bool:
    """Hard-link ``src`` at ``dst``; False where the filesystem refuses (the caller copies)."""
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in _LINK_REFUSED:
            raise
        return False
    return True


def copy_file(src: Path, dst: Path) -> None:
    global _reflink_ok
    if _reflink_ok:
        try:
            with open(src, "rb") as fin, open(dst, "wb") as fout:
                fcntl.ioctl(fout.fileno(), _FICLONE, fin.fileno())
            shutil.copystat(src, dst)
            return
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.EPERM):
                raise
            _reflink_ok = False
    shutil.copy2(src, dst)


def main() -> int:
    """``python -m oxwizard.safety.tree_copy``: ``{"source", "dest", "sharing", "refresh"}`` on stdin
    (sharing: ``{"sites", "own", "singles", "omit"}`` or null; refresh: ``dest`` is a spare to bring up to
    date), ``{"linked", "copied", "reused"}`` on stdout."""
    job = json.loads(sys.stdin.read())
    sharing = job.get("sharing")
    shared = (
        None
        if sharing is None
        else Sharing(
            set(sharing["sites"]), set(sharing["own"]), set(sharing["singles"]), set(sharing["omit"])
        )
    )
    stats = CloneStats()
    if job.get("refresh"):
        refresh_tree(Path(job["source"]), Path(job["dest"]), shared, stats)
    else:
        copy_tree(Path(job["source"]), Path(job["dest"]), shared, stats)
    counts = {
        "linked": stats.linked,
        "copied": stats.copied,
        "reused": stats.reused,
        "omitted": stats.omitted,
    }
    print(json.dumps(counts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
