"""Building real, valid wheels from in-memory files (no build backend, no network).

Used by the offline demo sandbox and by tests and benchmarks that need packages of a given shape.
Wheels are deterministic (fixed timestamps, sorted entries) and carry a RECORD with the sha256 and
size of every file, so pip installs them and their hashes can be verified after install.
"""

from __future__ import annotations

import base64
import hashlib
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import Version

_EPOCH = (2020, 1, 1, 0, 0, 0)


def record_hash(data: bytes) -> str:
    """The ``sha256=<urlsafe base64, no padding>`` form RECORD files use."""
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def wheel_name(name: str, version: str) -> str:
    """The escaped distribution part of a wheel file name (PEP 427 / binary distribution format)."""
    return canonicalize_name(name).replace("-", "_")


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
    """Write ``{name}-{version}-py3-none-any.whl`` into ``out_dir`` and return its path."""
    dist = wheel_name(name, version)
    ver = str(Version(version))
    info = f"{dist}-{ver}.dist-info"
    meta = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {ver}",
        f"Summary: {summary or name}",
    ]
    if requires_python:
        meta.append(f"Requires-Python: {requires_python}")
    meta += [f"Requires-Dist: {r}" for r in requires]
    entries: dict[str, bytes] = {
        path: (content.encode() if isinstance(content, str) else content)
        for path, content in sorted(files.items())
    }
    tops = sorted({p.split("/", 1)[0].removesuffix(".py") for p in files if not p.startswith(info)})
    entries[f"{info}/METADATA"] = ("\n".join(meta) + "\n").encode()
    entries[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: oxwizard.wheels\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    entries[f"{info}/top_level.txt"] = ("\n".join(tops) + "\n").encode()
    if console_scripts:
        lines = ["[console_scripts]", *(f"{k} = {v}" for k, v in sorted(console_scripts.items()))]
        entries[f"{info}/entry_points.txt"] = ("\n".join(lines) + "\n").encode()
    record = [f"{path},{record_hash(data)},{len(data)}" for path, data in entries.items()]
    record.append(f"{info}/RECORD,,")
    entries[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{dist}-{ver}-py3-none-any.whl"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, data in entries.items():
            item = zipfile.ZipInfo(path, date_time=_EPOCH)
            item.external_attr = 0o644 << 16
            item.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(item, data)
    return target
