"""Compatibility: ``pip check``, import smoke (each module in a process of its own, of the target
env's interpreter, forked from one that imported nothing else or only what it imports anyway: see
:mod:`oxwizard.checks.import_tree`; the upgraded distributions' and their dependents' top-level
modules, and the modules of theirs the project imports, judged against the baseline), and
Requires-Python of each installed version against the interpreter."""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib.metadata as md
import json
import os
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from oxwizard.checks import import_tree
from oxwizard.checks.result import CheckResult
from oxwizard.core.errors import OxwizardError
from oxwizard.core.pipenv import cache_root
from oxwizard.core.places import mark_used, store_kept
from oxwizard.env.environment import Environment

if TYPE_CHECKING:
    from oxwizard.env.plan import Judged

_MODULE_SUFFIXES = {".py", ".so", ".pyd"}
_KEEP_TIMES = 64  # environments whose import times are kept
_READ: dict[tuple[object, ...], object] = {}  # see _read_once
_READ_KEPT = 4096
_T = TypeVar("_T")
_SKIP_DIRS = {"__pycache__", "build", "dist", "node_modules", "site-packages", "venv", "venvs"}


# the distributions whose change could change what ``pip check`` itself checks
_CHECKERS = frozenset({"pip", "uv"})


def pip_check(
    env: Environment,
    *,
    baseline: CheckResult | None = None,
    changed: Collection[str] = (),
    judged: Judged | None = None,
) -> CheckResult:
    """``pip check``'s verdict on ``env``.

    Without ``baseline`` (the baseline phase), a ``pip check`` child (``uv pip check`` without
    pip), and beside it the verdict read in-process from the metadata by pip check's rules
    (:func:`metadata_check`): the details' ``checked_by`` names both when the two agree. With a
    ``baseline`` whose two verdicts agreed, and ``changed`` (the upgrade's distributions) leaving
    pip and uv alone, the in-process verdict alone: since the baseline only ``changed`` was
    installed, by the installer, for this interpreter; a child costs about a second on 100+
    distributions, mostly pip's start-up. Otherwise the child, as at baseline.

    ``judged``: the project's own requirements that its files are about to say otherwise (see
    :func:`~oxwizard.env.plan.cleared_by_pins`): the problems they alone make are not the
    upgrade's; they are kept in the details (``judged_as_pinned``) and said in the summary."""
    started = time.monotonic()
    agreed = baseline is not None and set(baseline.details.get("checked_by", [])) == {"pip check", "metadata"}
    if agreed and not _CHECKERS & {canonicalize_name(n) for n in changed}:
        meta = metadata_check(env)
        return _pip_check_result(meta, started, method="metadata", judged=_judged(env, meta, judged))
    try:
        problems = env.pip_check()
    except OxwizardError as exc:
        return CheckResult(
            name="pip-check", status="fail", summary=str(exc), duration=time.monotonic() - started
        )
    meta = metadata_check(env)
    return _pip_check_result(
        problems,
        started,
        method="pip check",
        also="metadata" if sorted(meta) == sorted(problems) else None,
        judged=_judged(env, meta, judged),
    )


def _judged(env: Environment, meta: list[str], judged: Judged | None) -> list[str]:
    """Of the metadata's problems ``meta``, those that only the requirements ``judged`` otherwise
    make, in pip's words."""
    if not judged:
        return []
    from oxwizard.env.plan import cleared_problems

    return cleared_problems(env, [], meta, judged)


def pip_check_metadata(env: Environment) -> CheckResult:
    """pip check's verdict read from the metadata alone (``checked_by: ["metadata"]``)."""
    started = time.monotonic()
    return _pip_check_result(metadata_check(env), started, method="metadata")


def metadata_check(env: Environment) -> list[str]:
    """``pip check``'s problems read in-process from the installed metadata (``env.distributions``),
    by pip check's rules (:func:`~oxwizard.env.plan.predict_conflicts`: a requirement whose marker
    applies, with no extra, not installed or not satisfied, pre-releases included), in pip's words;
    a requirement that does not parse is a problem too (pip check fails on it)."""
    from oxwizard.env.plan import predict_conflicts, unparsable_requirements

    problems = predict_conflicts(env, [])
    for name, text in unparsable_requirements(env):  # parsed once, with predict_conflicts' reading
        version = env.distributions[name].version
        problems.append(f"{name} {version} has a requirement that does not parse: {text}")
    return problems


def _pip_check_result(
    problems: list[str], started: float, *, method: str, also: str | None = None, judged: Sequence[str] = ()
) -> CheckResult:
    """``checked_by``: what gave the verdict (``also``: a second way that gave the same). ``judged``:
    problems of the project's own old requirements, which its files are about to change (not counted)."""
    problems = [p for p in problems if p not in judged]
    details: dict[str, object] = {
        "problems": problems,
        "checked_by": [method] if also is None else [method, also],
    }
    if judged:
        details["judged_as_pinned"] = list(judged)
    cleared = "; the project's own requirement as its files will say it" if judged else ""
    return CheckResult(
        name="pip-check",
        status="fail" if problems else "pass",
        summary=problems[0] + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
        if problems
        else "ok" + cleared,
        numbers={"problems": float(len(problems))},
        duration=time.monotonic() - started,
        details=details,
    )


def against_baseline(result: CheckResult, baseline: CheckResult | None) -> CheckResult:
    """``pip check``'s verdict after the upgrade, its problems that were there before it (the same
    words in the baseline's) told apart: those alone are a warn (``1 problem as before the upgrade:
    …``), not the upgrade's failure; a new problem fails, named first. As the tests and the import
    smoke treat what was failing before."""
    problems = [str(p) for p in result.details.get("problems", [])]
    before = {str(p) for p in (baseline.details.get("problems", []) if baseline is not None else [])}
    old = [p for p in problems if p in before]
    if result.status != "fail" or not old:
        return result
    new = [p for p in problems if p not in before]
    details = {**result.details, "problems": new, "failing_before": old}
    if new:
        more = len(new) - 1 + len(old)
        summary = new[0] + (f" (+{more} more, {len(old)} as before the upgrade)" if more else "")
        return result.model_copy(update={"summary": summary, "details": details})
    plural = "s" if len(old) > 1 else ""
    summary = f"{len(old)} problem{plural} as before the upgrade: {old[0]}"
    return result.model_copy(update={"status": "warn", "summary": summary, "details": details})


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


def _read_once(env: Environment, name: str, read: Callable[[md.PathDistribution], _T], empty: _T) -> _T:
    """``read`` of the installed distribution's metadata (``empty`` when it has none), kept by the
    identity of the two files it may read, RECORD and top_level.txt: a staging clone's distributions
    are links to live's (the same files), so each phase after the first reads only what the upgrade
    replaced. A distribution without a RECORD is read each time."""
    dist = env.distributions.get(canonicalize_name(name))
    if dist is None or not dist.metadata_dir:
        return empty
    folder = Path(dist.metadata_dir)
    key = (read, _identity(folder / "RECORD"), _identity(folder / "top_level.txt"))
    if key[1] is None:
        return read(md.PathDistribution(folder))
    if key not in _READ:
        if len(_READ) >= _READ_KEPT:
            _READ.clear()
        _READ[key] = read(md.PathDistribution(folder))
    return cast(_T, _READ[key])


def _identity(path: Path) -> tuple[int, ...] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def top_level_modules(env: Environment, name: str) -> list[str]:
    """Importable top-level modules a distribution provides (top_level.txt, else its RECORD)."""
    empty: list[str] = []
    return list(_read_once(env, name, _top_level, empty))


def _top_level(meta: md.PathDistribution) -> list[str]:
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


def provided_modules(env: Environment, name: str) -> tuple[frozenset[str], frozenset[str]]:
    """(modules, namespaces): every module and package a distribution installs, dotted (``a``,
    ``a.b``, ``a.b.c``), read from its RECORD in the target environment (extension modules
    included), and those of them that are only namespace folders (no file of their own, such as
    ``google``): a namespace is shared, so it says nothing about who owns what is under it."""
    empty: frozenset[str] = frozenset()
    return _read_once(env, name, _provided, (empty, empty))


def _provided(meta: md.PathDistribution) -> tuple[frozenset[str], frozenset[str]]:
    real: set[str] = set()
    parents: set[str] = set()
    for f in meta.files or []:
        parts = f.parts
        if not parts or parts[0] == ".." or parts[0].endswith((".dist-info", ".data")):
            continue
        if "__pycache__" in parts or f.suffix not in _MODULE_SUFFIXES:
            continue
        stem = parts[-1].split(".", 1)[0]  # name.cpython-311-x86_64-linux-gnu.so -> name
        dotted = [*parts[:-1]] if stem == "__init__" else [*parts[:-1], stem]
        if not dotted or not all(p.isidentifier() for p in dotted):
            continue
        real.add(".".join(dotted))
        parents.update(".".join(dotted[:depth]) for depth in range(1, len(dotted)))
    namespaces = parents - real
    top = {ln.strip() for ln in (meta.read_text("top_level.txt") or "").splitlines()}
    real |= {t for t in top if t.isidentifier()} - namespaces
    return frozenset(real | parents), frozenset(namespaces)


def project_imports(project: Path, max_files: int = 5000) -> tuple[set[str], set[str]]:
    """The absolute module names the project's own ``.py`` files import, read statically (``ast``):
    (modules, candidates).

    ``import a.b.c`` gives the module ``a.b.c``; ``from a.b import c`` gives the module ``a.b`` and
    the candidate ``a.b.c`` (a module, or just a name defined in ``a.b``: the caller decides).
    Relative imports are the project's own and skipped, and so are hidden folders (``.oxwizard``,
    ``.venv``, ``.git``), virtual environments, build folders and files that do not parse.
    """
    modules: set[str] = set()
    candidates: set[str] = set()
    for path in _project_sources(project, max_files):
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (OSError, SyntaxError, ValueError, RecursionError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module)
                candidates.update(f"{node.module}.{a.name}" for a in node.names if a.name != "*")

    def dotted(name: str) -> bool:
        return all(part.isidentifier() for part in name.split("."))

    return {m for m in modules if dotted(m)}, {m for m in candidates - modules if dotted(m)}


def _project_sources(project: Path, max_files: int) -> list[Path]:
    """The project's ``.py`` files, without hidden folders, environments and build output."""
    found: list[Path] = []
    for folder, dirs, files in os.walk(project):
        here = Path(folder)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d not in _SKIP_DIRS
            and not d.endswith(".egg-info")
            and not (here / d / "pyvenv.cfg").exists()
        )
        for name in sorted(files):
            if name.endswith(".py"):
                found.append(here / name)
                if len(found) >= max_files:
                    return found
    return found


def smoke_modules(env: Environment, dists: Sequence[str], project: Path | None) -> dict[str, str]:
    """Module -> distribution: the top-level modules of ``dists``, and every module of theirs that
    the project imports (``from a.b import c``: ``a.b``, and ``a.b.c`` when it is a module, else
    the name, as ``a.b:c``: a function or class the new version no longer defines fails there)."""
    modules: dict[str, str] = {}
    for name in dists:
        for mod in top_level_modules(env, name):
            modules.setdefault(mod, name)
    if project is None:
        return modules
    imported, candidates = project_imports(project)
    if not imported:
        return modules
    provided = {name: provided_modules(env, name) for name in dists}
    for mod in sorted(imported):
        dist = _owner(mod, provided)
        if dist is not None:
            modules.setdefault(mod, dist)
    for mod in sorted(candidates):
        dist = _owner(mod, provided)
        if dist is None:
            continue
        if mod in provided[dist][0]:
            modules.setdefault(mod, dist)
        else:  # ``from a.b import c`` where c is a name defined in a.b: checked as ``a.b:c``
            parent, _, attr = mod.rpartition(".")
            if parent in modules:
                modules.setdefault(f"{parent}:{attr}", dist)
    return modules


def _owner(module: str, provided: dict[str, tuple[frozenset[str], frozenset[str]]]) -> str | None:
    """The distribution that provides ``module`` or, when it provides no longer exists, its
    nearest package (a namespace folder does not count): ``a.b.gone`` belongs to whoever owns ``a.b``."""
    parts = module.split(".")
    for depth in range(len(parts), 0, -1):
        prefix = ".".join(parts[:depth])
        for dist, (mods, namespaces) in provided.items():
            if prefix in mods and prefix not in namespaces:
                return dist
    return None


def import_smoke(
    env: Environment,
    upgraded: list[str],
    *,
    project: Path | None = None,
    baseline: CheckResult | None = None,
    at_baseline: bool = False,
    timeout: float = 60,
) -> CheckResult:
    """Import each module in a process of its own (``python -I``), in parallel; after a first
    smoke, modules that share a stack are forked from a process that imported it once.

    ``at_baseline``: before the upgrade, failures are recorded as failing before (**warn**), never
    blamed. After it, the ``baseline`` result's modules are imported again too; only a module that
    imported at the baseline, or was not tried there, and fails now counts (**fail**); one that
    failed at the baseline too is shown as "failing before too" (**warn**). Without a baseline
    result every failure counts.
    """
    started = time.monotonic()
    dists = sorted({canonicalize_name(n) for n in upgraded if canonicalize_name(n) in env.distributions})
    dependents = dependents_of(env, dists)
    modules = smoke_modules(env, [*dists, *dependents], project)
    tried_before = set(baseline.details.get("modules", [])) if baseline else set()
    failing_before = set(baseline.details.get("failing", [])) if baseline else set()
    if tried_before - set(modules):
        provided = {name: provided_modules(env, name) for name in [*dists, *dependents]}
        for mod in sorted(tried_before - set(modules)):
            # it was tried before: try it again (a name, with the module it is imported from)
            modules[mod] = _owner(mod.partition(":")[0], provided) or "?"
            if ":" in mod:
                modules.setdefault(mod.partition(":")[0], modules[mod])
    for name in [m for m in modules if ":" in m]:
        if name.replace(":", ".") in modules:  # a submodule before: tried as the module it was
            del modules[name]
    if not modules:
        return CheckResult(
            name="import-smoke",
            status="skip",
            summary="no modules to import",
            duration=time.monotonic() - started,
        )
    kept = _timed_before(env)
    took = _seconds(baseline.details.get("seconds", [])) if baseline else kept
    kept_sets = _sets_before(env)
    sets = {**kept_sets, **(baseline.import_sets if baseline else {})}
    errors, output, seconds, found, frames = _import_each(env, sorted(modules), timeout, took, sets)
    _keep_times(env, kept, seconds)
    _keep_sets(env, kept_sets, found)
    lines = {m: f"{m} ({modules[m]}): {err}" for m, err in sorted(errors.items())}
    old = [m for m in lines if at_baseline or m in failing_before]
    new = [m for m in lines if m not in old]
    blamed = [lines[m] for m in new]
    before = [lines[m] for m in old]
    counts = f"{len(dists)} upgraded, {len(dependents)} dependents"
    if blamed:
        status, summary = "fail", f"{len(blamed)} of {len(modules)} imports fail: {_first(new, lines)}"
    elif before and at_baseline:
        status = "warn"
        summary = f"{len(before)} of {len(modules)} imports fail before the upgrade: {_first(old, lines)}"
    elif before:
        status = "warn"
        summary = f"{len(modules) - len(before)} of {len(modules)} modules import ({counts})"
    else:
        status, summary = "pass", f"{len(modules)} modules import ({counts})"
    if before and not at_baseline:
        summary += f"; {len(before)} failing before too: {_first(old, lines)}"
    result = CheckResult(
        name="import-smoke",
        status=status,
        summary=summary,
        numbers={
            "modules": float(len(modules)),
            "failed": float(len(blamed)),
            "failing_before": float(len(before)),
        },
        duration=time.monotonic() - started,
        output=output[-5000:],
        details={
            "failed": blamed,
            "failing_before": before,
            "failing": sorted(errors),
            "modules": sorted(modules),
            "dependents": dependents,
            # each interpreter's time, by the module it was started for: the next phase starts
            # the longest first
            "seconds": [f"{leaf} {t:.3f}" for leaf, t in sorted(seconds.items())],
        },
    )
    result.import_sets = {**sets, **found}  # what the next phase may preload
    result.failures = {m: (errors[m], frames.get(m, [])) for m in new}  # the plan's predictions meet these
    return result


def _times_file(env: Environment) -> Path:
    """Where the last times of ``env``'s imports are kept between runs (one small file per
    environment, in oxwizard's cache folder)."""
    key = json.dumps([str(env.python), [str(p) for p in env.site_paths]])
    return Path(cache_root()) / "import-times" / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"


def _timed_before(env: Environment) -> dict[str, float]:
    """The times ``env``'s imports took when last smoked (by an earlier run): the order of a
    baseline's interpreters. Nothing when there are none or they do not read."""
    path = _times_file(env)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    mark_used(path)
    return {k: float(v) for k, v in data.items() if isinstance(k, str) and isinstance(v, int | float)}


def _keep_times(env: Environment, kept: Mapping[str, float], seconds: Mapping[str, float]) -> None:
    """Keep the times just measured for the next run, with those ``kept`` of modules not tried now."""
    if seconds:
        merged = {**kept, **{k: round(v, 3) for k, v in seconds.items()}}
        store_kept(_times_file(env), json.dumps(merged, sort_keys=True), _KEEP_TIMES)


def _sets_file(env: Environment) -> Path:
    """Where the modules each of ``env``'s smoked leaves imported are kept between runs."""
    times = _times_file(env)
    return times.parent.with_name("import-sets") / times.name


def _sets_before(env: Environment) -> dict[str, list[str]]:
    """The modules each leaf left in ``sys.modules`` when ``env`` was last smoked (by an earlier
    run): what a baseline may preload. Nothing when there are none or they do not read."""
    path = _sets_file(env)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        names, leaves = data["names"], data["leaves"]
        sets = {str(leaf): [str(names[i]) for i in at] for leaf, at in leaves.items()}
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return {}
    mark_used(path)
    return sets


def _keep_sets(env: Environment, kept: Mapping[str, list[str]], found: Mapping[str, list[str]]) -> None:
    """Keep the modules just found for the next run, with those ``kept`` of leaves not tried now
    (each name once, the leaves as indexes into the names: some hundred kilobytes at most)."""
    if not found:
        return
    merged = {**kept, **found}
    index: dict[str, int] = {}
    leaves = {leaf: [index.setdefault(m, len(index)) for m in mods] for leaf, mods in sorted(merged.items())}
    store_kept(_sets_file(env), json.dumps({"names": list(index), "leaves": leaves}), _KEEP_TIMES)


def _seconds(lines: list[str]) -> dict[str, float]:
    """``details["seconds"]`` read back (a line that does not read is left out)."""
    out: dict[str, float] = {}
    for line in lines:
        leaf, _, t = line.partition(" ")
        with contextlib.suppress(ValueError):
            out[leaf] = float(t)
    return out


def _first(names: list[str], lines: dict[str, str]) -> str:
    """The first failure in full, then the other modules by name."""
    more = f" (+{len(names) - 1} more: {', '.join(names[1:])})" if len(names) > 1 else ""
    return lines[names[0]] + more


def _import_each(
    env: Environment,
    modules: list[str],
    timeout: float,
    took: Mapping[str, float] | None = None,
    sets: Mapping[str, Sequence[str]] | None = None,
) -> tuple[dict[str, str], str, dict[str, float], dict[str, list[str]], dict[str, list[tuple[str, int]]]]:
    """Import the modules, each leaf in a process of its own, as many at once as there are cores:
    (module -> error, the children's stderr, each leaf's seconds, the modules each leaf that
    imported cleanly left in ``sys.modules``, module -> the (file, line) its error went through).

    ``took``: the seconds each leaf took before (the baseline's, or at a baseline those of the
    environment's last smoke): the longest start first, so that the last to end is not a long one
    started last (a leaf not timed before goes first, in name order; without ``took``, all go in
    name order). ``sets``: the modules each leaf imported when last imported: leaves that share
    modules are forked from a process that imported those once (:mod:`oxwizard.checks.import_tree`).

    One process per leaf (``a.b.c``; its packages ``a`` and ``a.b`` are imported on the way,
    one at a time, as ``import a.b.c`` does anyway), so a module shares its process with
    nothing but its own parent packages and modules it imports anyway. The tree runs through
    :func:`proc.run` in the caller's context, so the flow's stopper still reaches it.
    """
    wanted = set(modules)
    names = [m for m in modules if ":" in m]  # ``a.b:c``: checked in the process that imports a.b
    mods = [m for m in modules if ":" not in m]
    leaves = [m for m in mods if not any(other.startswith(m + ".") for other in mods)]

    def chain(leaf: str) -> set[str]:
        parts = leaf.split(".")
        return {".".join(parts[:depth]) for depth in range(1, len(parts) + 1)}

    names_of: dict[str, list[str]] = {leaf: [] for leaf in leaves}
    for name in names:  # each name is checked once, in the first process that imports its module
        home = next((leaf for leaf in leaves if name.partition(":")[0] in chain(leaf)), None)
        if home is not None:
            names_of[home].append(name)

    # (a name whose module does not import is not checked: the module's own failure says it all)
    reports = import_tree.run(
        env,
        leaves,
        names_of,
        sets=sets or {},
        took=took or {},
        timeout=timeout,
        workers=max(1, min(len(leaves), _cores())),
    )
    results = [reports[leaf] for leaf in leaves]
    ok: set[str] = set()
    errors: dict[str, str] = {}
    frames: dict[str, list[tuple[str, int]]] = {}  # where each error went through
    unknown: dict[str, str] = {}  # the packages on the way to a leaf whose process died
    for report in results:
        for item in report.missing:
            mod, _, attr = item.partition(":")
            errors[item] = f"ImportError: cannot import name '{attr}' from '{mod}'"
    for report in results:
        ok.update(report.ok)
        if report.error is None:
            continue
        leaf = report.leaf
        failing, why = report.error
        parts = leaf.split(".")
        for depth in range(failing.count(".") + 1, len(parts) + 1):
            name = ".".join(parts[:depth])  # the failing module and everything under it on the way
            errors.setdefault(name, why if name == failing else f"{why} (importing {failing})")
            frames.setdefault(name, report.frames)
        if not report.ok and failing == leaf:
            for depth in range(1, len(parts)):
                unknown.setdefault(".".join(parts[:depth]), f"{why} (importing {leaf})")
    for name, why in unknown.items():
        if name not in ok:
            errors.setdefault(name, why)
    output = "".join(f"== {r.leaf}\n{r.stderr}" for r in results if r.stderr.strip())
    seconds = {r.leaf: r.seconds for r in results}
    found = {r.leaf: r.modules for r in results if r.clean and r.modules}
    failed = {m: errors[m] for m in sorted(errors) if m in wanted}
    return failed, output, seconds, found, {m: frames[m] for m in failed if frames.get(m)}


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


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
