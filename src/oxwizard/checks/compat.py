"""Compatibility: ``pip check``, import smoke of the upgraded distributions and of every installed
distribution that depends on them (in a fresh interpreter of the target env), and Requires-Python
of each installed version against the interpreter."""

from __future__ import annotations

import importlib.metadata as md
import json
import time
from collections.abc import Sequence
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from oxwizard import proc
from oxwizard.checks.result import CheckResult
from oxwizard.environment import Environment
from oxwizard.errors import OxwizardError

_SMOKE = r"""
import importlib, json, sys
failed = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps(failed))
"""


def pip_check(env: Environment) -> CheckResult:
    started = time.monotonic()
    try:
        problems = env.pip_check()
    except OxwizardError as exc:
        return CheckResult(
            name="pip-check", status="fail", summary=str(exc), duration=time.monotonic() - started
        )
    return CheckResult(
        name="pip-check",
        status="fail" if problems else "pass",
        summary=problems[0] + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
        if problems
        else "ok",
        numbers={"problems": float(len(problems))},
        duration=time.monotonic() - started,
        details={"problems": problems},
    )


def dependents_of(env: Environment, names: Sequence[str]) -> list[str]:
    """Installed distributions that require any of ``names``."""
    wanted = {canonicalize_name(n) for n in names}
    out = []
    for dist in env.distributions.values():
        for text in dist.requires:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            if canonicalize_name(req.name) in wanted and (
                req.marker is None or "extra" not in str(req.marker)
            ):
                out.append(dist.name)
                break
    return sorted(set(out) - wanted)


def top_level_modules(env: Environment, name: str) -> list[str]:
    """Importable top-level modules a distribution provides (top_level.txt, else its RECORD)."""
    dist = env.distributions.get(canonicalize_name(name))
    if dist is None or not dist.metadata_dir:
        return []
    meta = md.PathDistribution(Path(dist.metadata_dir))
    text = meta.read_text("top_level.txt")
    if text:
        return sorted({ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("_")})
    mods = set()
    for f in meta.files or []:
        parts = f.parts
        if len(parts) == 2 and not parts[0].endswith((".dist-info", ".data")) and f.name == "__init__.py":
            mods.add(parts[0])
        elif len(parts) == 1 and f.suffix == ".py":
            mods.add(f.stem)
    return sorted(m for m in mods if m.isidentifier() and not m.startswith("_"))


def import_smoke(env: Environment, upgraded: list[str], timeout: float = 120) -> CheckResult:
    started = time.monotonic()
    dists = sorted({canonicalize_name(n) for n in upgraded if canonicalize_name(n) in env.distributions})
    dependents = dependents_of(env, dists)
    modules: dict[str, str] = {}
    for name in [*dists, *dependents]:
        for mod in top_level_modules(env, name):
            modules.setdefault(mod, name)
    if not modules:
        return CheckResult(
            name="import-smoke",
            status="skip",
            summary="no modules to import",
            duration=time.monotonic() - started,
        )
    done = proc.run([str(env.python), "-I", "-c", _SMOKE, *sorted(modules)], timeout=timeout)
    try:
        failed: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        failed = {"(interpreter)": (done.stderr.strip().splitlines() or ["crashed"])[-1]}
    lines = [f"{m} ({modules.get(m, '?')}): {err}" for m, err in sorted(failed.items())]
    summary = (
        f"{len(modules)} modules import ({len(dists)} upgraded, {len(dependents)} dependents)"
        if not failed
        else f"{len(failed)} of {len(modules)} imports fail: {lines[0]}"
    )
    return CheckResult(
        name="import-smoke",
        status="fail" if failed else "pass",
        summary=summary,
        numbers={"modules": float(len(modules)), "failed": float(len(failed))},
        duration=time.monotonic() - started,
        output=done.stderr[-5000:],
        details={"failed": lines, "modules": sorted(modules), "dependents": dependents},
    )


def requires_python(env: Environment) -> CheckResult:
    started = time.monotonic()
    bad = []
    for dist in env.distributions.values():
        if not dist.requires_python:
            continue
        try:
            ok = SpecifierSet(dist.requires_python).contains(env.version, prereleases=True)
        except InvalidSpecifier:
            continue
        if not ok:
            bad.append(f"{dist.name} {dist.version} requires Python {dist.requires_python}")
    return CheckResult(
        name="requires-python",
        status="fail" if bad else "pass",
        summary=bad[0] if bad else f"every distribution supports Python {env.version}",
        numbers={"violations": float(len(bad))},
        duration=time.monotonic() - started,
        details={"violations": bad},
    )
