"""The import smoke's processes: each leaf module imported in a process of its own, forked from a
process that already imported what the leaf imports anyway (``import_tree_child.py``).

A data-science environment's dependents (seaborn, statsmodels, scikit-learn, formulaic...) each
import the same stack (numpy, pandas, scipy, matplotlib) before their own code. One interpreter per
leaf imports that stack again for every one of them, in every phase. Here the stack is imported
once per phase, in a "zygote" process, and each leaf is forked from it.

What a zygote may preload for a leaf is read from the leaf's last import *alone* (every module it
left in ``sys.modules``: the baseline's, or the last run's kept in the cache folder): only modules
every leaf under it imported anyway, in the order they were imported. A leaf whose modules are not
known is forked from the bare interpreter, which is the same as a fresh one. A leaf that fails, or
whose process dies, under a zygote is imported again alone, and that verdict is the one kept: a
preload can save work, never change a verdict to a failure. A zygote whose preload raises (the
upgrade broke a shared module) gives its leaves back to be imported alone.
"""

from __future__ import annotations

import json
import math
import shutil
import signal
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oxwizard.core import proc
from oxwizard.env.environment import Environment

_SOURCE = Path(__file__).with_name("import_tree_child.py")  # its text is run, with -c
# a preload must share at least this many modules, times its leaves but one, to be worth a process
_MIN_SAVED = 40
_CANDIDATES = 24  # groups weighed at each step (each against every other: kept small)


@dataclass
class LeafReport:
    """One leaf's import: the packages on the way that imported, the first error (module, why), the
    names the project imports from them that are missing, its standard error, its seconds (under a
    zygote: without the preload's) and every module it left in ``sys.modules``."""

    leaf: str
    ok: list[str] = field(default_factory=list)
    error: tuple[str, str] | None = None
    frames: list[tuple[str, int]] = field(default_factory=list)  # the error's traceback: (file, line)
    missing: list[str] = field(default_factory=list)
    stderr: str = ""
    seconds: float = 0.0
    modules: list[str] = field(default_factory=list)
    hosted: bool = False  # forked from a zygote

    @property
    def clean(self) -> bool:
        return self.error is None and not self.missing


def plan_items(
    leaves: Sequence[str], sets: Mapping[str, Sequence[str]], took: Mapping[str, float]
) -> list[dict[str, Any]]:
    """The tree's items (without ids): zygotes for groups of leaves that share enough modules, the
    other leaves forked from the bare interpreter; the costliest first (``took``: seconds by leaf;
    a leaf not timed before counts as the costliest)."""
    return _items(list(leaves), sets, frozenset(), took, {})


def _items(
    group: list[str],
    sets: Mapping[str, Sequence[str]],
    base: frozenset[str],
    took: Mapping[str, float],
    made: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    """The items for ``group`` (leaves, and groups ``made`` at a level above: their keys), forked
    from a process that imported ``base``. A group chosen here stays a candidate of the next
    choices, as one member holding its preload: a larger group that shares part of it (numpy, under
    a preload of pandas) then holds it, so that the part is imported once."""

    def modules(node: str) -> Sequence[str]:
        return made[node]["preload"] if node in made else sets.get(node, ())

    rest = list(group)
    holders: dict[str, list[str]] = {}
    for node in rest:
        for module in modules(node):
            holders.setdefault(module, []).append(node)
    # module -> the nodes (of those left, two or more: a module only one imports is never shared)
    # that import it, beyond what this level preloads
    who = {m: frozenset(held) for m, held in holders.items() if len(held) > 1 and m not in base}
    while (best := _best_group(who)) is not None:
        members, shared = best
        first = min(members)
        preload = [m for m in modules(first) if m in shared]  # in the order it imported them
        key = f"\0{len(made)}"  # sorts before any module name
        made[key] = {"preload": preload, "items": _items(sorted(members), sets, base | shared, took, made)}
        rest = [node for node in rest if node not in members] + [key]
        who = {
            module: left
            for module, held in who.items()
            if len(left := (held - members) | ({key} if module in shared else set())) > 1
        }
    items = [item for node in rest for item in _item(node, base, made)]
    items.sort(key=lambda item: -_cost(item, took))
    return items


def _item(node: str, base: frozenset[str], made: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """A leaf's item, or a group's: its zygote preloads what ``base`` does not hold yet (its items
    alone when that is nothing)."""
    if node not in made:
        return [{"leaf": node}]
    preload = [m for m in made[node]["preload"] if m not in base]
    inner: list[dict[str, Any]] = made[node]["items"]
    return [{"preload": preload, "items": inner}] if preload else inner


def _best_group(who: Mapping[str, frozenset[str]]) -> tuple[frozenset[str], frozenset[str]] | None:
    """The group of nodes (two or more: leaves, and groups chosen before) whose shared modules save
    the most imports, with those modules (``who``: module -> the nodes that import it); None when
    no group saves enough."""
    patterns = Counter(who.values())
    # the candidates: the groups whose very own modules (imported by them and no other leaf) save
    # the most; a group also shares the modules of every larger group that holds it
    candidates = sorted(
        (members for members in patterns if len(members) >= 2),
        key=lambda members: (-patterns[members] * (len(members) - 1), sorted(members)),
    )[:_CANDIDATES]
    best: tuple[int, frozenset[str]] | None = None
    for members in candidates:
        shared = sum(n for other, n in patterns.items() if members <= other)
        saved = shared * (len(members) - 1)
        if saved >= _MIN_SAVED and (best is None or saved > best[0]):
            best = (saved, members)
    if best is None:
        return None
    members = best[1]
    return members, frozenset(m for m, held in who.items() if members <= held)


def _cost(item: dict[str, Any], took: Mapping[str, float]) -> float:
    if "leaf" in item:
        return took.get(item["leaf"], float("inf"))
    return sum(_cost(inner, took) for inner in item["items"])


def run(
    env: Environment,
    leaves: Sequence[str],
    names_of: Mapping[str, list[str]],
    *,
    sets: Mapping[str, Sequence[str]],
    took: Mapping[str, float],
    timeout: float,
    workers: int,
) -> dict[str, LeafReport]:
    """Import each leaf (see the module's docstring): a report for every leaf. ``timeout``: each
    leaf's, and each preload's, in whole seconds (at least one)."""
    timeout = float(max(1, math.ceil(timeout)))
    reports = _run_once(env, plan_items(leaves, sets, took), names_of, timeout, workers)
    again = [
        leaf for leaf in leaves if leaf not in reports or reports[leaf].hosted and not reports[leaf].clean
    ]
    if again:  # alone, this time: the verdict kept
        alone = [{"leaf": leaf} for leaf in sorted(again, key=lambda leaf: -took.get(leaf, float("inf")))]
        reports.update(_run_once(env, alone, names_of, timeout, workers))
    for leaf in leaves:
        reports.setdefault(leaf, LeafReport(leaf, error=(leaf, "interpreter exited without a report")))
    return reports


def _run_once(
    env: Environment,
    items: list[dict[str, Any]],
    names_of: Mapping[str, list[str]],
    timeout: float,
    workers: int,
) -> dict[str, LeafReport]:
    """One tree run: the reports of the leaves that ended with one (or whose process died at the
    bare interpreter's level, which is then their verdict)."""
    places: dict[int, tuple[str, bool]] = {}  # id -> (leaf, hosted)
    above: dict[int, list[int]] = {}  # a leaf's id -> its zygotes' ids, outermost first

    def number(item: dict[str, Any], zygotes: list[int]) -> dict[str, Any]:
        item = {**item, "id": len(places) + 1}
        if "leaf" in item:
            places[item["id"]] = (item["leaf"], bool(zygotes))
            above[item["id"]] = zygotes
            item["names"] = names_of.get(item["leaf"], [])
        else:
            places[item["id"]] = ("", True)
            item["items"] = [number(inner, [*zygotes, item["id"]]) for inner in item["items"]]
        return item

    root = [number(item, []) for item in items]
    out = Path(tempfile.mkdtemp(prefix="oxwizard-import-smoke-"))
    try:
        plan = {"out": str(out), "workers": workers, "timeout": timeout, "root": {"items": root}}
        done = proc.run(
            [str(env.python), "-I", "-c", _SOURCE.read_text(encoding="utf-8")],
            stdin_data=json.dumps(plan),
            timeout=timeout * (len(places) + 1),
            own_group=True,  # a module that outlives its alarm goes with the rest
        )
        reports: dict[str, LeafReport] = {}
        for ident, (leaf, hosted) in places.items():
            if not leaf:
                continue
            report = _read(out, ident, leaf, hosted, timeout)
            if report is not None:
                # what its preloads printed (a warning at import) is its too, as alone
                report.stderr = "".join(_text(out / f"{z}.err") for z in above[ident]) + report.stderr
                reports[leaf] = report
        if not reports and not done.ok:  # the tree itself did not run, or not to its end
            last = (done.stderr.strip().splitlines() or [""])[-1]
            why = f"interpreter exited {done.returncode}" + (f": {last}" if last else "")
            if done.timed_out:  # (a module that ignores its alarm: its whole group is killed)
                why = f"timed out after {timeout:g} s"
            return {leaf: LeafReport(leaf, error=(leaf, why)) for leaf, _ in places.values() if leaf}
        return reports
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _frames(data: object) -> list[tuple[str, int]]:
    """A child's traceback, ``[[file, line], ...]``, as (file, line) pairs (what is not one: left out)."""
    out: list[tuple[str, int]] = []
    for item in data if isinstance(data, list) else []:
        if (
            isinstance(item, list)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], int)
        ):
            out.append((item[0], item[1]))
    return out


def _read(out: Path, ident: int, leaf: str, hosted: bool, timeout: float) -> LeafReport | None:
    stderr = _text(out / f"{ident}.err")
    try:
        data = json.loads((out / f"{ident}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        return LeafReport(
            leaf,
            ok=[str(m) for m in data.get("ok", [])],
            error=(str(error[0]), str(error[1])) if error else None,
            frames=_frames(error[2] if error and len(error) > 2 else []),
            missing=[str(m) for m in data.get("missing", [])],
            stderr=stderr,
            seconds=float(data.get("seconds", 0.0)),
            modules=[str(m) for m in data.get("modules", [])],
            hosted=hosted,
        )
    try:
        died = json.loads((out / f"{ident}.died").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if hosted:
        return LeafReport(leaf, error=(leaf, "died under a preload"), stderr=stderr, hosted=True)
    code = int(died.get("code", -1))
    if code == -signal.SIGALRM:  # its time ran out
        why = f"timed out after {timeout:g} s"
    else:
        last = (stderr.strip().splitlines() or [""])[-1]
        why = f"interpreter exited {code}" + (f": {last}" if last else "")
    return LeafReport(leaf, error=(leaf, why), stderr=stderr)
