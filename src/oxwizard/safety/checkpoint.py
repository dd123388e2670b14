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

import json
import os
import secrets
import shutil
import stat
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from oxwizard.core.errors import CheckpointError
from oxwizard.core.places import private_dir, state_dir, state_path, write_atomic
from oxwizard.env.environment import Distribution, Environment
from oxwizard.safety.journal import listings, read_journal
from oxwizard.safety.records import EnvPaths, PycFinder, hash_many, record_files

if TYPE_CHECKING:
    from oxwizard.env.plan import Plan

CHECKPOINT_SCHEMA = 2
MANIFEST_NAME = "manifest.json"
SIGNATURES_NAME = "signatures.json"
# A ctime this close to the moment it was read may be shared by a later write in the same clock tick
# (timestamps come from a coarse clock, ticking every 1-10 ms): such a signature is not trusted.
RACY_NS = 20_000_000
SPACE_MARGIN = 16 * 1024 * 1024


class ManifestEntry(NamedTuple):
    """One stashed file: path relative to the env root, size and sha256 at checkpoint time.

    A named tuple, not a model: a manifest has tens of thousands of entries, and pydantic validates
    a list of tuples about twice as fast as a list of models (it reads both the ``[path, size,
    sha256]`` triples written since schema 2 and the objects of schema 1).
    """

    path: str
    size: int
    sha256: str  # hex; "symlink:<target>" for a symbolic link


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


def checkpoints_dir(env: Environment | Path) -> Path:
    return state_path(env) / "checkpoints"


def stash_dir(env: Environment | Path, checkpoint_id: str) -> Path:
    return checkpoints_dir(env) / checkpoint_id / "files"


def take_checkpoint(env: Environment, plan: Plan) -> Checkpoint:
    """Record ``env`` and stash the files of what ``plan`` changes; nothing in the env is modified."""
    env.refresh()
    paths = EnvPaths(env.root)
    changed = sorted(
        c.name for c in plan.changes if c.from_version is not None or c.name in env.distributions
    )
    roots, singles = _owned_paths(env, paths, changed)
    files = _expand(roots, singles)
    size = sum(_size(p) for p in files)
    base = private_dir(state_dir(env) / "checkpoints")
    _empty_trash(env)
    needed = (size if not _links_work(env.root, base) else len(files) * 64) + SPACE_MARGIN
    free = free_bytes(base)
    if free < needed:
        raise CheckpointError(
            f"not enough disk space for a checkpoint: {needed // 1024} KiB needed, {free // 1024} KiB free "
            f"on {base}; nothing was changed"
        )
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
            if os.path.islink(path):
                os.symlink(os.readlink(path), dest)
            else:
                try:
                    os.link(path, dest)
                except OSError:
                    shutil.copy2(path, dest)
                    method = "copy"
            stashed.append(dest)
            rels.append((rel, _size(path)))
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


Signature = tuple[int, int, int, int]  # st_ino, st_size, st_mtime_ns, st_ctime_ns


def read_signatures(paths: list[str]) -> list[Signature | None]:
    """The signature of each regular file in ``paths`` (None: a symlink, missing, or too recent)."""
    now = time.time_ns()  # read before the stats: a ctime RACY_NS older than this is a past tick
    out: list[Signature | None] = []
    for path in paths:
        try:
            st = os.lstat(path)
        except OSError:
            out.append(None)
            continue
        if not stat.S_ISREG(st.st_mode) or st.st_ctime_ns > now - RACY_NS:
            out.append(None)
        else:
            out.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    return out


def write_signatures(env: Environment | Path, checkpoint_id: str, signatures: list[Signature | None]) -> None:
    folder = checkpoints_dir(env) / checkpoint_id
    write_atomic(folder / SIGNATURES_NAME, json.dumps({"signatures": signatures}, separators=(",", ":")))


def load_signatures(env: Environment | Path, ck: Checkpoint) -> list[Signature | None]:
    """The stash's signatures of ``ck`` in manifest order (all None when absent or unreadable)."""
    none: list[Signature | None] = [None] * len(ck.manifest)
    try:
        raw = json.loads((checkpoints_dir(env) / ck.id / SIGNATURES_NAME).read_bytes())["signatures"]
    except (OSError, ValueError, KeyError, TypeError):
        return none
    if not isinstance(raw, list) or len(raw) != len(ck.manifest):
        return none
    out: list[Signature | None] = []
    for item in raw:
        try:
            ino, size, mtime, ctime = item
        except (TypeError, ValueError):
            out.append(None)
            continue
        ok = type(ino) is int and type(size) is int and type(mtime) is int and type(ctime) is int
        out.append((ino, size, mtime, ctime) if ok else None)
    return out


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


def owned_paths(env: Environment, names: list[str]) -> tuple[list[str], list[str]]:
    """What a checkpoint stashes for ``names``: (whole folders, single files), absolute paths.
    The staging clone copies exactly these and links the rest of site-packages."""
    return _owned_paths(env, EnvPaths(env.root), names)


def _owned_paths(env: Environment, paths: EnvPaths, names: list[str]) -> tuple[list[str], list[str]]:
    """Whole top-level folders owned by ``names`` in site-packages, and single files elsewhere."""
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
            out.extend(os.path.join(folder, n) for n in names)
            out.extend(os.path.join(folder, d) for d in dirs if os.path.islink(os.path.join(folder, d)))
    out.extend(p for p in singles if os.path.lexists(p))
    return sorted(set(out))


def trash_dir(env: Environment | Path) -> Path:
    """Where rollback moves the replaced folders (emptied by the next checkpoint or prune)."""
    return state_path(env) / "trash"


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
    if not checkpoint_id or "/" in checkpoint_id or checkpoint_id.startswith("."):
        raise CheckpointError(f"invalid checkpoint id {checkpoint_id!r}")
    folder = checkpoints_dir(env) / checkpoint_id
    path = folder / "checkpoint.json"
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


class CheckpointHead(BaseModel):
    """The few fields of a checkpoint that order it and say whether it was restored: read without
    validating its manifest (thousands of entries), so that finding one checkpoint among many costs
    little. Only for choosing; what is acted on is loaded whole with :func:`load_checkpoint`."""

    model_config = ConfigDict(extra="ignore")

    id: str
    created_at: str
    restored_at: str | None = None

    @property
    def order(self) -> tuple[str, str]:
        return (self.created_at, self.id)


def checkpoint_heads(env: Environment | Path) -> list[CheckpointHead]:
    """:class:`CheckpointHead` of every readable checkpoint of ``env``, oldest first."""
    folder = checkpoints_dir(env)
    try:
        files = [p / "checkpoint.json" for p in folder.iterdir() if (p / "checkpoint.json").is_file()]
    except OSError:
        return []
    heads = []
    for path in files:
        try:
            head = CheckpointHead.model_validate_json(path.read_bytes())
        except (OSError, ValidationError):
            continue
        if head.id == path.parent.name:
            heads.append(head)
    return sorted(heads, key=lambda h: h.order)


def latest_checkpoint(env: Environment | Path) -> Checkpoint | None:
    found = list_checkpoints(env)
    return found[-1] if found else None


def stash_complete(env: Environment | Path, ck: Checkpoint, swapped: frozenset[str] = frozenset()) -> bool:
    """Is every stashed file still there (a stat each)? Folders already swapped back count as there."""
    stash = str(stash_dir(env, ck.id))
    roots = [r for r in ck.roots if r not in swapped]
    if not all(os.path.isdir(os.path.join(stash, r)) for r in roots):
        return False
    prefixes = tuple(r + "/" for r in [*swapped, *roots])  # folders: checked as a whole, then hashed
    return all(
        e.path.startswith(prefixes) or os.path.lexists(os.path.join(stash, e.path)) for e in ck.manifest
    )


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
