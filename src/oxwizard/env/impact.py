"""How big a version change is (major, minor, patch, ...): what ``outdated`` and the plan show.

A module of its own so that ``outdated`` does without importing the plan (its models, the project
files' reader: a tenth of a second before the first request)."""

from __future__ import annotations

from typing import Literal

from packaging.version import InvalidVersion, Version

Impact = Literal["major", "minor", "patch", "pre-release", "new", "removed", "downgrade", "none"]


def impact_of(old: str | None, new: str | None) -> Impact:
    """Impact class of a version change, from :mod:`packaging.version`."""
    if old is None:
        return "new"
    if new is None:
        return "removed"
    try:
        a, b = Version(old), Version(new)
    except InvalidVersion:
        return "major"
    if b == a:
        return "none"
    if b < a:
        return "downgrade"
    if b.is_prerelease or b.is_devrelease:
        return "pre-release"
    if b.major != a.major:
        return "major"
    if b.minor != a.minor:
        return "minor"
    return "patch"
