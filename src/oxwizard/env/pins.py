"""Pins in the project's own requirement files that an upgrade would contradict.

Upgrading the environment while ``requirements.txt`` still says ``oxzep7==1.4.2`` only lasts until
the next ``pip install -r``: the plan says so before anything changes. Requirement files are read
with pip-api's ``parse_requirements`` (pip's own format: options, hashes, ``-r`` includes), the
project's ``pyproject.toml`` dependencies with ``packaging``. Reading only; nothing is rewritten.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from oxwizard.env.plan import Plan

REQUIREMENT_FILES = ("requirements*.txt", "requirements/*.txt", "constraints*.txt")
MAX_FILE = 1 << 20  # project files are untrusted input: larger ones are not read


def stale_pins(project: Path, plan: Plan) -> list[str]:
    """One line per requirement of the project that does not allow a version the plan installs."""
    targets = {canonicalize_name(c.name): c for c in plan.changes if c.to_version}
    if not targets:
        return []
    out: list[str] = []
    for where, name, spec in _project_requirements(project):
        change = targets.get(canonicalize_name(name))
        if change is None or change.to_version is None or not spec:
            continue
        if not spec.contains(change.to_version, prereleases=True):
            back = f"brings {change.from_version} back" if change.from_version else "refuses it"
            out.append(
                f"{where} pins {name}{spec}, which excludes {change.to_version}: "
                f"update it, or the next install from it {back}"
            )
    return out


def _project_requirements(project: Path) -> Iterator[tuple[str, str, SpecifierSet]]:
    for pattern in REQUIREMENT_FILES:
        for path in sorted(project.glob(pattern)):
            if path.is_file() and path.stat().st_size <= MAX_FILE:
                rel = path.relative_to(project).as_posix()
                yield from ((rel, n, s) for n, s in _requirements_txt(path))
    pyproject = project / "pyproject.toml"
    if pyproject.is_file() and pyproject.stat().st_size <= MAX_FILE:
        yield from (("pyproject.toml", n, s) for n, s in _pyproject(pyproject))


def _requirements_txt(path: Path) -> list[tuple[str, SpecifierSet]]:
    try:
        import pip_api  # runs `pip --version` once: only here, in the planning worker

        # public API, re-exported by pip_api/__init__ without __all__, hence the ignore
        parsed = pip_api.parse_requirements(path, include_invalid=True)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - an unreadable file (or no pip to read it with) is no pin
        return []
    out = []
    for req in parsed.values():
        specifier = getattr(req, "specifier", None)
        if specifier:
            out.append((str(req.name), SpecifierSet(str(specifier))))
    return out


def _pyproject(path: Path) -> list[tuple[str, SpecifierSet]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    project = data.get("project") if isinstance(data, dict) else None
    if not isinstance(project, dict):
        return []
    lines = list(project.get("dependencies") or [])
    for extra in (project.get("optional-dependencies") or {}).values():
        lines += list(extra or [])
    out = []
    for line in lines:
        try:
            req = Requirement(str(line))
        except InvalidRequirement:
            continue
        if req.specifier:
            out.append((req.name, req.specifier))
    return out
