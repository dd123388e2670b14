"""Checkpoints: the exact state of an environment before an upgrade touches it, and a stash of its files.

A checkpoint records the fingerprint and every distribution, and stashes the files of each
distribution the plan changes or removes: their whole top-level folders in site-packages (so
``__pycache__`` files RECORD does not list come back too), single-module files with their ``.pyc``,
console scripts and data files from RECORD, and the ``.dist-info`` folder. The stash is made of hard
links (one per file: cost proportional to what the plan changes, byte-identical, and free of disk
space); where the filesystem refuses links it falls back to copies, after checking the free space.

Layout: ``ENV_ROOT/.oxwizard/checkpoints/<id>/checkpoint.json`` (everything but the manifest: small, so
that choosing among checkpoints and marking one restored cost little), ``.../manifest.json`` (one
``[path, size, sha256]`` triple per stashed file, written once) and ``.../files/<path from root>``;
folders private (0700), ids unpredictable (``ck-<time>-<random>``). Schema 1 kept the manifest inside
``checkpoint.json`` as objects; it is still read.

Signatures (``.../signatures.json``, host-local, optional): for each manifest entry, in its order, the
``[st_ino, st_size, st_mtime_ns, st_ctime_ns]`` of the stash's file when its content was last proven
equal to the manifest's sha256 (at the checkpoint, and again by :func:`seal_stash` after an install
on live unlinked the live names, which moves every stashed inode's ctime), or ``null`` where none is
trusted. No write, ``utime`` or ``chmod`` keeps an inode's ctime (user space cannot set it), so a file
whose four values still match was not written since: a rollback then proves it without reading it
(:mod:`oxwizard.safety.rollback`). A signature whose ctime lies within :data:`RACY_NS` of the moment it was
read is not trusted (a write in the same clock tick could keep the ctime). A checkpoint without the
file (older ones, or another host) is verified by hashing.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from oxwizard.core.errors import CheckpointError
from oxwizard.core.places import private_dir, state_dir, write_atomic
from oxwizard.env.environment import Distribution, Environment

# the reading side, without pydantic (oxwizard.safety.checkpoint_files), importable from here too
from oxwizard.safety.checkpoint_files import CHECKPOINT_NAME as CHECKPOINT_NAME
from oxwizard.safety.checkpoint_files import CHECKPOINT_SCHEMA as CHECKPOINT_SCHEMA
from oxwizard.safety.checkpoint_files import MANIFEST_NAME as MANIFEST_NAME
from oxwizard.safety.checkpoint_files import RACY_NS as RACY_NS
from oxwizard.safety.checkpoint_files import SIGNATURES_NAME as SIGNATURES_NAME
from oxwizard.safety.checkpoint_files import CheckpointHead as CheckpointHead
from oxwizard.safety.checkpoint_files import ManifestEntry as ManifestEntry
from oxwizard.safety.checkpoint_files import Signature as Signature
from oxwizard.safety.checkpoint_files import checkpoint_folder as checkpoint_folder
from oxwizard.safety.checkpoint_files import checkpoint_heads as checkpoint_heads
from oxwizard.safety.checkpoint_files import checkpoints_dir as checkpoints_dir
from oxwizard.safety.checkpoint_files import load_signatures as load_signatures
from oxwizard.safety.checkpoint_files import read_signatures as read_signatures
from oxwizard.safety.checkpoint_files import stash_complete as stash_complete
from oxwizard.safety.checkpoint_files import stash_dir as stash_dir
from oxwizard.safety.checkpoint_files import trash_dir as trash_dir
from oxwizard.safety.checkpoint_files import write_signatures as write_signatures
from oxwizard.safety.journal import listings, read_journal
from oxwizard.safety.records import EnvPaths, PycFinder, hash_many, record_files

if TYPE_CHECKING:
    from oxwizard.env.plan import Plan

SPACE_MARGIN = 16 * 1024 * 1024
# the temporary name Python writes a bytecode file under before renaming it into place
# (importlib's _write_atomic: "<path>.<number>"): never part of an environment's state
_WRITING_PYC = re.compile(r".+\.pyc\.\d+")


_MANIFEST = TypeAdapter(list[ManifestEntry])


class Checkpoint(BaseModel):
    """What an environment was, and where its changed files are stashed."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = CHECKPOINT_SCHEMA
    id: str
    parent: str | None = None
    created_at: str
    env_root: str
    fingerprint: str
    distributions: list[Distribution] = Field(default_factory=list)
    changed: list[str] = Field(default_factory=list)
    targets: list[str] = Field(default_factory=list)
    roots: list[str] = Field(default_factory=list)  # folders restored as a whole (relative to root)
    listings: dict[str, list[str]] = Field(default_factory=dict)
    manifest: list[ManifestEntry] = Field(default_factory=list)
    files: int = 0
    size: int = 0
    stash_method: str = "link"
    restored_at: str | None = None

    def pins(self, names: list[str] | None = None) -> list[str]:
        keep = set(names) if names is not None else None
        return [d.pin for d in self.distributions if keep is None or d.name in keep]


@dataclass(frozen=True)
class CheckpointListing:
    """What a checkpoint of an environment for a plan stashes, read before it is taken."""

    changed: list[str]  # the distributions the plan changes or removes
    roots: list[str]  # their whole top-level folders (absolute)
    files: list[str]  # every file to stash (absolute)
    base: Path  # the environment's checkpoints folder


def list_checkpoint(env: Environment, plan: Plan) -> CheckpointListing:
    """Read what a checkpoint of ``env`` for ``plan`` stashes and check the disk space for it
    (:class:`CheckpointError` when short; what a rollback set aside is removed first then). Quick:
    the flow does it before the baseline checks start, and takes the checkpoint beside them."""
    env.refresh()
    paths = EnvPaths(env.root)
    changed = sorted(
        c.name for c in plan.changes if c.from_version is not None or c.name in env.distributions
    )
    roots, singles = _owned_paths(env, paths, changed)
    files = _expand(roots, singles)
    size = sum(_size(p) for p in files)
    base = private_dir(state_dir(env) / "checkpoints")
    needed = (size if not _links_work(env.root, base) else len(files) * 64) + SPACE_MARGIN
    if free_bytes(base) < needed:
        _empty_trash(env)
        free = free_bytes(base)
        if free < needed:
            raise CheckpointError(
                f"not enough disk space for a checkpoint: {needed // 1024} KiB needed, {free // 1024} KiB "
                f"free on {base}; nothing was changed"
            )
    return CheckpointListing(changed=changed, roots=roots, files=files, base=base)


def take_checkpoint(env: Environment, plan: Plan, listing: CheckpointListing | None = None) -> Checkpoint:
    """Record ``env`` and stash the files of what ``plan`` changes; nothing in the env is modified.
    ``listing``: what :func:`list_checkpoint` read (read now without it)."""
    listing = listing if listing is not None else list_checkpoint(env, plan)
    paths = EnvPaths(env.root)
    changed, roots, files, base = listing.changed, listing.roots, listing.files, listing.base
    _empty_trash(env)
    ck_id = f"ck-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(6)}"
    folder = base / ck_id
    folder.mkdir(mode=0o700)
    stash = str(private_dir(folder / "files"))
    stashed: list[str] = []
    rels: list[tuple[str, int]] = []
    method = "link"
    made: set[str] = set()
    try:
        for path in files:
            rel = paths.rel(path)
            dest = os.path.join(stash, rel)
            parent = os.path.dirname(dest)
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
            # The baseline checks run on live meanwhile, and Python writes bytecode there under a
            # temporary name renamed into place: a file gone since the listing is not part of the
            # state; the size recorded is the stashed file's (the name may hold a newer one since).
            stashed_as = _stash_one(path, dest)
            if stashed_as is None:
                continue
            if stashed_as == "copy":
                method = "copy"
            stashed.append(dest)
            rels.append((rel, _size(dest)))
        # each link moved its inode's ctime: wait out the clock tick, read the signatures, then hash
        # (a write after the signature is read moves the ctime again, so it is never trusted)
        time.sleep(RACY_NS / 1e9)
        signatures = read_signatures(stashed)
        digests = hash_many(stashed)
        if None in digests:
            raise CheckpointError(f"cannot read {stashed[digests.index(None)]} to checkpoint it")
        manifest = [
            ManifestEntry(path=r, size=n, sha256=str(d)) for (r, n), d in zip(rels, digests, strict=True)
        ]
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    heads = checkpoint_heads(env)  # the parent's id only: no manifest read
    ck = Checkpoint(
        id=ck_id,
        parent=heads[-1].id if heads else None,
        created_at=datetime.now(UTC).isoformat(timespec="microseconds"),
        env_root=str(env.root),
        fingerprint=env.fingerprint(),
        distributions=list(env.distributions.values()),
        changed=changed,
        targets=list(plan.targets),
        roots=sorted(paths.rel(r) for r in roots if os.path.isdir(r) and not os.path.islink(r)),
        listings=listings(env),
        manifest=manifest,
        files=len(manifest),
        size=sum(e.size for e in manifest),
        stash_method=method,
    )
    write_signatures(env, ck_id, signatures)
    save_checkpoint(env, ck)
    return ck


def seal_stash(env: Environment, ck: Checkpoint) -> int:
    """Prove the stash of ``ck`` intact again after an install on live, and record new signatures.

    The installer unlinked the live names of the stashed files, which moved their ctime: without
    this, a rollback would have to hash every one of them. Each stashed file whose signature moved is
    hashed once here (on the upgrade's path, not the rollback's) and, when it still has the
    manifest's sha256, signed again. Returns how many files were hashed.
    """
    time.sleep(RACY_NS / 1e9)  # the installer's last unlink is now at least a clock tick old
    stash = str(stash_dir(env, ck.id)) + os.sep
    paths = [stash + e.path for e in ck.manifest]
    old = load_signatures(env, ck)
    now = read_signatures(paths)
    todo = [i for i, (a, b) in enumerate(zip(old, now, strict=True)) if b is not None and a != b]
    digests = hash_many([paths[i] for i in todo], [ck.manifest[i].size for i in todo])
    sealed = [a if a == b else None for a, b in zip(old, now, strict=True)]
    for i, digest in zip(todo, digests, strict=True):
        if digest == ck.manifest[i].sha256:
            sealed[i] = now[i]
    write_signatures(env, ck.id, sealed)
    return len(todo)


def owned_paths(env: Environment, names: list[str]) -> tuple[list[str], list[str], list[str]]:
    """What a checkpoint stashes for ``names``: (whole folders, single files), absolute paths; and,
    of them, the files in site-packages that installing another version removes first (each one's
    RECORD, its dist-info aside: the installer reads it to uninstall; and the bytecode Python wrote
    for the ``.py`` files it lists). The staging clone leaves those out (pip and uv skip a listed
    file that is not there: copying them cost a read and a write of every byte), copies the rest of
    these, and links the rest of site-packages."""
    replaced: list[str] = []
    roots, singles = _owned_paths(env, EnvPaths(env.root), names, replaced)
    return roots, singles, replaced


def _owned_paths(
    env: Environment, paths: EnvPaths, names: list[str], replaced: list[str] | None = None
) -> tuple[list[str], list[str]]:
    """Whole top-level folders owned by ``names`` in site-packages, and single files elsewhere;
    ``replaced``, when given, gets the files installing another version removes first."""
    roots: set[str] = set()
    singles: set[str] = set()
    pyc = PycFinder()
    for name in names:
        dist = env.distributions.get(name)
        if dist is None or not dist.metadata_dir:
            continue
        info = os.path.normpath(dist.metadata_dir)
        site = os.path.dirname(info)
        prefix = site + os.sep
        roots.add(info)
        for path in record_files(paths, Path(info)):
            if path.startswith(prefix):
                if replaced is not None and not path.startswith(info + os.sep):
                    replaced.append(path)
                    replaced += pyc.siblings(path)
                first, sep, _rest = path[len(prefix) :].partition(os.sep)
                if first == "__pycache__" or not sep:
                    singles.add(path)
                    singles.update(pyc.siblings(path))
                else:
                    roots.add(prefix + first)
            else:
                singles.add(path)
    return sorted(roots), sorted(singles - roots)


def _expand(roots: list[str], singles: list[str]) -> list[str]:
    out: list[str] = []
    for root in roots:
        if os.path.islink(root) or os.path.isfile(root):
            out.append(root)
            continue
        for folder, dirs, names in os.walk(root):
            if os.path.basename(folder) == "__pycache__":  # never a bytecode file still being written
                names = [n for n in names if not _WRITING_PYC.fullmatch(n)]
            out.extend(os.path.join(folder, n) for n in names)
            out.extend(os.path.join(folder, d) for d in dirs if os.path.islink(os.path.join(folder, d)))
    out.extend(p for p in singles if os.path.lexists(p))
    return sorted(set(out))


def _stash_one(path: str, dest: str) -> str | None:
    """Put ``path`` in the stash at ``dest``: "link"; "copy" where the filesystem refuses links;
    "copied" when ``link()`` failed with ENOENT on a name that exists (it does on a name another
    process renames a new file onto at that moment: the inode it found lost its last name; the
    file the name holds now is copied); "symlink"; None when the file is gone."""
    try:
        if os.path.islink(path):
            os.symlink(os.readlink(path), dest)
            return "symlink"
        try:
            os.link(path, dest)
            return "link"
        except FileNotFoundError:
            if not os.path.lexists(path):
                return None
            shutil.copy2(path, dest)
            return "copied"
        except OSError:
            shutil.copy2(path, dest)
            return "copy"
    except FileNotFoundError:
        if os.path.lexists(path):
            raise
        return None


def _empty_trash(env: Environment | Path) -> None:
    if read_journal(env) is None:
        shutil.rmtree(trash_dir(env), ignore_errors=True)


def _size(path: str) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


def _links_work(src_dir: Path, dest_dir: Path) -> bool:
    try:
        return src_dir.stat().st_dev == dest_dir.stat().st_dev
    except OSError:
        return False


def free_bytes(path: Path) -> int:
    """Free space where the stash goes (a function, so tests can simulate a full disk)."""
    return shutil.disk_usage(path).free


def save_checkpoint(env: Environment | Path, ck: Checkpoint) -> None:
    """Write ``checkpoint.json``, and the manifest the first time (it never changes afterwards).

    The manifest is written first: a checkpoint whose ``checkpoint.json`` exists is complete.
    """
    folder = checkpoints_dir(env) / ck.id
    manifest = folder / MANIFEST_NAME
    if ck.schema_version < CHECKPOINT_SCHEMA or not manifest.exists():
        write_atomic(manifest, _MANIFEST.dump_json(ck.manifest).decode())
        ck.schema_version = CHECKPOINT_SCHEMA
    write_atomic(folder / "checkpoint.json", ck.model_dump_json(indent=1, exclude={"manifest"}))


def load_checkpoint(env: Environment | Path, checkpoint_id: str) -> Checkpoint:
    """The checkpoint ``checkpoint_id`` of ``env`` with its manifest, or :class:`CheckpointError`."""
    folder = checkpoint_folder(env, checkpoint_id)
    path = folder / CHECKPOINT_NAME
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint {checkpoint_id!r} for this environment") from None
    try:
        ck = Checkpoint.model_validate_json(text)
        if ck.schema_version > CHECKPOINT_SCHEMA:
            raise CheckpointError(
                f"checkpoint {checkpoint_id} has schema {ck.schema_version}, newer than this"
            )
        if ck.schema_version >= 2:  # schema 1 held the manifest inside checkpoint.json
            path = folder / MANIFEST_NAME
            ck.manifest = _MANIFEST.validate_json(path.read_bytes())
    except ValidationError as exc:
        raise CheckpointError(f"unreadable checkpoint {path}: {exc.errors()[0]['msg']}") from None
    except OSError as exc:
        raise CheckpointError(f"unreadable checkpoint {path}: {exc.strerror}") from None
    return ck


def list_checkpoints(env: Environment | Path) -> list[Checkpoint]:
    """Every checkpoint of ``env``, oldest first (loaded whole: see :func:`checkpoint_heads`)."""
    found = []
    for head in checkpoint_heads(env):
        try:
            found.append(load_checkpoint(env, head.id))
        except CheckpointError:
            continue
    return found


def latest_checkpoint(env: Environment | Path) -> Checkpoint | None:
    found = list_checkpoints(env)
    return found[-1] if found else None


def prune_checkpoints(env: Environment | Path, keep: int) -> list[str]:
    """Delete all but the ``keep`` newest checkpoints (never one an unfinished operation needs)."""
    if keep < 0:
        raise CheckpointError("--prune needs a number >= 0")
    found = list_checkpoints(env)
    journal = read_journal(env)
    protected = {journal.checkpoint_id} if journal else set()
    doomed = [c for c in found[: max(0, len(found) - keep)] if c.id not in protected]
    _empty_trash(env)
    for ck in doomed:
        shutil.rmtree(checkpoints_dir(env) / ck.id, ignore_errors=True)
    return [c.id for c in doomed]
