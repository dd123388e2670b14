"""Rollback: put a live environment back exactly as a checkpoint recorded it, and prove it.

With the stash (the normal case) no network, index or pip is involved: files that the upgrade added
inside the changed distributions' folders, their new ``.dist-info`` folders, console scripts and any
distribution installed after the checkpoint are removed, then every stashed file is linked back
(hard links: byte-identical, ``.pyc`` included). Every step is idempotent, so an interrupted rollback
is completed by running it again (:mod:`oxwizard.recovery` does). Verification: every restored
file's sha256 equals the manifest's, and the environment's fingerprint equals the checkpoint's;
otherwise :class:`RollbackFailed`. Without a stash it reinstalls the exact pins and says so.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from oxwizard import proc
from oxwizard.checkpoint import (
    Checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
    stash_complete,
    stash_dir,
)
from oxwizard.environment import Environment
from oxwizard.errors import RollbackFailed
from oxwizard.journal import Journal, clear_journal, read_journal, write_journal
from oxwizard.records import EnvPaths, compiled_siblings, record_files, sha256_file, verify_record
from oxwizard.specs import IndexOptions
from oxwizard.testhooks import kill_counter

Method = Literal["stash", "reinstall", "none"]


class RollbackResult(BaseModel):
    """What a rollback did and whether it was verified."""

    model_config = ConfigDict(extra="forbid")

    noop: bool = False
    checkpoint_id: str | None = None
    method: Method = "none"
    verified: bool = False
    removed: list[str] = Field(default_factory=list)
    restored_files: int = 0
    removed_files: int = 0
    fingerprint_before: str = ""
    fingerprint_after: str = ""
    duration: float = 0.0
    message: str = ""
    leftovers: list[str] = Field(default_factory=list)


def rollback(
    env: Environment,
    to: str | None = None,
    *,
    on_line: Callable[[str], None] | None = None,
    index: IndexOptions | None = None,
) -> RollbackResult:
    """Restore ``env`` to checkpoint ``to`` (default: the newest) and verify it."""
    started = time.monotonic()
    say = on_line or (lambda _line: None)
    journal = read_journal(env)
    if to is None and journal is not None:
        to = journal.checkpoint_id
    found = list_checkpoints(env)
    env.refresh()
    before = env.fingerprint()
    if not found and to is None:
        return RollbackResult(
            noop=True,
            fingerprint_before=before,
            fingerprint_after=before,
            message="nothing to roll back: this environment has no checkpoint",
        )
    target = load_checkpoint(env, to) if to is not None else found[-1]
    newer = [c for c in found if (c.created_at, c.id) > (target.created_at, target.id) and not c.restored_at]
    if journal is None and not newer and before == target.fingerprint:
        what = (
            f"already rolled back to checkpoint {target.id}"
            if target.restored_at
            else f"the environment already matches checkpoint {target.id}"
        )
        return RollbackResult(
            noop=True,
            checkpoint_id=target.id,
            verified=True,
            fingerprint_before=before,
            fingerprint_after=before,
            duration=time.monotonic() - started,
            message=f"nothing to roll back: {what}",
        )
    listings = journal.listings if journal is not None else {}
    entry = Journal(
        operation="rollback",
        checkpoint_id=target.id,
        command="rollback",
        listings=listings,
        remove=journal.remove if journal is not None else [],
    )
    write_journal(env, entry)
    result = RollbackResult(checkpoint_id=target.id, fingerprint_before=before, method="stash")
    for ck in [*reversed(newer), target]:
        if stash_complete(env, ck) and ck.stash_method in ("link", "copy"):
            _restore_from_stash(env, ck, entry, result, say)
        else:
            result.method = "reinstall"
            _reinstall(env, ck, index, result, say)
        listings = {}
    env.refresh()
    result.fingerprint_after = env.fingerprint()
    result.duration = time.monotonic() - started
    problems = _verify(env, target, result)
    clear_journal(env)
    if problems:
        raise RollbackFailed(f"rollback to {target.id} could not be verified: {'; '.join(problems[:5])}")
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for ck in [*newer, target]:
        ck.restored_at = now
        save_checkpoint(env, ck)
    result.verified = True
    how = "from the stash" if result.method == "stash" else "by reinstalling the exact pins (no stash here)"
    result.message = (
        f"rolled back to {target.id} {how}: {result.restored_files} files restored, "
        f"{len(result.removed)} distribution(s) removed or replaced; fingerprint {result.fingerprint_after} "
        "verified"
    )
    say(result.message)
    return result


def _restore_from_stash(
    env: Environment,
    ck: Checkpoint,
    journal: Journal,
    result: RollbackResult,
    say: Callable[[str], None],
) -> None:
    listings = journal.listings
    tick = kill_counter("rollback")
    paths = EnvPaths(env.root)
    stash = stash_dir(env, ck.id)
    manifest = {e.path for e in ck.manifest}
    recorded = {d.name: d for d in ck.distributions}
    env.refresh()
    doomed: set[Path] = set()
    for name, dist in env.distributions.items():
        old = recorded.get(name)
        if old is not None and name not in ck.changed:
            continue
        if old is None or old.version != dist.version:
            result.removed.append(f"{name}=={dist.version}")
        info = Path(dist.metadata_dir)
        for path in record_files(paths, info):
            doomed.add(path)
            doomed.update(compiled_siblings(path))
        doomed.update(_walk(info))
    for rel in ck.roots:
        doomed.update(_walk(paths.root / rel))
    for rel_dir, names in listings.items():
        folder = paths.root / rel_dir
        try:
            now = set(os.listdir(folder))
        except OSError:
            continue
        for name in sorted(now - set(names)):
            if name == ".oxwizard":
                continue
            doomed.add(folder / name)
            doomed.update(_walk(folder / name))
            if name.startswith("~"):
                say(f"removing {rel_dir}/{name}: left by the interrupted installer")
    _report_leftovers(env, ck, listings, result, say)
    for rel in journal.remove:  # what an interrupted run of this rollback had planned to remove
        doomed.add(paths.safe_path(paths.root, rel))
    journal.remove = sorted({paths.rel(p) for p in doomed} - manifest)
    write_journal(env, journal)
    folders: set[Path] = set()
    for path in sorted(doomed, reverse=True):
        rel = paths.rel(path)
        if rel in manifest:
            continue
        paths.check_no_escape(path)
        if path.is_dir() and not path.is_symlink():
            folders.add(path)
            continue
        folders.add(path.parent)
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        result.removed_files += 1
        tick()
    for entry in ck.manifest:
        source = stash / entry.path
        dest = paths.root / entry.path
        dest.parent.mkdir(parents=True, exist_ok=True)
        paths.check_no_escape(dest)
        if os.path.lexists(dest):
            if _same(source, dest):
                continue
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)
            else:
                dest.unlink()
            tick()
        _put_back(source, dest, ck.stash_method)
        result.restored_files += 1
        tick()
    keep = {paths.root / d for d in {os.path.dirname(p) for p in manifest}}
    stop = {paths.root, env.scripts, *env.site_paths}
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        while folder not in stop and folder not in keep and paths.inside(folder) and folder != paths.root:
            try:
                os.rmdir(folder)
            except OSError:
                break
            folder = folder.parent


def _walk(top: Path) -> set[Path]:
    """Every file, symlink and folder under ``top`` (``top`` itself included)."""
    out: set[Path] = set()
    if not os.path.lexists(top):
        return out
    out.add(top)
    if top.is_symlink() or not top.is_dir():
        return out
    for folder, dirs, names in os.walk(top):
        base = Path(folder)
        out.update(base / n for n in names)
        out.update(base / d for d in dirs)
    return out


def _same(source: Path, dest: Path) -> bool:
    try:
        if source.is_symlink() or dest.is_symlink():
            return source.is_symlink() and dest.is_symlink() and os.readlink(source) == os.readlink(dest)
        return os.path.samefile(source, dest)
    except OSError:
        return False


def _put_back(source: Path, dest: Path, method: str) -> None:
    if source.is_symlink():
        os.symlink(os.readlink(source), dest)
        return
    if method == "link":
        try:
            os.link(source, dest)
            return
        except OSError:
            pass
    tmp = dest.with_name(f".{dest.name}.oxwizard-tmp")
    shutil.copy2(source, tmp)
    os.replace(tmp, dest)


def _report_leftovers(
    env: Environment,
    ck: Checkpoint,
    listings: dict[str, list[str]],
    result: RollbackResult,
    say: Callable[[str], None],
) -> None:
    for site in env.site_paths:
        try:
            rel_dir = str(site.relative_to(env.root))
            names = os.listdir(site)
        except (OSError, ValueError):
            continue
        ours = set(os.listdir(site)) - set(listings.get(rel_dir, names))
        for name in names:
            if name.startswith("~") and name not in ours:
                result.leftovers.append(f"{rel_dir}/{name}")
                say(f"note: {rel_dir}/{name} was left by an earlier interrupted pip, not by oxwizard: kept")


def _reinstall(
    env: Environment,
    ck: Checkpoint,
    index: IndexOptions | None,
    result: RollbackResult,
    say: Callable[[str], None],
) -> None:
    say(f"the stash of checkpoint {ck.id} is not here: reinstalling its exact pins with the installer")
    env.refresh()
    recorded = {d.name: d for d in ck.distributions}
    extra = sorted(n for n in env.distributions if n not in recorded)
    drifted = sorted(
        n
        for n, d in recorded.items()
        if n not in env.distributions or env.distributions[n].version != d.version
    )
    pins = [recorded[n].pin for n in sorted(set(drifted) | set(ck.changed)) if n in recorded]
    if pins and index is None:
        raise RollbackFailed(
            f"checkpoint {ck.id} has no stash on this host and no package source was given: "
            "pass --find-links DIR or --index-url URL to reinstall " + " ".join(pins)
        )
    if extra:
        done = proc.stream(
            [*env.pip_argv(), "uninstall", "-y", "--", *extra], on_line=say, env=proc.pip_environment()
        )
        if not done.ok:
            raise RollbackFailed(f"pip uninstall {' '.join(extra)} failed: {done.stdout[-300:]}")
        result.removed += extra
    if pins:
        assert index is not None
        argv = [*env.pip_argv(), "install", "--no-deps", "--force-reinstall", *index.pip_args(), "--", *pins]
        done = proc.stream(argv, on_line=say, env=proc.pip_environment())
        if not done.ok:
            raise RollbackFailed(f"reinstalling {' '.join(pins)} failed: {done.stdout[-300:]}")
        result.removed += [f"{n}=={env.distributions[n].version}" for n in drifted if n in env.distributions]
    env.refresh()
    for name in ck.changed:
        dist = env.distributions.get(name)
        if dist is not None:
            result.restored_files += len(record_files(EnvPaths(env.root), Path(dist.metadata_dir)))


def _verify(env: Environment, ck: Checkpoint, result: RollbackResult) -> list[str]:
    problems: list[str] = []
    if result.method == "stash":
        for entry in ck.manifest:
            try:
                digest = sha256_file(env.root / entry.path)
            except OSError:
                problems.append(f"{entry.path} missing")
                continue
            if digest != entry.sha256:
                problems.append(f"{entry.path} differs from the checkpoint")
    else:
        for name in ck.changed:
            dist = env.distributions.get(name)
            if dist is not None:
                problems += [
                    f"{name}: {p} differs from RECORD" for p in verify_record(Path(dist.metadata_dir))
                ]
    if result.fingerprint_after != ck.fingerprint:
        problems.append(f"fingerprint {result.fingerprint_after} is not the checkpoint's {ck.fingerprint}")
    return problems
