"""Installed files: reading RECORD, and refusing paths that escape the environment.

Every path an operation deletes or writes comes through :func:`safe_path`: RECORD entries are
normalised and must stay inside the environment root by whole path segments (``..``, absolute paths
and symlinked folders that lead out are refused with :class:`UnsafePath`). A file that is itself a
symlink pointing out of the environment is refused too: nothing is ever written through it.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import os
from pathlib import Path

from oxwizard.errors import UnsafePath

_CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file (of the link text for a symlink, prefixed ``symlink:``)."""
    if path.is_symlink():
        return "symlink:" + os.readlink(path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def record_to_hex(value: str) -> str | None:
    """RECORD's ``sha256=<urlsafe b64>`` as hex (None for other algorithms or no hash)."""
    algo, _, b64 = value.partition("=")
    if algo != "sha256" or not b64:
        return None
    try:
        return base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)).hex()
    except ValueError:
        return None


class EnvPaths:
    """Path safety relative to one environment root."""

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.normpath(os.path.abspath(root)))
        self.real = Path(os.path.realpath(self.root))

    def inside(self, path: Path) -> bool:
        return path == self.root or path.is_relative_to(self.root)

    def rel(self, path: Path) -> str:
        return str(path.relative_to(self.root))

    def safe_path(self, base: Path, entry: str) -> Path:
        """``base/entry`` normalised, or :class:`UnsafePath` when it leads out of the environment."""
        if not entry or os.path.isabs(entry) or entry.startswith(("/", "\\")) or ":" in entry[:3]:
            raise UnsafePath(f"RECORD path {entry!r} is absolute: refused, nothing changed through it")
        joined = Path(os.path.normpath(base / entry))
        if not self.inside(joined):
            raise UnsafePath(f"RECORD path {entry!r} escapes the environment {self.root}: refused")
        self.check_no_escape(joined)
        return joined

    def check_no_escape(self, path: Path) -> None:
        """The folders above ``path`` (and ``path`` if a symlink) must resolve inside the env."""
        parent_real = Path(os.path.realpath(path.parent))
        if not (parent_real == self.real or parent_real.is_relative_to(self.real)):
            raise UnsafePath(f"{path} lies under a symlink that leads out of the environment: refused")
        if path.is_symlink():
            target = Path(os.path.realpath(path))
            if not (target == self.real or target.is_relative_to(self.real)):
                raise UnsafePath(f"{path} is a symlink pointing out of the environment ({target}): refused")


def record_entries(dist_info: Path) -> list[tuple[str, str | None]]:
    """(path, hex sha256 or None) for each row of RECORD, duplicates dropped (numpy lists some twice)."""
    try:
        text = (dist_info / "RECORD").read_text(encoding="utf-8")
    except OSError:
        return []
    seen: dict[str, str | None] = {}
    for row in csv.reader(text.splitlines()):
        if not row or not row[0]:
            continue
        if row[0] not in seen:
            seen[row[0]] = record_to_hex(row[1]) if len(row) > 1 and row[1] else None
    return list(seen.items())


def record_files(paths: EnvPaths, dist_info: Path) -> dict[Path, str | None]:
    """Absolute, checked paths of a distribution's RECORD (plus its dist-info folder's own files)."""
    site = dist_info.parent
    out: dict[Path, str | None] = {}
    for entry, digest in record_entries(dist_info):
        out[paths.safe_path(site, entry)] = digest
    return out


def compiled_siblings(path: Path) -> list[Path]:
    """``__pycache__`` files Python wrote for ``path`` (a ``.py``), which RECORD may not list."""
    if path.suffix != ".py":
        return []
    cache = path.parent / "__pycache__"
    try:
        names = os.listdir(cache)
    except OSError:
        return []
    prefix = path.stem + "."
    return [cache / n for n in names if n.startswith(prefix) and n.endswith(".pyc")]


def verify_record(dist_info: Path) -> list[str]:
    """Files of one installed distribution whose content no longer matches RECORD."""
    bad: list[str] = []
    site = dist_info.parent
    for entry, digest in record_entries(dist_info):
        if digest is None:
            continue
        path = Path(os.path.normpath(site / entry))
        try:
            if sha256_file(path) != digest:
                bad.append(entry)
        except OSError:
            bad.append(entry)
    return bad
