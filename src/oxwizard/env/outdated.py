"""Which installed distributions have newer versions, and how big each bump is.

Available versions come from the configured sources: local wheelhouses are read by file name with
:mod:`packaging.utils` (no pip call, works offline), indexes through ``pip index versions``.
"""

from __future__ import annotations

import re
import sysconfig
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

from packaging import tags
from packaging.tags import Tag
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict

from oxwizard.core import proc
from oxwizard.env.environment import Environment
from oxwizard.env.plan import Impact, impact_of
from oxwizard.env.specs import IndexOptions

Target = Literal["major", "minor", "patch"]


class Outdated(BaseModel):
    """One row of ``oxwizard outdated``."""

    model_config = ConfigDict(extra="forbid")

    name: str
    current: str
    latest_in_target: str | None
    latest: str
    impact: Impact


def available_versions(
    env: Environment, names: Iterable[str], index: IndexOptions
) -> dict[str, list[Version]]:
    """Every version offered for each name by the configured sources."""
    wanted = {canonicalize_name(n) for n in names}
    found: dict[str, set[Version]] = {n: set() for n in wanted}
    local = [Path(p) for p in index.find_links if "://" not in p]
    for folder in local:
        for name, version in _scan_wheelhouse(folder, env):
            if name in found:
                found[name].add(version)
    if not index.no_index:
        with ThreadPoolExecutor(max_workers=4) as pool:
            for name, versions in zip(
                sorted(wanted),
                pool.map(lambda n: _index_versions(env, n, index), sorted(wanted)),
                strict=True,
            ):
                found[name].update(versions)
    return {n: sorted(v) for n, v in found.items()}


def find_outdated(
    env: Environment,
    index: IndexOptions,
    target: Target = "major",
    only: list[str] | None = None,
    skip: list[str] | None = None,
) -> list[Outdated]:
    """Rows for every installed distribution with a newer version available."""
    only_set = {canonicalize_name(n) for n in only or []}
    skip_set = {canonicalize_name(n) for n in skip or []}
    dists = {
        n: d for n, d in env.distributions.items() if (not only_set or n in only_set) and n not in skip_set
    }
    versions = available_versions(env, dists, index)
    rows = []
    for name, dist in dists.items():
        try:
            current = Version(dist.version)
        except InvalidVersion:
            continue
        newer = [v for v in versions.get(name, []) if v > current]
        if not current.is_prerelease:
            newer = [v for v in newer if not v.is_prerelease]
        if not newer:
            continue
        latest = max(newer)
        in_target = [v for v in newer if _within(current, v, target)]
        best = max(in_target) if in_target else None
        rows.append(
            Outdated(
                name=name,
                current=dist.version,
                latest_in_target=str(best) if best else None,
                latest=str(latest),
                impact=impact_of(dist.version, str(best or latest)),
            )
        )
    return rows


def _within(current: Version, candidate: Version, target: Target) -> bool:
    if target == "major":
        return True
    if candidate.major != current.major:
        return False
    return target == "minor" or candidate.minor == current.minor


def _scan_wheelhouse(folder: Path, env: Environment) -> Iterable[tuple[str, Version]]:
    supported = _supported_tags(env)
    for path in folder.iterdir() if folder.is_dir() else []:
        try:
            if path.name.endswith(".whl"):
                name, version, _build, wheel_tags = parse_wheel_filename(path.name)
                if not any(t in supported for t in wheel_tags):
                    continue
            elif path.name.endswith((".tar.gz", ".zip")):
                name, version = parse_sdist_filename(path.name)
            else:
                continue
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
        yield str(name), version


def _supported_tags(env: Environment) -> set[Tag]:
    """Every wheel tag the target interpreter accepts (its version and platform, not ours)."""
    version = env.python_version_tuple
    if env.platform == sysconfig.get_platform():
        platforms = list(tags.platform_tags())
    else:
        platforms = [env.platform.replace("-", "_").replace(".", "_")]
    if env.implementation == "CPython":
        found = set(tags.cpython_tags(version, None, platforms))
        interpreter = f"cp{version[0]}{version[1]}"
    else:
        found = set(tags.generic_tags(None, None, platforms))
        interpreter = None
    return found | set(tags.compatible_tags(version, interpreter, platforms))


_VERSIONS = re.compile(r"Available versions:\s*(.+)")


def _index_versions(env: Environment, name: str, index: IndexOptions) -> list[Version]:
    argv = [*env.pip_argv(), "index", "versions", *index.pip_args(), "--", name]
    result = proc.run(argv, env=proc.pip_environment(), timeout=120)
    match = _VERSIONS.search(result.stdout) if result.ok else None
    out = []
    for text in match.group(1).split(",") if match else []:
        try:
            out.append(Version(text.strip()))
        except InvalidVersion:
            continue
    return out
