"""Benchmark: what oxwizard adds around the installer on a real environment of 100+ distributions.

    python benchmarks/bench_overhead.py [--spec rich==13.9.4] [--back rich==13.7.0] [--repeat 3]

Uses the cached real environment of ``benchmarks/real_env.py`` (built once from the index) and a
private full copy of it (the cached one is shared and never changed), with a small project (a module
that imports the upgraded package, one test). Prints side by side, in one run:

* ``oxwizard plan SPEC`` against pip's own dry run with the same sources
  (``pip install --dry-run --report - --quiet SPEC``), best of ``--repeat`` each, interleaved;
* two whole ``oxwizard upgrade SPEC --yes``: the first of this copy (its staging clone made from
  nothing) and, after a rollback, the next (its clone the spare the first left, refreshed: what every
  later upgrade of an environment does); each phase's time from its runbook, the time oxwizard itself
  added (``seconds.overhead`` of the outcome: checkpoint, staging clone, checks other than the tests,
  runbook commits), against ``pip install SPEC`` plus the project's tests run by hand;
* last (the clones it removes would slow the upgrades down: on ext4 without a journal a folder made
  within a minute or so of a removal costs several times more), the staging clone alone: linking
  what the upgrade leaves alone (the flow's way) against a full copy of every file (what the clone
  did before, and still does without a plan), and the first clone, retired as a spare, refreshed.

Needs the package index (the first time, and for the dry runs). Not part of the test suite; asserts
nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from real_env import build

from oxwizard.env.environment import Environment
from oxwizard.safety.stage import CloneStats, create_stage, remove_stage, retire_stage, spares

MODULE = '''"""A project module that uses the upgraded package."""
import {module}


def version() -> str:
    return getattr({module}, "__version__", "?")
'''
TEST = """from app import version


def test_version() -> None:
    assert version()
"""


def _wall(argv: list[str], **kwargs: object) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    return time.perf_counter() - started, done


def _copy_env(source: Path, dest: Path) -> Path:
    """A private working copy of the cached project (its venv cloned whole, paths rewritten)."""
    shutil.copytree(source, dest, symlinks=True, ignore=shutil.ignore_patterns(".venv", ".oxwizard"))
    env = Environment.open(source / ".venv")
    create_stage(env, dest / ".venv")  # a full copy: the cached environment is never linked
    (dest / ".venv" / ".oxwizard-stage").unlink()
    return dest


def _upgrade(oxwizard: list[str], spec: str, where: list[str], project: Path, label: str) -> float:
    """One ``oxwizard upgrade SPEC --yes``: its phases from the runbook; its ``seconds.overhead``."""
    total, done = _wall([*oxwizard, "upgrade", spec, *where, "--yes"])
    assert done.returncode == 0, done.stdout + done.stderr
    runbooks = sorted((project / ".oxwizard" / "runbooks").glob("*.json"))
    runbook = json.loads(runbooks[-1].read_text(encoding="utf-8"))
    print(f"oxwizard upgrade {spec} --yes, {label}: {total:.2f} s (whole process)")
    for d in runbook["decisions"]:
        ev = d.get("evidence") or {}
        if ev.get("duration") is not None and d["step"] != "outcome":
            print(f"  {d['step']:<16} {ev['duration']:6.2f} s  {d['answer'][:70]}")
    for phase in ("baseline", "checks-staging", "checks-live"):
        path = project / ".oxwizard" / "evidence" / runbook["id"] / f"{phase}.json"
        results = json.loads(path.read_text(encoding="utf-8"))["checkset"]["results"]
        by = next((r["details"].get("checked_by") for r in results if r["name"] == "pip-check"), None)
        print(
            f"    {phase:<14} "
            + ", ".join(f"{r['name']} {r['duration']:.2f}" for r in results if r["duration"])
            + f"  (pip-check by {' + '.join(by or ['?'])})"
        )
    counts = runbook["decisions"][-1]["evidence"]["counts"]
    print("  " + ", ".join(f"{k.removeprefix('seconds.')} {v:.2f} s" for k, v in counts.items()))
    return float(counts["seconds.overhead"])


def main() -> int:
    # as users run it: with the bytecode caches (a test runner's or a CI image's PYTHONDONTWRITEBYTECODE
    # would make every oxwizard started here compile again each module changed since they were written)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spec", default="rich==13.9.4", help="the upgrade to measure")
    parser.add_argument("--back", default="rich==13.7.0", help="the version the environment has")
    parser.add_argument("--module", default="rich", help="what the project's module imports")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cached = build()
    tmp = Path(tempfile.mkdtemp(prefix="oxwizard-bench-overhead-"))
    oxwizard = [sys.executable, "-m", "oxwizard"]
    try:
        project = _copy_env(cached, tmp / "project")
        os.sync()  # the copy just written is not the measurements' to wait for
        (project / "app").mkdir(exist_ok=True)
        (project / "app" / "__init__.py").write_text(MODULE.format(module=args.module), encoding="utf-8")
        (project / "tests" / "test_app.py").write_text(TEST, encoding="utf-8")
        venv = project / ".venv"
        py = str(venv / "bin" / "python")
        where = ["--env", str(venv), "--project", str(project)]
        pip_env = {k: v for k, v in os.environ.items() if k != "PIP_REQUIRE_VIRTUALENV"}
        env = Environment.open(venv)
        print(f"environment: {len(env.distributions)} distributions ({venv})")

        # -- plan vs pip's dry run -------------------------------------------------------------
        _wall([*oxwizard, "plan", args.spec, *where])  # warms the caches (probe, pip's configuration)
        plan_times, dry_times = [], []
        for _ in range(args.repeat):
            t, done = _wall([*oxwizard, "plan", args.spec, *where])
            assert done.returncode == 0, done.stderr
            plan_times.append(t)
            t, done = _wall(
                [py, "-m", "pip", "install", "--dry-run", "--report", "-", "--quiet", args.spec], env=pip_env
            )
            assert done.returncode == 0, done.stderr
            dry_times.append(t)
        plan_t, dry_t = min(plan_times), min(dry_times)
        print(
            f"plan {args.spec:<22}   oxwizard plan {plan_t:6.2f} s   pip --dry-run --report {dry_t:6.2f} s"
            f"   ratio {plan_t / dry_t:4.2f}x"
        )

        # -- whole upgrades vs pip install + tests -------------------------------------------------
        # The first upgrade of this copy clones it from nothing; after a rollback, the next one
        # refreshes the spare the first left (what every later upgrade of an environment does).
        overheads = []
        labels = (
            "the first upgrade (its clone made from nothing)",
            "the next upgrade, after a rollback (its clone the first's spare, refreshed)",
        )
        for label in labels:
            os.sync()  # nothing left to write back from the part before
            overheads.append(_upgrade(oxwizard, args.spec, where, project, label))
            if len(overheads) == 1:
                _, done = _wall([*oxwizard, "rollback", *where])
                assert done.returncode == 0, done.stdout + done.stderr

        _wall([py, "-m", "pip", "install", "-q", args.back], env=pip_env)  # back, then by hand:
        pip_t, done = _wall([py, "-m", "pip", "install", "-q", args.spec], env=pip_env)
        assert done.returncode == 0, done.stderr
        test_t, done = _wall([py, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=project)
        print(f"by hand: pip install {pip_t:.2f} s + tests {test_t:.2f} s = {pip_t + test_t:.2f} s")

        # -- the staging clone alone (last: the clones it removes would slow the upgrades' down) ---
        name = args.spec.split("=")[0].split("<")[0].split(">")[0].strip().lower()
        stats = CloneStats()
        for spare in spares(env):  # the upgrades' spares: the first clone here is made from nothing
            shutil.rmtree(spare)
        os.sync()  # each part starts with nothing left to write back from the part before
        started = time.perf_counter()
        stage = create_stage(env, tmp / "stage-linked", changing={name}, stats=stats)
        linked_t = time.perf_counter() - started
        retire_stage(stage.root, env)  # kept as a spare, as the flow does: the next clone refreshes it
        started = time.perf_counter()
        stage = create_stage(env, tmp / "stage-linked", changing={name})
        refresh_t = time.perf_counter() - started
        started = time.perf_counter()
        remove_stage(stage.root)
        linked_rm = time.perf_counter() - started
        os.sync()
        started = time.perf_counter()
        stage = create_stage(env, tmp / "stage-copied")
        copied_t = time.perf_counter() - started
        started = time.perf_counter()
        remove_stage(stage.root)
        copied_rm = time.perf_counter() - started
        print(
            f"staging clone, links + copies of {name} ({stats.linked} linked, {stats.copied} copied), made "
            f"from nothing just after other clones' removal {linked_t:6.2f} s (removal {linked_rm:.2f} s)"
        )
        print(f"staging clone, full copy (before)  {copied_t:6.2f} s (removal {copied_rm:.2f} s)")
        print(f"staging clone, the spare of the first refreshed  {refresh_t:6.2f} s")

        print(
            f"oxwizard's own overhead ({args.spec}): {overheads[0]:.2f} s in the first upgrade, "
            f"{overheads[1]:.2f} s in the next (target <= 1 s); "
            f"the plan: {plan_t / dry_t:.2f}x pip's dry run (target <= 1.1x)"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
