"""Building real, valid wheels from in-memory files (no build backend, no network).

Used by the offline demo sandbox and by tests and benchmarks that need packages of a given shape.
Wheels are deterministic (fixed timestamps and permissions, sorted entries) and carry a RECORD with
the sha256 and size of every file, so pip installs them and their hashes can be verified after install.
Names and versions are validated and escaped by :mod:`packaging`, never by hand.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import InvalidName, canonicalize_name
from packaging.version import InvalidVersion, Version

from oxwizard.core.errors import UsageError

TAG = "py3-none-any"
_EPOCH = (2020, 1, 1, 0, 0, 0)  # every entry's timestamp: the same files give the same bytes


def record_hash(data: bytes) -> str:
    """The ``sha256=<urlsafe base64, no padding>`` form RECORD files use."""
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def wheel_name(name: str) -> str:
    """The escaped distribution part of a wheel file name (``My.Pkg`` -> ``my_pkg``)."""
    try:
        return canonicalize_name(name, validate=True).replace("-", "_")
    except InvalidName as exc:
        raise UsageError(f"not a valid distribution name: {name!r}") from exc


def wheel_filename(name: str, version: str) -> str:
    """``{name}-{version}-py3-none-any.whl`` with both parts escaped as the wheel spec requires."""
    return f"{wheel_name(name)}-{_version(version)}-{TAG}.whl"


def build_wheel(
    out_dir: Path,
    name: str,
    version: str,
    files: Mapping[str, str | bytes],
    *,
    requires: Sequence[str] = (),
    requires_python: str | None = None,
    console_scripts: Mapping[str, str] | None = None,
    summary: str = "",
) -> Path:
    """Write ``{name}-{version}-py3-none-any.whl`` into ``out_dir`` and return its path.

    ``files`` maps archive paths (``pkg/__init__.py``) to their text (written as UTF-8) or bytes.
    """
    ver = _version(version)
    info = f"{wheel_name(name)}-{ver}.dist-info"
    for path in files:
        _check_path(path, info)
    for req in requires:
        _check(Requirement, req, "requirement")
    if requires_python is not None:
        _check(SpecifierSet, requires_python, "Requires-Python")

    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {ver}", f"Summary: {summary or name}"]
    if requires_python is not None:
        meta.append(f"Requires-Python: {requires_python}")
    meta += [f"Requires-Dist: {req}" for req in requires]
    entries: dict[str, bytes] = {
        path: content.encode() if isinstance(content, str) else bytes(content)
        for path, content in sorted(files.items())
    }
    tops = sorted({_top_level(path) for path in files})
    entries[f"{info}/METADATA"] = _lines(meta)
    entries[f"{info}/WHEEL"] = _lines(
        ["Wheel-Version: 1.0", "Generator: oxwizard.demo.wheels", "Root-Is-Purelib: true", f"Tag: {TAG}"]
    )
    entries[f"{info}/top_level.txt"] = _lines(tops)
    if console_scripts:
        scripts = (f"{script} = {target}" for script, target in sorted(console_scripts.items()))
        entries[f"{info}/entry_points.txt"] = _lines(["[console_scripts]", *scripts])
    entries[f"{info}/RECORD"] = _record(entries, f"{info}/RECORD")

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / wheel_filename(name, version)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path, data in entries.items():
            item = zipfile.ZipInfo(path, date_time=_EPOCH)
            item.external_attr = 0o644 << 16
            item.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(item, data)
    return target


def _version(version: str) -> str:
    try:
        return str(Version(version))  # the normalised form, as in wheel names and METADATA
    except InvalidVersion as exc:
        raise UsageError(f"not a valid version: {version!r}") from exc


def _check(kind: type[Requirement] | type[SpecifierSet], text: str, what: str) -> None:
    try:
        kind(text)
    except (InvalidRequirement, InvalidSpecifier) as exc:
        raise UsageError(f"not a valid {what}: {text!r}") from exc


def _check_path(path: str, info: str) -> None:
    parts = PurePosixPath(path).parts
    if not parts or path.startswith("/") or "\\" in path or ".." in parts or path.endswith("/"):
        raise UsageError(f"not a relative file path inside a wheel: {path!r}")
    if parts[0] == info:
        raise UsageError(f"{path!r} is written by the wheel builder itself")


def _top_level(path: str) -> str:
    first = PurePosixPath(path).parts[0]
    return first.removesuffix(".py") if first == PurePosixPath(path).name else first


def _lines(lines: Sequence[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def _record(entries: Mapping[str, bytes], record_path: str) -> bytes:
    """RECORD as the spec writes it: CSV rows ``path,sha256=...,size``; its own row has no hash."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for path, data in entries.items():
        writer.writerow([path, record_hash(data), len(data)])
    writer.writerow([record_path, "", ""])
    return out.getvalue().encode()
