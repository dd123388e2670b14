"""The installed distributions: each ``.dist-info`` (or ``.egg-info``) folder read with
:mod:`importlib.metadata`, its requirements parsed with ``packaging`` — and that reading kept between
runs.

Reading a 115-distribution environment (each METADATA parsed as an email message) and parsing its
~1000 requirements costs ~55 ms (~7 ms from the cache), every time a plan, the wizard or an upgrade
opens it: half of uv's whole dry run. :func:`read_cached` keeps each folder's reading in oxwizard's cache
(``reading/``, one file per environment: its site folders and marker values) and uses it again while
the folder is unchanged: the same folder mtime (nothing added, removed or renamed in it) and, for
each file read from it, the same device, inode, size and mtime. A folder that changed, or a new one,
is read again; a cache file that cannot be read is ignored and written anew. The folders are still
found by importlib.metadata, in its order, so the first distribution of a name found wins as before.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import packaging
from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from pydantic import BaseModel, ConfigDict, Field

from oxwizard.core.pipenv import cache_root
from oxwizard.core.places import mark_used, store_kept


class Distribution(BaseModel):
    """One installed distribution, as read from its ``.dist-info`` folder."""

    model_config = ConfigDict(extra="forbid")

    name: str  # canonical (PEP 503 normalised)
    display_name: str
    version: str
    installer: str = ""
    requested: bool = False
    direct_url: dict[str, object] | None = None
    editable: bool = False
    requires_python: str | None = None
    requires: list[str] = Field(default_factory=list)
    metadata_dir: str = ""  # absolute path of the .dist-info folder

    @property
    def pin(self) -> str:
        return f"{self.name}=={self.version}"


class Requires(NamedTuple):
    """One distribution's requirements, read for one environment's marker values."""

    applying: list[tuple[str, str]]  # (requirement text, canonical name asked for) whose markers hold
    named: list[str]  # the canonical name of every requirement that parses, whatever its marker
    bad: list[str]  # the requirement texts that do not parse (pip check fails on those)


class Reading(NamedTuple):
    """An environment's installed distributions (by canonical name, sorted) and their requirements."""

    distributions: dict[str, Distribution]
    requires: dict[str, Requires]


def read_distributions(paths: list[Path]) -> dict[str, Distribution]:
    """Every distribution installed in ``paths``, keyed by canonical name (first one wins), read
    from the folders (no cache)."""
    found: dict[str, Distribution] = {}
    for dist in md.distributions(path=[str(p) for p in paths]):
        read = _read(dist, found.__contains__)
        if read is not None:
            found[read.name] = read
    return dict(sorted(found.items()))


def read_cached(paths: list[Path], markers: dict[str, str]) -> Reading:
    """As :func:`read_distributions`, with each distribution's :class:`Requires` for ``markers``;
    from the cache for each folder unchanged since it was read (see the module's note)."""
    cache = _cache_file(paths, markers)
    kept = _load(cache)
    entries: dict[str, dict[str, object]] = {}
    found: dict[str, Distribution] = {}
    requires: dict[str, Requires] = {}
    changed = False
    for dist in md.distributions(path=[str(p) for p in paths]):
        where = str(getattr(dist, "_path", ""))
        stamp = folder_stamp(where) if where else None
        entry = kept.get(where) if stamp is not None else None
        read = _from_entry(entry, stamp) if entry is not None else None
        if read is None:
            fresh = _read(dist)
            if fresh is None:
                continue  # no name: as read_distributions
            read = (fresh, _requires_for(fresh.requires, markers))
            if stamp is not None:
                changed = True
                entry = _entry(read, stamp)
        if stamp is not None and entry is not None:
            entries[where] = entry
        dist_read, reqs = read
        if dist_read.name not in found:
            found[dist_read.name] = dist_read
            requires[dist_read.name] = reqs
    if changed or entries.keys() != kept.keys():
        _store(cache, entries)
    elif kept:
        mark_used(cache)  # the readings kept are those used last
    return Reading(dict(sorted(found.items())), dict(sorted(requires.items())))


def applying(
    texts: list[str],
    markers: dict[str, str],
    bad: list[str] | None = None,
    named: set[str] | None = None,
) -> list[tuple[Requirement, str]]:
    """The requirements among ``texts`` whose markers hold for ``markers``, with the canonical name
    each asks for (unparsable ones left out, and noted in ``bad`` when given); ``named``, when
    given, gets the canonical name of every requirement that parses, whatever its marker."""
    out: list[tuple[Requirement, str]] = []
    for text in texts:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            if bad is not None:
                bad.append(text)
            continue
        if named is not None:
            named.add(canonicalize_name(req.name))
        if req.marker is not None and not _marker_ok(req.marker, markers):
            continue
        out.append((req, canonicalize_name(req.name)))
    return out


def _marker_ok(marker: Marker, markers: dict[str, str]) -> bool:
    try:
        return marker.evaluate({**markers, "extra": ""})
    except Exception:  # noqa: BLE001 - an unknown marker variable: treat as not applying
        return False


def _requires_for(texts: list[str], markers: dict[str, str]) -> Requires:
    bad: list[str] = []
    named: set[str] = set()
    holding = applying(texts, markers, bad, named)
    return Requires([(str(req), name) for req, name in holding], sorted(named), bad)


def _read(dist: md.Distribution, skip: Callable[[str], bool] | None = None) -> Distribution | None:
    """One distribution's record; None without a name, or when ``skip(name)`` (a name found first:
    the rest of its folder is not read)."""
    meta = dist.metadata  # parsed once: each .metadata, .version or .requires parses the file again
    raw_name = meta["Name"]
    if not raw_name:
        return None
    name = canonicalize_name(raw_name)
    if skip is not None and skip(name):
        return None
    direct = _read_json(dist.read_text("direct_url.json"))
    dir_info = direct.get("dir_info") if direct else None
    editable = isinstance(dir_info, dict) and bool(dir_info.get("editable"))
    return Distribution(
        name=name,
        display_name=raw_name,
        version=meta["Version"],
        installer=(dist.read_text("INSTALLER") or "").strip(),
        requested=dist.read_text("REQUESTED") is not None,
        direct_url=direct,
        editable=editable,
        requires_python=meta["Requires-Python"],
        requires=_requires(dist, meta),
        metadata_dir=str(getattr(dist, "_path", "")),
    )


def _requires(dist: md.Distribution, meta: md.PackageMetadata) -> list[str]:
    """``dist.requires`` from the metadata already parsed; an egg-info's ``requires.txt`` (which
    importlib.metadata turns into requirements with markers) only where the metadata has none."""
    listed = meta.get_all("Requires-Dist")
    if listed:
        return list(listed)
    return list(dist.requires or []) if dist.read_text("requires.txt") is not None else []


def _read_json(text: str | None) -> dict[str, object] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# -- the cache ----------------------------------------------------------------------------------

# Every file a reading looks at in a folder (what _read and importlib.metadata read).
_READ_FILES = ("METADATA", "PKG-INFO", "requires.txt", "INSTALLER", "REQUESTED", "direct_url.json")
_FORMAT = 1  # of the cache files: a reading written by another format is not used
_KEEP = 32  # cache files kept (the environments read last): staging clones each leave one


def _cache_file(paths: list[Path], markers: dict[str, str]) -> Path:
    key = json.dumps([_FORMAT, packaging.__version__, [str(p) for p in paths], sorted(markers.items())])
    return Path(cache_root()) / "reading" / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def folder_stamp(folder: str, names: tuple[str, ...] = _READ_FILES) -> list[object] | None:
    """What changes when what is read from a ``.dist-info`` folder may: its mtime and the identity
    (device, inode, size, mtime) of each of ``names`` in it; None when the folder cannot be stat'ed
    (nothing is cached then)."""
    try:
        stamp: list[object] = [os.stat(folder).st_mtime_ns]
    except OSError:
        return None
    for name in names:
        try:
            st = os.stat(os.path.join(folder, name))
        except FileNotFoundError:
            continue
        except OSError:
            return None
        stamp.append([name, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns])
    return stamp


def _entry(read: tuple[Distribution, Requires], stamp: list[object]) -> dict[str, object]:
    dist, reqs = read
    return {
        "stamp": stamp,
        "dist": dist.model_dump(mode="json"),
        "applying": reqs.applying,
        "named": reqs.named,
        "bad": reqs.bad,
    }


def _from_entry(entry: dict[str, object], stamp: list[object] | None) -> tuple[Distribution, Requires] | None:
    """The reading an entry keeps, when its stamp is ``stamp``; None when it is not, or is not
    well-formed (then the folder is read again)."""
    if stamp is None or entry.get("stamp") != stamp:
        return None
    try:
        dist = Distribution.model_validate(entry["dist"])
        holding = entry["applying"]
        named, bad = entry["named"], entry["bad"]
        if not (isinstance(holding, list) and isinstance(named, list) and isinstance(bad, list)):
            return None
        pairs = [(str(text), str(name)) for text, name in holding]
        return dist, Requires(pairs, [str(n) for n in named], [str(b) for b in bad])
    except (KeyError, TypeError, ValueError):  # (pydantic's ValidationError is a ValueError)
        return None


def _load(cache: Path) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(cache.read_bytes())
    except (OSError, ValueError):
        return {}
    entries = data.get("entries") if isinstance(data, dict) and data.get("format") == _FORMAT else None
    if not isinstance(entries, dict):
        return {}
    return {k: v for k, v in entries.items() if isinstance(v, dict)}


def _store(cache: Path, entries: dict[str, dict[str, object]]) -> None:
    """Write the reading, keeping those of the :data:`_KEEP` environments used last. Private: a
    ``direct_url.json`` kept may hold a URL's credentials."""
    store_kept(cache, json.dumps({"format": _FORMAT, "entries": entries}), _KEEP)
