"""Which installed distributions have newer versions, and how big each bump is.

Available versions come straight from the configured sources, in this process (:mod:`oxwizard.env.index`:
the simple repository API of each index, concurrently and cached; ``find-links`` folders read by
file name): the same candidates ``pip list --outdated`` considers — wheels this interpreter can
install, sdists, yanked files skipped, Requires-Python honoured, pre-releases only when asked.
"""

from __future__ import annotations

import sysconfig
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

from packaging import tags
from packaging.tags import Tag
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict

from oxwizard.env.environment import Environment
from oxwizard.env.impact import Impact, impact_of
from oxwizard.env.index import UNREACHABLE, Answer, Candidates, IndexReader, read_versions
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


class Unanswered(BaseModel):
    """A distribution whose newest version is unknown: a source that could offer it did not answer."""

    model_config = ConfigDict(extra="forbid")

    name: str
    current: str
    error: str  # which source failed and why, its URL redacted


@dataclass
class OutdatedReport:
    rows: list[Outdated] = field(default_factory=list)
    unanswered: list[Unanswered] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # one line per source that failed


def candidates_for(env: Environment, pre: bool = False) -> Candidates:
    """The files that count for ``env``: its wheel tags and Python version (pre-releases if asked)."""
    return Candidates(set(wheel_tags(env)), env.version, pre)


def available_versions(
    env: Environment, names: Iterable[str], index: IndexOptions
) -> dict[str, list[Version]]:
    """Every version (pre-releases too) the configured sources offer ``env`` for each name."""
    answers, _errors = read_versions(index, names, candidates_for(env, pre=True))
    return {n: a.versions or [] for n, a in answers.items()}


def find_outdated(
    env: Environment,
    index: IndexOptions,
    target: Target = "major",
    only: list[str] | None = None,
    skip: list[str] | None = None,
) -> list[Outdated]:
    """Rows for every installed distribution with a newer version available."""
    return outdated_report(env, index, target, only, skip).rows


def outdated_report(
    env: Environment,
    index: IndexOptions,
    target: Target = "major",
    only: list[str] | None = None,
    skip: list[str] | None = None,
    *,
    pre: bool | None = None,
    on_answer: Callable[[Answer], None] | None = None,
    reader: IndexReader | None = None,
) -> OutdatedReport:
    """The outdated rows, the distributions no source answered for, and the sources that failed.

    ``pre``: consider pre-releases (default: ``index.pre``, pip's ``--pre``). ``on_answer`` is called
    (from this thread) as each distribution's answer arrives. ``reader``: one made for ``index``
    earlier (and warmed: :meth:`IndexReader.warm`), else one is made here."""
    from packaging.utils import canonicalize_name

    only_set = {canonicalize_name(n) for n in only or []}
    skip_set = {canonicalize_name(n) for n in skip or []}
    dists = {
        n: d for n, d in env.distributions.items() if (not only_set or n in only_set) and n not in skip_set
    }
    wanted = index.pre if pre is None else pre
    floors = {n: d.version for n, d in dists.items()}  # only newer versions make a row
    answers, errors = read_versions(index, dists, candidates_for(env, wanted), on_answer, floors, reader)
    report = OutdatedReport(errors=errors)
    for name, dist in sorted(dists.items()):
        answer = answers.get(name)
        if answer is None or answer.versions is None:
            why = answer.error if answer is not None else "no answer"
            report.unanswered.append(
                Unanswered(name=name, current=dist.version, error=f"{UNREACHABLE}: {why}")
            )
            continue
        row = outdated_row(name, dist.version, answer.versions, target)
        if row is not None:
            report.rows.append(row)
    return report


def outdated_row(name: str, installed: str, versions: Iterable[Version], target: Target) -> Outdated | None:
    """The row of ``name`` when a newer version than ``installed`` is among ``versions``."""
    try:
        current = Version(installed)
    except InvalidVersion:
        return None
    newer = [v for v in versions if v > current]
    if not newer:
        return None
    latest = max(newer)
    in_target = [v for v in newer if _within(current, v, target)]
    best = max(in_target) if in_target else None
    return Outdated(
        name=name,
        current=installed,
        latest_in_target=str(best) if best else None,
        latest=str(latest),
        impact=impact_of(installed, str(best or latest)),
    )


def _within(current: Version, candidate: Version, target: Target) -> bool:
    if target == "major":
        return True
    if candidate.major != current.major:
        return False
    return target == "minor" or candidate.minor == current.minor


def wheel_tags(env: Environment) -> list[Tag]:
    """Every wheel tag the target interpreter accepts, the one it prefers first (as packaging orders
    them for the running interpreter), for its version and platform, not ours."""
    version = env.python_version_tuple
    if env.platform == sysconfig.get_platform():
        platforms = list(tags.platform_tags())
    else:
        platforms = [env.platform.replace("-", "_").replace(".", "_")]
    if env.implementation == "CPython":
        found = list(tags.cpython_tags(version, None, platforms))
        interpreter = f"cp{version[0]}{version[1]}"
    else:
        found = list(tags.generic_tags(None, None, platforms))
        interpreter = None
    return list(dict.fromkeys([*found, *tags.compatible_tags(version, interpreter, platforms)]))
