"""A checkpoint's files on disk, read and marked restored with :mod:`json` alone.

What a rollback reads of a checkpoint (``checkpoint.json``, ``manifest.json``, ``signatures.json``,
the stash) is read here into light structures, without pydantic, whose import alone costs more than
the rollback of a large upgrade: ``oxwizard rollback`` is a new process each time. The layout and the
signatures are described in :mod:`oxwizard.safety.checkpoint`, which writes them (its
:class:`~oxwizard.safety.checkpoint.Checkpoint` model reads the same files whole, validated).
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from oxwizard.core.errors import CheckpointError
from oxwizard.core.places import state_path, write_atomic

if TYPE_CHECKING:
    from typing import Protocol

    from oxwizard.env.interpreter import Interpreter

    class _HasManifest(Protocol):  # a CheckpointView, or the Checkpoint model
        @property
        def id(self) -> str: ...
        @property
        def manifest(self) -> list[ManifestEntry]: ...
        @property
        def roots(self) -> list[str]: ...


CHECKPOINT_SCHEMA = 2
CHECKPOINT_NAME = "checkpoint.json"
MANIFEST_NAME = "manifest.json"
SIGNATURES_NAME = "signatures.json"
# A ctime this close to the moment it was read may be shared by a later write in the same clock tick
# (timestamps come from a coarse clock, ticking every 1-10 ms): such a signature is not trusted.
RACY_NS = 20_000_000


class ManifestEntry(NamedTuple):
    """One stashed file: path relative to the env root, size and sha256 at checkpoint time.

    A named tuple, not a model: a manifest has tens of thousands of entries (``manifest.json`` holds
    ``[path, size, sha256]`` triples since schema 2, objects in schema 1).
    """

    path: str
    size: int
    sha256: str  # hex; "symlink:<target>" for a symbolic link


class Recorded(NamedTuple):
    """A distribution as the checkpoint recorded it (the few fields a rollback reads)."""

    name: str  # canonical
    display_name: str  # as its metadata spells it
    version: str
    metadata_dir: str  # its .dist-info folder at the checkpoint (absolute)

    @property
    def pin(self) -> str:
        return f"{self.name}=={self.version}"


class CheckpointView(NamedTuple):
    """What a rollback reads of a checkpoint: the same fields as the model, those it uses."""

    id: str
    created_at: str
    fingerprint: str
    distributions: list[Recorded]
    changed: list[str]
    roots: list[str]  # folders restored as a whole (relative to the env root)
    listings: dict[str, list[str]]  # the names in each site folder and the scripts folder
    manifest: list[ManifestEntry]
    stash_method: str
    restored_at: str | None
    schema_version: int

    def pins(self, names: list[str] | None = None) -> list[str]:
        keep = set(names) if names is not None else None
        return [d.pin for d in self.distributions if keep is None or d.name in keep]


class CheckpointHead(NamedTuple):
    """The few fields of a checkpoint that order it and say whether it was restored: read without
    its manifest (thousands of entries), so that finding one checkpoint among many costs little."""

    id: str
    created_at: str
    restored_at: str | None = None

    @property
    def order(self) -> tuple[str, str]:
        return (self.created_at, self.id)


Signature = tuple[int, int, int, int]  # st_ino, st_size, st_mtime_ns, st_ctime_ns


def checkpoints_dir(env: Interpreter | Path) -> Path:
    return state_path(env) / "checkpoints"


def stash_dir(env: Interpreter | Path, checkpoint_id: str) -> Path:
    return checkpoints_dir(env) / checkpoint_id / "files"


def trash_dir(env: Interpreter | Path) -> Path:
    """Where rollback moves the replaced folders (emptied by the next checkpoint or prune)."""
    return state_path(env) / "trash"


def checkpoint_folder(env: Interpreter | Path, checkpoint_id: str) -> Path:
    """The folder of checkpoint ``checkpoint_id``, or :class:`CheckpointError` for an id that is not one."""
    if not checkpoint_id or "/" in checkpoint_id or checkpoint_id.startswith("."):
        raise CheckpointError(f"invalid checkpoint id {checkpoint_id!r}")
    return checkpoints_dir(env) / checkpoint_id


def checkpoint_heads(env: Interpreter | Path) -> list[CheckpointHead]:
    """:class:`CheckpointHead` of every readable checkpoint of ``env``, oldest first."""
    try:
        folders = list(checkpoints_dir(env).iterdir())
    except OSError:
        return []
    heads = []
    for folder in folders:
        try:
            data = json.loads((folder / CHECKPOINT_NAME).read_bytes())
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict):
            continue
        ck_id, created, restored = data.get("id"), data.get("created_at"), data.get("restored_at")
        if ck_id == folder.name and isinstance(created, str) and isinstance(restored, str | None):
            heads.append(CheckpointHead(ck_id, created, restored))
    return sorted(heads, key=lambda h: h.order)


def read_checkpoint(env: Interpreter | Path, checkpoint_id: str, *, manifest: bool = True) -> CheckpointView:
    """The checkpoint ``checkpoint_id`` of ``env`` with its manifest, or :class:`CheckpointError`.
    ``manifest=False``: without it (an empty list) when ``manifest.json`` is apart (schema 2), for a
    decision that does not need it (is there anything to roll back?): see :func:`with_manifest`."""
    folder = checkpoint_folder(env, checkpoint_id)
    path = folder / CHECKPOINT_NAME
    try:
        data = _object(json.loads(path.read_bytes()))
        schema = _of(data, "schema_version", int, CHECKPOINT_SCHEMA)
        if schema > CHECKPOINT_SCHEMA:
            raise CheckpointError(f"checkpoint {checkpoint_id} has schema {schema}, newer than this")
        if schema < 2:  # schema 1 held the manifest inside checkpoint.json
            entries = _manifest(data.get("manifest", []))
        elif manifest:
            path = folder / MANIFEST_NAME
            entries = _manifest(json.loads(path.read_bytes()))
        else:
            entries = []
        return CheckpointView(
            id=_of(data, "id", str),
            created_at=_of(data, "created_at", str),
            fingerprint=_of(data, "fingerprint", str),
            distributions=[
                Recorded(
                    _of(d, "name", str),
                    _of(d, "display_name", str),
                    _of(d, "version", str),
                    _of(d, "metadata_dir", str, ""),
                )
                for d in map(_object, _of(data, "distributions", list, []))
            ],
            changed=_strings(data, "changed"),
            roots=_strings(data, "roots"),
            listings={
                str(k): _strings({"names": v}, "names") for k, v in _object(data.get("listings", {})).items()
            },
            manifest=entries,
            stash_method=_of(data, "stash_method", str, "link"),
            restored_at=_of(data, "restored_at", str, None),
            schema_version=schema,
        )
    except FileNotFoundError:
        if path.name == CHECKPOINT_NAME:
            raise CheckpointError(f"no checkpoint {checkpoint_id!r} for this environment") from None
        raise CheckpointError(f"unreadable checkpoint {path}: no such file") from None
    except OSError as exc:
        raise CheckpointError(f"unreadable checkpoint {path}: {exc.strerror}") from None
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"unreadable checkpoint {path}: {exc}") from None


def with_manifest(env: Interpreter | Path, ck: CheckpointView) -> CheckpointView:
    """``ck`` read by ``read_checkpoint(..., manifest=False)``, now with its manifest."""
    if ck.manifest or ck.schema_version < 2:
        return ck
    return read_checkpoint(env, ck.id)


def mark_restored(env: Interpreter | Path, ck: CheckpointView, when: str) -> None:
    """Record in ``checkpoint.json`` that ``ck`` was restored at ``when`` (its other fields kept as
    written). A schema-1 checkpoint is rewritten as schema 2 (the manifest beside it) on the way."""
    folder = checkpoint_folder(env, ck.id)
    data = _object(json.loads((folder / CHECKPOINT_NAME).read_bytes()))
    if ck.schema_version < CHECKPOINT_SCHEMA or not (folder / MANIFEST_NAME).exists():
        write_atomic(
            folder / MANIFEST_NAME, json.dumps([list(e) for e in ck.manifest], separators=(",", ":"))
        )
        data.pop("manifest", None)
        data["schema_version"] = CHECKPOINT_SCHEMA
    data["restored_at"] = when
    write_atomic(folder / CHECKPOINT_NAME, json.dumps(data, indent=1, ensure_ascii=False))


def _object(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


_MISSING = object()


def _of(data: dict[str, Any], key: str, kind: type, default: Any = _MISSING) -> Any:
    """``data[key]``, which must be a ``kind`` (or the default, when given and the key is absent)."""
    if key not in data:
        if default is _MISSING:
            raise ValueError(f"missing field {key!r}")
        return default
    value = data[key]
    if default is None and value is None:
        return None
    if type(value) is not kind:
        raise ValueError(f"{key} is not a {kind.__name__}")
    return value


def _strings(data: dict[str, Any], key: str) -> list[str]:
    value = _of(data, key, list, [])
    if not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} is not a list of strings")
    return value  # type: ignore[no-any-return]


def _manifest(raw: object) -> list[ManifestEntry]:
    if not isinstance(raw, list):
        raise ValueError("the manifest is not a list")
    out = []
    for item in raw:
        path, size, sha = (
            (item.get("path"), item.get("size"), item.get("sha256")) if isinstance(item, dict) else item
        )
        if not (isinstance(path, str) and type(size) is int and isinstance(sha, str)):
            raise ValueError(f"bad manifest entry {item!r}"[:200])
        out.append(ManifestEntry(path, size, sha))
    return out


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


def write_signatures(env: Interpreter | Path, checkpoint_id: str, signatures: list[Signature | None]) -> None:
    folder = checkpoints_dir(env) / checkpoint_id
    write_atomic(folder / SIGNATURES_NAME, json.dumps({"signatures": signatures}, separators=(",", ":")))


def load_signatures(env: Interpreter | Path, ck: _HasManifest) -> list[Signature | None]:
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


def stash_complete(env: Interpreter | Path, ck: _HasManifest, swapped: frozenset[str] = frozenset()) -> bool:
    """Is every stashed file still there (a stat each)? Folders already swapped back count as there."""
    stash = str(stash_dir(env, ck.id))
    roots = [r for r in ck.roots if r not in swapped]
    if not all(os.path.isdir(os.path.join(stash, r)) for r in roots):
        return False
    prefixes = tuple(r + "/" for r in [*swapped, *roots])  # folders: checked as a whole, then hashed
    return all(
        e.path.startswith(prefixes) or os.path.lexists(os.path.join(stash, e.path)) for e in ck.manifest
    )
