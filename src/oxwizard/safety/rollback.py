"""Rollback: put a live environment back exactly as a checkpoint recorded it, and prove it.

With the stash (the normal case) no network, index or pip is involved: files that the upgrade added
inside the changed distributions' folders, their new ``.dist-info`` folders, console scripts and any
distribution installed after the checkpoint are removed, then every stashed file is linked back
(hard links: byte-identical, ``.pyc`` included). Every step is idempotent, so an interrupted rollback
is completed by running it again (:mod:`oxwizard.safety.recovery` does). Verification: every restored
file holds the manifest's bytes, and the environment's fingerprint equals the checkpoint's;
otherwise :class:`RollbackFailed`. A file is proven by its signature (the very inode hashed at the
checkpoint or by :func:`oxwizard.safety.checkpoint.seal_stash`, its ctime unmoved since: see
:mod:`oxwizard.safety.checkpoint`) or, where that does not hold or ``verify="full"``, by its sha256.
Without a stash it reinstalls the exact pins and says so.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from oxwizard.core.errors import RollbackFailed, RollbackRefused
from oxwizard.core.places import STATE_NAME, private_dir
from oxwizard.core.testhooks import kill_counter
from oxwizard.env.interpreter import Installed, InstalledView, fingerprint_of
from oxwizard.safety.checkpoint_files import (
    CheckpointHead,
    CheckpointView,
    ManifestEntry,
    Signature,
    checkpoint_heads,
    load_signatures,
    mark_restored,
    read_checkpoint,
    stash_complete,
    stash_dir,
    trash_dir,
    with_manifest,
)
from oxwizard.safety.journal import Journal, clear_journal, read_journal, write_journal
from oxwizard.safety.records import EnvPaths, PycFinder, hash_many, record_files, verify_record

if TYPE_CHECKING:  # the installer and package sources are needed only without a stash
    from oxwizard.env.environment import Distribution, Environment
    from oxwizard.env.specs import IndexOptions
    from oxwizard.safety.checkpoint import Checkpoint

    Env = Environment | InstalledView

Method = Literal["stash", "reinstall", "none"]
Verify = Literal["signatures", "full"]


class RollbackResult:
    """What a rollback did and whether it was verified (a plain class, neither a model nor a dataclass:
    the rollback verb imports neither pydantic nor dataclasses' inspect). :meth:`as_dict` for JSON."""

    def __init__(
        self,
        *,
        noop: bool = False,
        checkpoint_id: str | None = None,
        method: Method = "none",
        verified: bool = False,
        fingerprint_before: str = "",
        fingerprint_after: str = "",
        duration: float = 0.0,
        message: str = "",
    ) -> None:
        self.noop = noop
        self.checkpoint_id = checkpoint_id
        self.method: Method = method
        self.verified = verified
        self.removed: list[str] = []
        self.restored_files = 0
        self.removed_files = 0
        self.operations = 0  # file operations (renames, unlinks, links) the rollback performed
        self.verification = ""  # "signatures", "sha256" (every file hashed) or "RECORD" (reinstalled)
        self.hashed_files = 0  # restored files whose sha256 was computed (the rest proven by signature)
        self.fingerprint_before = fingerprint_before
        self.fingerprint_after = fingerprint_after
        self.duration = duration
        self.message = message
        self.leftovers: list[str] = []
        self.restored_before = False  # a no-op: live is the checkpoint the last rollback went to

    def as_dict(self) -> dict[str, object]:
        return {k: v for k, v in vars(self).items() if k != "restored_before"}  # the JSON as documented


def rollback(
    env: Env,
    to: str | None = None,
    *,
    on_line: Callable[[str], None] | None = None,
    index: IndexOptions | Callable[[], IndexOptions | None] | None = None,
    verify: Verify = "signatures",
    reread: bool = True,
) -> RollbackResult:
    """Restore ``env`` to checkpoint ``to`` (default: the newest, or the one live was last rolled back
    to: :func:`default_target`) and verify it.

    ``env``: an :class:`~oxwizard.env.environment.Environment`, or the lighter
    :class:`~oxwizard.env.interpreter.InstalledView` (the rollback verb: no pydantic, no packaging;
    a full Environment is made of it only for a reinstall without a stash).

    ``index``: the package sources for the reinstall used only when the checkpoint has no stash on
    this host — or a function that finds them, called only then (reading pip's configuration costs
    an interpreter start that a rollback from the stash never needs). ``reread=False``: ``env`` was
    opened just now, its distributions need not be read again before the restore.

    ``verify="signatures"``: a restored file is proven by its stash signature where that still
    matches (see :mod:`oxwizard.safety.checkpoint`), by its sha256 otherwise; ``"full"``: every file
    hashed. The fingerprint after the restore: read again from the installed distributions, except
    for an InstalledView verified by signatures, where the restore proves it (:func:`_proven_fingerprint`).
    """
    started = time.monotonic()
    say = on_line or (lambda _line: None)
    journal = read_journal(env)
    if to is None and journal is not None:
        to = journal.checkpoint_id
    heads = checkpoint_heads(env)  # cheap: the manifests are loaded only for what is restored
    if reread:
        env.refresh()
    if not heads and to is None:
        before = env.fingerprint()
        return RollbackResult(
            noop=True,
            fingerprint_before=before,
            fingerprint_after=before,
            message="nothing to roll back: this environment has no checkpoint",
        )
    target = read_checkpoint(env, to if to is not None else default_target(heads).id, manifest=False)
    newer = [
        read_checkpoint(env, h.id)
        for h in heads
        if h.order > (target.created_at, target.id) and not h.restored_at
    ]
    if isinstance(env, InstalledView):
        # the records spell each name as its metadata does; their folders tell who is installed
        env.canonical.update((d.display_name, d.name) for ck in [target, *newer] for d in ck.distributions)
        told = told_by_folders(env, [target, *newer]) if verify == "signatures" and not journal else None
        if told is not None:
            env.assume(told)
    before = env.fingerprint()
    installed_before = env.distributions
    if journal is None and not newer and before == target.fingerprint:
        what = (
            f"already rolled back to checkpoint {target.id}"
            if target.restored_at
            else f"the environment already matches checkpoint {target.id}"
        )
        noop = RollbackResult(
            noop=True,
            checkpoint_id=target.id,
            verified=True,
            fingerprint_before=before,
            fingerprint_after=before,
            duration=time.monotonic() - started,
            message=f"nothing to roll back: {what}",
        )
        noop.restored_before = bool(target.restored_at)
        return noop
    # what changed on live outside the upgrades being undone (by hand, by another tool): the stashes
    # hold only what those upgrades changed, so only the installer can put it back exactly
    covered = {name for ck in [target, *newer] for name in ck.changed}
    live = {name: dist.version for name, dist in env.distributions.items()}
    outside = [d for d in target.distributions if d.name not in covered and live.get(d.name) != d.version]
    sources = None
    if outside:
        sources = index() if callable(index) else index
        if sources is None:
            drift = ", ".join(f"{d.name} {d.version} -> {live.get(d.name, 'removed')}" for d in outside)
            raise RollbackRefused(
                f"rollback to {target.id} refused, nothing was changed: {drift} changed on live after the "
                "checkpoint, outside the upgrade (the stash holds only what the upgrade changed): pass "
                "--find-links DIR or --index-url URL so that the installer puts it back too"
            )
    target = with_manifest(env, target)
    listings = journal.listings if journal is not None else {}
    entry = Journal(
        operation="rollback",
        checkpoint_id=target.id,
        command="rollback",
        listings=listings,
        remove=journal.remove if journal is not None else [],
        swap=journal.swap if journal is not None else [],
    )
    # journaled before anything changes: by _plan_removals for a restore from the stash, here for a reinstall
    result = RollbackResult(checkpoint_id=target.id, fingerprint_before=before, method="stash")
    signed: list[Signature | None] | None = None
    for n, ck in enumerate([*reversed(newer), target]):
        if stash_complete(env, ck, frozenset(entry.swap)) and ck.stash_method in ("link", "copy"):
            if ck is target and verify == "signatures":
                signed = _signed_before_restore(env, ck)
            _restore_from_stash(env, ck, entry, result, say, refresh=n > 0)
        else:
            result.method = "reinstall"
            write_journal(env, entry)
            from oxwizard.env.environment import read_whole

            env = read_whole(env)  # the installer needs the environment read whole
            _reinstall(env, ck, index() if callable(index) else index, result, say)
    if outside and result.method == "stash":  # (a reinstall put back every drifted pin already)
        from oxwizard.env.environment import read_whole

        assert sources is not None
        pins = [d.pin for d in outside]
        say(f"putting back what changed outside the upgrade: {' '.join(pins)}")
        env = read_whole(env)  # (after the stash restore, under its journal)
        _reinstall_pins(env, sources, pins, say)
        result.removed += [f"{d.name}=={live[d.name]}" for d in outside if d.name in live]  # as they were
    env.refresh()
    proven = None
    if isinstance(env, InstalledView) and verify == "signatures" and result.method == "stash" and not newer:
        proven = _proven_fingerprint(env, target, installed_before)
    result.fingerprint_after = proven or env.fingerprint()
    problems = _verify(env, target, result, signed)
    result.duration = time.monotonic() - started  # verification included
    clear_journal(env)
    if problems:
        raise RollbackFailed(f"rollback to {target.id} could not be verified: {'; '.join(problems[:5])}")
    # to the microsecond: the checkpoints one rollback marks share the moment, and only they (default_target)
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    for ck in [*newer, target]:
        mark_restored(env, ck, now)
    result.verified = True
    how = "from the stash" if result.method == "stash" else "by reinstalling the exact pins (no stash here)"
    result.message = (
        f"rolled back to {target.id} {how}: {result.restored_files} files restored, "
        f"{len(result.removed)} distribution(s) removed or replaced{_named(result.removed, target)}; "
        f"fingerprint {result.fingerprint_after} verified ({result.verification})"
    )
    say(result.message)
    return result


def _named(removed: list[str], target: CheckpointView) -> str:
    """`` (removed: tomli==2.0.1; replaced: requests==2.31.0)``: which of the distributions a rollback
    took out the checkpoint has none of (installed after it, by an upgrade or by hand), and which it
    put back as they were; the first few of each."""
    # the checkpoint's names, canonical and as its .dist-info folders spell them (a name read from a
    # folder, ``charset_normalizer``, is one the checkpoint had as ``charset-normalizer``)
    held = {d.name for d in target.distributions}
    held |= {
        os.path.basename(d.metadata_dir).removesuffix(".dist-info").rpartition("-")[0]
        for d in target.distributions
    }
    gone = sorted(r for r in removed if r.partition("==")[0] not in held)
    replaced = sorted(r for r in removed if r not in gone)
    parts = [f"{what}: {', '.join(names[:6])}{f' and {len(names) - 6} more' if len(names) > 6 else ''}"
             for what, names in (("removed", gone), ("replaced", replaced)) if names]  # fmt: skip
    return f" ({'; '.join(parts)})" if parts else ""


def default_target(heads: list[CheckpointHead]) -> CheckpointHead:
    """The checkpoint a rollback without ``--to`` goes to (``heads``: oldest first, not empty): the
    newest, unless it was restored already — then the one the last rollback went to.

    A rollback to a checkpoint marks it and every newer one not restored yet with the same moment
    (:func:`rollback`); the newer ones were undone on the way, live is at none of them. The last
    rollback's checkpoint is therefore the oldest of those restored at the latest moment. A plain
    rollback after ``--to OLDER`` so says live already matches OLDER (or puts OLDER back when live
    changed since), and never moves live forward to the state of a checkpoint it went back past.
    A checkpoint taken after the last rollback is not restored: the newest, it is the target.
    """
    newest = heads[-1]
    if not newest.restored_at:
        return newest
    moments = {h.id: _moment(h.restored_at) for h in heads if h.restored_at}
    latest = max(moments.values())
    return next(h for h in heads if moments.get(h.id) == latest)


def _moment(when: str) -> datetime:
    """A ``restored_at`` as a time (earlier versions wrote it to the second)."""
    try:
        moment = datetime.fromisoformat(when)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def told_by_folders(env: InstalledView, cks: list[CheckpointView]) -> dict[str, Installed] | None:
    """The installed distributions as their ``.dist-info`` folders tell them, no metadata read: what
    ``oxwizard rollback`` starts from (reading the metadata costs it more than the restore itself).

    A folder the checkpoints recorded (same path) holds the distribution recorded there: the name and
    version are in the folder's name (``{name}-{version}.dist-info``, the wheel format), so a folder
    that kept its name kept its version. Any other folder came after the checkpoint: it is named as
    the folder spells it (``name-version.dist-info`` -> ``name``, ``version``), and the rollback
    removes it. None — the caller reads the metadata — when that does not hold: a legacy
    ``.egg-info``, a folder name that is not ``name-version``, or a distribution the checkpoint
    recorded and did not change whose folder is gone (changed by something else since: only its
    metadata says what it is now).
    """
    recorded = {os.path.normpath(d.metadata_dir): d for ck in cks for d in ck.distributions if d.metadata_dir}
    changed = {n for ck in cks for n in ck.changed}
    found: dict[str, Installed] = {}
    seen: set[str] = set()
    for site in env.site_paths:
        try:
            names = sorted(os.listdir(site))
        except FileNotFoundError:
            continue
        for folder in names:
            if folder.endswith(".egg-info"):
                return None
            if not folder.endswith(".dist-info"):
                continue
            path = os.path.join(site, folder)
            seen.add(path)
            known = recorded.get(path)
            if known is not None:
                found.setdefault(known.name, Installed(known.name, known.version, path))
                continue
            name, _, version = folder.removesuffix(".dist-info").rpartition("-")
            if not name or not version:
                return None
            found.setdefault(
                env.canonical.get(name, name), Installed(env.canonical.get(name, name), version, path)
            )
    if any(d.name not in changed and path not in seen for path, d in recorded.items()):
        return None
    return found


def _proven_fingerprint(
    env: InstalledView, ck: CheckpointView, before: Mapping[str, Installed | Distribution]
) -> str | None:
    """The fingerprint of the state a restore from the stash left, proven without reading every
    installed distribution again; None where the proof does not hold (the caller reads them).

    Every distribution was known just before the restore (``before``: read, or told by its folder,
    :func:`told_by_folders`). The restore removed the folders
    of those the checkpoint did not have or that it changed, and put back the changed ones' folders
    from the stash, metadata included (proven file by file by :func:`_verify`); it touched no other
    distribution. So the distributions now are the untouched ones as read before and the changed ones
    as the checkpoint recorded them — provided that the site folders and the scripts folder hold
    exactly the names they held at the checkpoint (no distribution folder added, none missing) and
    that no removed distribution's folder is left. Then the fingerprint is computed from those.
    """
    if not ck.listings:
        return None  # a checkpoint that did not record them
    for rel, names in ck.listings.items():
        try:
            if sorted(os.listdir(os.path.join(env.root, rel))) != names:
                return None
        except OSError:
            return None
    recorded = {d.name: d for d in ck.distributions}
    changed = set(ck.changed)
    kept = [d for n, d in before.items() if n in recorded and n not in changed]
    gone = [d for n, d in before.items() if n not in recorded or n in changed]
    restored = [recorded[n] for n in changed if n in recorded]
    put_back = {os.path.join(env.root, r) for r in ck.roots}  # the changed ones' folders, from the stash
    if any(os.path.lexists(p) for p in {os.path.normpath(d.metadata_dir) for d in gone} - put_back):
        return None
    return fingerprint_of(env.implementation, env.version, env.platform, [*kept, *restored])


def _restore_from_stash(
    env: Env,
    ck: CheckpointView,
    journal: Journal,
    result: RollbackResult,
    say: Callable[[str], None],
    *,
    refresh: bool = True,
) -> None:
    """Remove what came after ``ck`` and put its stash back: whole folders by rename, the rest by link.

    ``refresh``: read the installed distributions again first (not needed when nothing changed
    since the caller read them).

    Five phases, each idempotent: plan what goes (journaled first), swap the whole folders back,
    remove the single files that came after the checkpoint, link the single stashed files back, and
    remove the folders left empty.
    """
    kill_check = kill_counter("rollback")

    def tick() -> None:
        result.operations += 1
        kill_check()

    paths = EnvPaths(env.root)
    stash = str(stash_dir(env, ck.id))
    swap = [r for r in ck.roots if r in journal.swap or os.path.isdir(os.path.join(stash, r))]
    if refresh:
        env.refresh()
    doomed = _plan_removals(env, ck, journal, paths, swap, result, say)
    _swap_folders_back(env, paths, stash, swap, tick)
    rel_prefixes = tuple(r + "/" for r in swap)
    singles = [e for e in ck.manifest if not (e.path in swap or e.path.startswith(rel_prefixes))]
    result.restored_files += len(ck.manifest) - len(singles)
    folders = _remove_newer_files(paths, doomed, {e.path for e in ck.manifest}, result, tick)
    _link_singles_back(paths, stash, singles, ck.stash_method, result, tick)
    _remove_empty_folders(env, paths, folders, singles)


def _plan_removals(
    env: Env,
    ck: CheckpointView,
    journal: Journal,
    paths: EnvPaths,
    swap: list[str],
    result: RollbackResult,
    say: Callable[[str], None],
) -> set[str]:
    """Phase 0: every path that came after ``ck`` (journaled before anything is touched)."""
    root = str(paths.root)
    manifest = {e.path for e in ck.manifest}
    recorded = {d.name: d for d in ck.distributions}
    swapped_abs = {os.path.join(root, r) for r in swap}
    swapped_prefixes = tuple(p + os.sep for p in swapped_abs)

    def swapped(path: str) -> bool:
        return path in swapped_abs or path.startswith(swapped_prefixes)

    doomed: set[str] = set()
    pyc = PycFinder()
    for name, dist in env.distributions.items():
        old = recorded.get(name)
        if old is not None and name not in ck.changed:
            continue
        if old is None or old.version != dist.version:
            result.removed.append(f"{name}=={dist.version}")
        for path in record_files(paths, Path(dist.metadata_dir), swapped, drop=swapped_prefixes):
            if not swapped(path):
                doomed.add(path)
                doomed.update(pyc.siblings(path))
        if not swapped(os.path.normpath(dist.metadata_dir)):
            doomed.update(_walk(os.path.normpath(dist.metadata_dir)))
    for rel in ck.roots:
        if rel not in swap:
            doomed.update(_walk(os.path.join(root, rel)))
    for rel_dir, names in journal.listings.items():
        folder = os.path.join(root, rel_dir)
        try:
            now = set(os.listdir(folder))
        except OSError:
            continue
        for name in sorted(now - set(names)):
            full = os.path.join(folder, name)
            if name == STATE_NAME or swapped(full):
                continue
            doomed.update(_walk(full))
            if name.startswith("~"):
                say(f"removing {rel_dir}/{name}: left by the interrupted installer")
    _report_leftovers(env, journal.listings, result, say)
    for rel in journal.remove:  # what an interrupted run of this rollback had planned to remove
        doomed.add(paths.safe_str(root, rel))
    journal.remove = sorted({paths.rel(p) for p in doomed} - manifest)
    journal.swap = sorted(set(journal.swap) | set(swap))
    write_journal(env, journal)
    return doomed


def _swap_folders_back(
    env: Env, paths: EnvPaths, stash: str, swap: list[str], tick: Callable[[], None]
) -> None:
    """Phase 1: whole folders: the current one goes to the trash, the stashed one comes back."""
    root = str(paths.root)
    trash = str(private_dir(trash_dir(env)))
    for rel in swap:
        source, dest = os.path.join(stash, rel), os.path.join(root, rel)
        if not os.path.lexists(source):
            continue  # swapped back by the interrupted run
        if os.path.lexists(dest):
            paths.check_no_escape(dest)
            os.rename(dest, os.path.join(trash, os.urandom(8).hex()))
            tick()
        else:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
        os.rename(source, dest)
        tick()


def _remove_newer_files(
    paths: EnvPaths,
    doomed: set[str],
    manifest: set[str],
    result: RollbackResult,
    tick: Callable[[], None],
) -> set[str]:
    """Phase 2: single files that came after the checkpoint; the folders they were in."""
    folders: set[str] = set()
    for path in sorted(doomed, reverse=True):
        if paths.rel(path) in manifest:
            continue
        paths.check_no_escape(path)
        if os.path.isdir(path) and not os.path.islink(path):
            folders.add(path)
            continue
        folders.add(os.path.dirname(path))
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        result.removed_files += 1
        tick()
    return folders


def _link_singles_back(
    paths: EnvPaths,
    stash: str,
    singles: list[ManifestEntry],
    method: str,
    result: RollbackResult,
    tick: Callable[[], None],
) -> None:
    """Phase 3: single stashed files, linked back (copied where links are refused)."""
    root = str(paths.root)
    for entry in singles:
        dest = os.path.join(root, entry.path)
        source = os.path.join(stash, entry.path)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        paths.check_no_escape(dest)
        if os.path.lexists(dest):
            if _same(source, dest):
                continue
            if os.path.isdir(dest) and not os.path.islink(dest):
                shutil.rmtree(dest)
            else:
                os.unlink(dest)
            tick()
        _put_back(source, dest, method)
        result.restored_files += 1
        tick()


def _remove_empty_folders(env: Env, paths: EnvPaths, folders: set[str], singles: list[ManifestEntry]) -> None:
    """Phase 4: folders the removals left empty (never one the checkpoint's files live in)."""
    root = str(paths.root)
    keep = {os.path.dirname(os.path.join(root, e.path)) for e in singles}
    stop = {root, str(env.scripts), *(str(p) for p in env.site_paths)}
    for folder in sorted(folders, key=lambda p: p.count(os.sep), reverse=True):
        while folder not in stop and folder not in keep and paths.inside(folder) and folder != root:
            try:
                os.rmdir(folder)
            except OSError:
                break
            folder = os.path.dirname(folder)


def _walk(top: str) -> set[str]:
    """Every file, symlink and folder under ``top`` (``top`` itself included)."""
    out: set[str] = set()
    if not os.path.lexists(top):
        return out
    out.add(top)
    if os.path.islink(top) or not os.path.isdir(top):
        return out
    for folder, dirs, names in os.walk(top):
        out.update(os.path.join(folder, n) for n in names)
        out.update(os.path.join(folder, d) for d in dirs)
    return out


def _same(source: str, dest: str) -> bool:
    try:
        if os.path.islink(source) or os.path.islink(dest):
            return (
                os.path.islink(source) and os.path.islink(dest) and os.readlink(source) == os.readlink(dest)
            )
        return os.path.samefile(source, dest)
    except OSError:
        return False


def _put_back(source: str, dest: str, method: str) -> None:
    if os.path.islink(source):
        os.symlink(os.readlink(source), dest)
        return
    if method == "link":
        try:
            os.link(source, dest)
            return
        except OSError:
            pass
    tmp = os.path.join(os.path.dirname(dest), f".{os.path.basename(dest)}.oxwizard-tmp")
    shutil.copy2(source, tmp)
    os.replace(tmp, dest)


def _report_leftovers(
    env: Env,
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
    ck: CheckpointView,
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
    pinned = sorted(n for n in set(drifted) | set(ck.changed) if n in recorded)
    pins = [recorded[n].pin for n in pinned]
    if pins and index is None:
        raise RollbackFailed(
            f"checkpoint {ck.id} has no stash on this host and no package source was given: "
            "pass --find-links DIR or --index-url URL to reinstall " + " ".join(pins)
        )
    from oxwizard.core import proc
    from oxwizard.env.specs import IndexOptions
    from oxwizard.safety.installer import installer_argv, installer_environ

    # the environment's own installer: an env made by uv is reinstalled with uv (INSTALLER stays uv)
    kind, prefix = installer_argv(env)
    environ = installer_environ(kind, index or IndexOptions())
    if extra:
        done = proc.stream(remove_argv(env, extra), on_line=say, env=environ)
        if not done.ok:
            raise RollbackFailed(f"{kind} uninstall {' '.join(extra)} failed: {done.stdout[-300:]}")
        result.removed += extra
    if pins:
        assert index is not None
        _reinstall_pins(env, index, pins, say)
        # every pin is reinstalled (--force-reinstall), at another version or at the same one: replaced
        result.removed += [f"{n}=={env.distributions[n].version}" for n in pinned if n in env.distributions]
    env.refresh()
    for name in ck.changed:
        dist = env.distributions.get(name)
        if dist is not None:
            result.restored_files += len(record_files(EnvPaths(env.root), Path(dist.metadata_dir)))


def _reinstall_pins(
    env: Environment, index: IndexOptions, pins: list[str], say: Callable[[str], None]
) -> None:
    """The environment's own installer puts back the exact ``pins`` (``--force-reinstall``)."""
    from oxwizard.core import proc
    from oxwizard.safety.installer import installer_argv, installer_environ

    kind, _ = installer_argv(env)
    done = proc.stream(reinstall_argv(env, index, pins), on_line=say, env=installer_environ(kind, index))
    if not done.ok:
        raise RollbackFailed(f"reinstalling {' '.join(pins)} failed: {done.stdout[-300:]}")


def reinstall_argv(env: Environment, index: IndexOptions, pins: list[str]) -> list[str]:
    """The environment's own installer (uv for an env made by uv, so INSTALLER stays uv), putting
    back the exact ``pins`` of a checkpoint that has no stash here."""
    from oxwizard.safety.installer import installer_argv

    kind, prefix = installer_argv(env)
    sources = index.uv_args() if kind == "uv" else index.pip_args()
    return [*prefix, "--no-deps", "--force-reinstall", *sources, "--", *pins]


def remove_argv(env: Environment, names: list[str]) -> list[str]:
    """The environment's own installer, removing what a checkpoint did not have."""
    from oxwizard.safety.installer import uninstaller_argv

    return uninstaller_argv(env, env.installer_kind(), names)


def _signed_before_restore(env: Env, ck: CheckpointView) -> list[Signature | None]:
    """The recorded signatures of ``ck``, those of single files checked just before they are put back.

    A file inside a folder swapped back whole is checked after the restore only (the renames leave
    its inode alone, ctime included). A single file that an interrupted run already put back is
    looked at where it is now. None: not proven.
    """
    stash = str(stash_dir(env, ck.id)) + os.sep
    root = str(env.root) + os.sep
    folders = tuple(r + "/" for r in ck.roots)
    out: list[Signature | None] = []
    for entry, sig in zip(ck.manifest, load_signatures(env, ck), strict=True):
        if sig is not None and not entry.path.startswith(folders):
            try:
                st = os.lstat(stash + entry.path)
            except FileNotFoundError:
                try:
                    st = os.lstat(root + entry.path)
                except OSError:
                    st = None
            except OSError:
                st = None
            if st is None or (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns) != sig:
                sig = None
        out.append(sig)
    return out


def unproven_files(env: Env, ck: CheckpointView | Checkpoint, signed: list[Signature | None]) -> list[int]:
    """Indices of ``ck.manifest`` whose restored file is not the signed inode, unchanged: to hash.

    A file proven before the restore and found after it as the same inode (``st_ino``), with the same
    size and mtime, holds the checkpoint's bytes. Files inside a folder swapped back by rename keep
    their ctime too, and it is compared; a file linked back single got a new ctime from that link.
    """
    root = str(env.root) + os.sep
    folders = tuple(r + "/" for r in ck.roots)
    todo: list[int] = []
    for i, (entry, sig) in enumerate(zip(ck.manifest, signed, strict=True)):
        if sig is None:
            todo.append(i)
            continue
        try:
            st = os.lstat(root + entry.path)
        except OSError:
            todo.append(i)
            continue
        same = (st.st_ino, st.st_size, st.st_mtime_ns) == sig[:3] and stat.S_ISREG(st.st_mode)
        if not same or (entry.path.startswith(folders) and st.st_ctime_ns != sig[3]):
            todo.append(i)
    return todo


def verify_files(env: Env, ck: CheckpointView | Checkpoint, which: list[int] | None = None) -> list[str]:
    """The files of ``ck.manifest`` (all, or the indices ``which``) whose live sha256 differs."""
    root = str(env.root) + os.sep
    entries = ck.manifest if which is None else [ck.manifest[i] for i in which]
    digests = hash_many([root + e.path for e in entries], [e.size for e in entries])
    problems: list[str] = []
    for entry, digest in zip(entries, digests, strict=True):
        if digest is None:
            problems.append(f"{entry.path} missing or not a readable file")
        elif digest != entry.sha256:
            problems.append(f"{entry.path} differs from the checkpoint")
    return problems


def _verify(
    env: Env, ck: CheckpointView, result: RollbackResult, signed: list[Signature | None] | None
) -> list[str]:
    problems: list[str] = []
    if result.method == "stash":
        todo = None if signed is None else unproven_files(env, ck, signed)
        result.hashed_files = len(ck.manifest) if todo is None else len(todo)
        proven = len(ck.manifest) - result.hashed_files
        result.verification = "signatures" if proven else "sha256"
        problems += verify_files(env, ck, todo)
    else:
        result.verification = "RECORD"
        for name in ck.changed:
            dist = env.distributions.get(name)
            if dist is not None:
                problems += [
                    f"{name}: {p} differs from RECORD" for p in verify_record(Path(dist.metadata_dir))
                ]
    if result.fingerprint_after != ck.fingerprint:
        problems.append(f"fingerprint {result.fingerprint_after} is not the checkpoint's {ck.fingerprint}")
    return problems
