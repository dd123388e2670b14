"""A plan for an environment uv installs into, resolved by uv itself.

uv's dry run (``uv pip install --dry-run --output-format json``) is the resolution: the same
resolver, sources and index strategy that then install the plan's pins. Its answer names what it
would install and remove, by name and version only. The rest of what a plan shows of each new
version — its requirements (for pip check's predicted verdict), Requires-Python, whether it is
yanked, its file's URL and sha256 (the pins an upgrade installs with hashes, the wheel the API
impact reads) — comes from the sources, read the way uv reads them:

- the project's page on every source, through :mod:`oxwizard.env.index` (its HTTP cache: within
  the index's ``max-age`` no request at all);
- that version's best file for the environment: the wheel whose tag the interpreter prefers, an
  sdist when no wheel fits; a file in several sources is taken from the one uv asks first (the extra
  indexes, then the index, then ``--find-links``);
- its core metadata: served beside it (PEP 658, kept in the cache by its sha256), or read from the
  wheel itself when that is a local file.

What cannot be had so (an sdist only, an index that serves no metadata files, a source that fails)
is asked of pip's report for exactly those versions (``--no-deps``), so a plan never lacks a
requirement list, and the changes stay uv's. What pip's report says of a wheel is kept in the same
cache under the wheel's sha256: the next plan that picks that very wheel needs no pip.

The result has the shape of pip's ``--report`` (``install`` items with ``metadata``,
``download_info``, ``requested``, ``is_yanked``), read by :mod:`oxwizard.env.plan` as pip's is.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import tempfile
import threading
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urlsplit

from packaging.metadata import parse_email
from packaging.requirements import Requirement
from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from oxwizard.core import proc
from oxwizard.core.errors import InstallerError
from oxwizard.core.redact import redact_text
from oxwizard.env.dry_run import read_report
from oxwizard.env.early_launch import UPGRADE_OPTION
from oxwizard.env.environment import Environment, find_uv
from oxwizard.env.index import IndexFile, IndexReader, SourceFailed, cache_dir, shown_version, store_bytes
from oxwizard.env.outdated import wheel_tags
from oxwizard.env.specs import IndexOptions, spec_text

Item = dict[str, object]  # one ``install`` item of pip's report
T = TypeVar("T")
THREADS = 8  # requests at once, as the index reader's


def dry_run_line(env: Environment, requirements: list[Requirement], index: IndexOptions) -> list[str]:
    """uv's dry run for ``requirements`` against ``env``, installing nothing: what its environment
    adds (``NAME=VALUE``, as :func:`oxwizard.env.early_launch.split_line` reads them), then the
    command line.

    pip's ``--upgrade --upgrade-strategy only-if-needed`` is uv's ``--upgrade-package`` for each
    target: the targets move to the newest version they allow, anything else only when it must."""
    uv = find_uv()
    if uv is None:
        raise InstallerError("uv is not installed: install it, or plan with --installer pip")
    added = [f"{k}={v}" for k, v in sorted(index.uv_environ().items())]
    pre = ["--prerelease", "allow"] if index.pre else []
    constraints = [a for path in index.constraints for a in ("--constraint", path)]
    return [
        *added,
        uv,
        "pip",
        "install",
        "--python",
        str(env.python),
        *env.install_overrides(),
        "--dry-run",
        "--output-format",
        "json",
        *index.uv_args(),
        *constraints,
        *pre,
        *[UPGRADE_OPTION + spec_text(r) for r in requirements],
        "--",
        *[spec_text(r) for r in requirements],
    ]


def too_old(stderr: str) -> bool:
    """Whether uv refused the dry run for not knowing ``--output-format`` (a uv from before its JSON
    answer): the plan is then pip's."""
    return "--output-format" in stderr and ("unexpected argument" in stderr or "unrecognized" in stderr)


def resolution_message(stderr: str) -> str:
    """uv's explanation of a failed resolution, on one line: its ``error:`` and ``cause:`` paragraphs
    (each may go on over indented lines), without the generic "No solution found" heading."""
    said: list[str] = []
    keep = False
    for line in (ln.strip() for ln in stderr.splitlines()):
        head, colon, rest = line.partition(":")
        if colon and head in ("error", "cause", "hint", "warning"):
            keep = head in ("error", "cause")
            if keep:
                said.append(rest.strip())
        elif keep and line and said:
            said[-1] += " " + line
    text = "; ".join(s for s in said if s and not s.startswith("No solution found"))
    if not text:
        lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
        text = said[0] if said and said[0] else (lines[-1] if lines else "uv failed")
    return "cannot resolve: " + redact_text(text)


def report(
    env: Environment,
    requirements: list[Requirement],
    index: IndexOptions,
    stdout: str,
    releases: Releases,
) -> Item:
    """pip's ``--report`` shape for uv's answer ``stdout`` (see the module's docstring);
    ``releases``: the reading of the sources started while uv ran (closed here)."""
    try:
        try:
            data = json.loads(stdout)
            installed = [
                (canonicalize_name(str(c["name"])), str(c["version"]))
                for c in data["changes"]
                if isinstance(c, dict) and c.get("action") == "installed"
            ]
        except (ValueError, KeyError, TypeError):
            raise InstallerError("uv wrote no readable answer to --output-format json") from None
        found = releases.items(installed)
    finally:
        releases.close()
    missing = [(n, v) for n, v in installed if found.get(n) is None]
    if missing:
        found.update(_from_pip(env, index, missing))
    targets = {canonicalize_name(r.name) for r in requirements}
    items = []
    for name, version in installed:
        item = found.get(name)
        if item is None:
            raise InstallerError(f"no metadata found for {name} {version} (uv would install it)")
        items.append({**item, "requested": name in targets})
    return {"install": items}


class Releases:
    """The sources read for the versions uv picks: each project's files read once, in threads, so
    that the targets' pages can be read while uv's dry run runs (:meth:`prefetch`).

    The threads are daemons (at most :data:`THREADS` at work), as the index reader's: a plan that
    ends (uv refused the targets, Ctrl-C) never waits for a slow source at exit."""

    def __init__(self, env: Environment, index: IndexOptions) -> None:
        self.index = index
        self.reader = IndexReader(index)
        self._slots = threading.BoundedSemaphore(THREADS)
        self._rank = self._start(lambda: {tag: i for i, tag in enumerate(wheel_tags(env))})
        self._files: dict[str, Future[list[list[IndexFile]]]] = {}
        self._lock = threading.Lock()

    def _start(self, work: Callable[[], T], slot: bool = True) -> Future[T]:
        """``work()`` in a daemon thread, once a slot is free (``slot``: work that waits for other
        work takes none, or it could hold every slot while what it waits for waits for one); its
        outcome in the future returned."""
        future: Future[T] = Future()

        def run() -> None:
            with self._slots if slot else contextlib.nullcontext():
                if not future.set_running_or_notify_cancel():
                    return
                try:
                    future.set_result(work())
                except BaseException as exc:  # noqa: BLE001 - handed to whoever waits for it
                    future.set_exception(exc)

        threading.Thread(target=run, daemon=True, name="oxwizard-release").start()
        return future

    def prefetch(self, names: list[str]) -> None:
        """Start reading these projects' files (a failure is met again when they are needed)."""
        for name in names:
            self._project(canonicalize_name(name))

    def _project(self, name: str) -> Future[list[list[IndexFile]]]:
        with self._lock:
            found = self._files.get(name)
            if found is None:
                found = self._files[name] = self._start(lambda: self.reader.project_files(name))
            return found

    def items(self, wanted: Sequence[tuple[str, str]]) -> dict[str, Item | None]:
        """Each (name, version)'s install item read from the sources (None: not to be had there)."""
        for name, _ in wanted:
            self._project(name)
        found = [
            self._start(functools.partial(self._item, name, version), slot=False) for name, version in wanted
        ]
        return {name: item.result() for (name, _), item in zip(wanted, found, strict=True)}

    def _item(self, name: str, version: str) -> Item | None:
        try:
            per_source = self._project(name).result()
            chosen = best_file(
                per_source, _uv_order(self.reader), name, Version(version), self._rank.result()
            )
            if chosen is None:
                return None
            with self._slots:
                meta = _metadata(self.reader, self.index, chosen)
        except Exception:  # noqa: BLE001 - a source that fails or answers oddly: pip describes it
            return None
        if meta is None:
            return None
        requires_dist, requires_python = meta
        archive = {"hashes": {"sha256": chosen.sha256}} if chosen.sha256 else {}
        return {
            "metadata": {
                "name": name,
                "version": version,
                "requires_dist": requires_dist,
                "requires_python": chosen.requires_python or requires_python,
            },
            "download_info": {"url": chosen.url, "archive_info": archive},
            "is_yanked": chosen.yanked,
        }

    def close(self) -> None:
        """Stop: nothing more is started (requests under way end in their daemon threads)."""
        with self._lock:
            for future in self._files.values():
                future.cancel()
        self.reader.close()


def _uv_order(reader: IndexReader) -> list[int]:
    """The order uv asks the sources in, as positions in ``reader.sources`` (the index first there):
    the extra indexes, then the index, then ``--find-links``."""
    kinds = [s.kind for s in reader.sources]
    indexes = [i for i, k in enumerate(kinds) if k in ("index", "local-index")]
    others = [i for i, k in enumerate(kinds) if k not in ("index", "local-index")]
    # IndexReader lists the index (when there is one) before the extra indexes
    if indexes and not reader.index.no_index:
        indexes = indexes[1:] + indexes[:1]
    return indexes + others


def best_file(
    per_source: list[list[IndexFile]], order: list[int], name: str, version: Version, rank: dict[Tag, int]
) -> IndexFile | None:
    """The file of ``name`` ``version`` uv installs: a file not yanked before one yanked, the wheel
    whose tag the interpreter prefers (``rank``), else an sdist; a tie goes to the source asked first."""
    best: tuple[tuple[bool, int, int], IndexFile] | None = None
    key = canonicalize_name(name)
    same: dict[str, bool] = {}  # per version as a file name writes it: is it ``version``?
    for position, at in enumerate(order):
        for f in per_source[at] if at < len(per_source) else []:
            if not _of_version(f.filename, version, same):
                continue
            score = _score(f.filename, key, version, rank)
            if score is None:
                continue
            candidate = ((f.yanked, score, position), f)
            if best is None or candidate[0] < best[0]:
                best = candidate
    return best[1] if best is not None else None


def _of_version(filename: str, version: Version, same: dict[str, bool]) -> bool:
    """Whether a file may be of ``version`` by the version its name shows (each distinct one parsed
    once); :func:`_score` then parses the name whole."""
    shown = shown_version(filename)
    if shown is None:
        return False
    ok = same.get(shown)
    if ok is None:
        try:
            ok = same[shown] = Version(shown) == version
        except InvalidVersion:
            ok = same[shown] = False
    return ok


def _score(filename: str, name: str, version: Version, rank: dict[Tag, int]) -> int | None:
    """A file's preference (lower first) when it is ``name`` ``version`` and fits, else None."""
    try:
        if filename.endswith(".whl"):
            found, v, _, tags = parse_wheel_filename(filename)
            if found != name or v != version:
                return None
            fits = [rank[t] for t in tags if t in rank]
            return min(fits) if fits else None
        if filename.endswith((".tar.gz", ".zip")):
            found, v = parse_sdist_filename(filename)
            if found != name or v != version:
                return None
            return len(rank) + (0 if filename.endswith(".tar.gz") else 1)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return None


def _metadata(reader: IndexReader, index: IndexOptions, f: IndexFile) -> tuple[list[str], str | None] | None:
    """(Requires-Dist, Requires-Python) of ``f``: its PEP 658 metadata file, or the METADATA of a
    local wheel; None when neither is at hand."""
    parts = urlsplit(f.url)
    if parts.scheme == "file":
        if not f.filename.endswith(".whl"):
            return None
        return _parse(_wheel_metadata(Path(unquote(parts.path))))
    if parts.scheme not in ("http", "https"):
        return None
    if f.metadata is None:  # no metadata file: what pip's report told of this very wheel, if it did
        if not (f.sha256 and f.filename.endswith(".whl")):
            return None
        try:
            return _parse(_cache_path(f.sha256).read_bytes())
        except OSError:
            return None
    key = f.metadata or f.sha256
    cached = _cache_path(key) if key else None
    if cached is not None:
        try:
            data = cached.read_bytes()
        except OSError:
            pass
        else:
            if not f.metadata or hashlib.sha256(data).hexdigest() == f.metadata:
                return _parse(data)
    fetched = _fetch(reader, index, f.url + ".metadata")
    if fetched is None or (f.metadata and hashlib.sha256(fetched).hexdigest() != f.metadata):
        return None
    if cached is not None:
        store_bytes(cached, fetched)
    return _parse(fetched)


def _cache_path(key: str) -> Path:
    """Where a metadata file is kept: by its own sha256, else by its wheel's (files never change)."""
    return cache_dir() / "metadata" / key[:2] / f"{key}.metadata"


def _fetch(reader: IndexReader, index: IndexOptions, url: str) -> bytes | None:
    """``url``'s body (None: not 200), with the credentials the wheel fetch sends for it."""
    from oxwizard.env.wheel_fetch import get

    try:
        status, body = get(reader.client(), index, url)
    except (SourceFailed, OSError):
        return None
    return body if status == 200 else None


def _wheel_metadata(path: Path) -> bytes | None:
    """The METADATA inside a wheel on disk (its one top-level ``*.dist-info/METADATA``)."""
    try:
        with zipfile.ZipFile(path) as wheel:
            names = [n for n in wheel.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")]
            return wheel.read(names[0]) if len(names) == 1 else None
    except (OSError, zipfile.BadZipFile, KeyError):
        return None


def _parse(data: bytes | None) -> tuple[list[str], str | None] | None:
    if data is None:
        return None
    raw, _ = parse_email(data)
    return list(raw.get("requires_dist") or []), raw.get("requires_python")


def _from_pip(
    env: Environment, index: IndexOptions, wanted: Sequence[tuple[str, str]]
) -> dict[str, Item | None]:
    """The install items of exactly these versions from pip's report (``--no-deps``): for what the
    sources alone do not describe (an sdist's requirements need a build, which pip does)."""
    with tempfile.TemporaryDirectory(prefix="oxwizard-plan-") as tmp:
        path = Path(tmp) / "report.json"
        argv = [
            *env.pip_argv(),
            "install",
            *env.install_overrides(),
            "--dry-run",
            "--ignore-installed",
            "--no-deps",
            "--report",
            str(path),
            *index.pip_args(),
            "--",
            *[f"{n}=={v}" for n, v in wanted],
        ]
        done = proc.run(argv, env=proc.pip_environment(), timeout=600)
        if not done.ok:
            why = redact_text((done.stderr.strip().splitlines() or ["pip failed"])[-1])
            raise InstallerError(f"pip could not describe {', '.join(f'{n} {v}' for n, v in wanted)}: {why}")
        items = read_report(path).get("install")
    out: dict[str, Item | None] = {}
    for item in items if isinstance(items, list) else []:
        meta = item.get("metadata") if isinstance(item, dict) else None
        if isinstance(meta, dict):
            out[canonicalize_name(str(meta.get("name", "")))] = item
            _keep_described(item, meta)
    return out


def _keep_described(item: dict[str, object], meta: dict[str, object]) -> None:
    """Keep what pip's report says of a wheel's requirements in the metadata cache, under that
    wheel's sha256: the next plan needs no pip for it (a wheel's metadata never changes; an sdist's
    is built, and may depend on where, so it is not kept)."""
    info = item.get("download_info")
    url = info.get("url") if isinstance(info, dict) else None
    archive = info.get("archive_info") if isinstance(info, dict) else None
    hashes = archive.get("hashes") if isinstance(archive, dict) else None
    sha256 = hashes.get("sha256") if isinstance(hashes, dict) else None
    if not (isinstance(url, str) and urlsplit(url).path.endswith(".whl") and isinstance(sha256, str)):
        return
    requires = meta.get("requires_dist")
    lines = ["Metadata-Version: 2.1", f"Name: {meta.get('name')}", f"Version: {meta.get('version')}"]
    if isinstance(meta.get("requires_python"), str):
        lines.append(f"Requires-Python: {meta['requires_python']}")
    for r in requires if isinstance(requires, list) else []:
        lines.append(f"Requires-Dist: {r}")
    store_bytes(_cache_path(sha256), ("\n".join(lines) + "\n").encode())
