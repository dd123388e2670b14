"""Benchmark: ``oxwizard plan`` against the installer's own dry run, on a real environment of 100+
distributions (issue 14's target: at most 1.1x).

    python benchmarks/bench_plan.py [--spec rich==13.9.4] [--repeat 7] [--uv] [--cold]

Uses a private copy of the cached real environment of ``benchmarks/real_env.py`` (the cached one is
shared and never changed). Runs, interleaved, ``repeat`` times each:

* ``oxwizard plan SPEC`` (after one plan that warms the caches: the interpreter probe, pip's
  configuration, the API-impact cache and the remembered dry-run command line);
* pip's own dry run with the same sources: ``pip install --dry-run --report - --quiet SPEC``;
* with ``--uv``: ``oxwizard plan SPEC --installer uv`` and uv's own dry run with the same sources
  and options, the very command line that plan runs (``uv pip install --dry-run --output-format json
  --upgrade-package=SPEC ... -- SPEC``, made by ``oxwizard.env.uv_plan.dry_run_line``); and, for
  reference, uv's dry run with its own defaults (``uv pip install --dry-run --python ENV SPEC``:
  pypi.org alone, none of pip's configured sources); and three floors: a ``python -c`` that starts
  that same uv line first thing and waits for it (what no front end in Python can go below: the
  interpreter's start); one that also imports pydantic's ``BaseModel`` while uv runs (what no front
  end on this project's stack can go below); and one that imports the engine's modules a plan
  imports instead (what no plan made with this engine can go below: pydantic, packaging and the
  rest);
* with ``--compare SRC``: ``oxwizard plan`` from another checkout (``PYTHONPATH=SRC``), e.g. main's;
* with ``--cold``: ``oxwizard plan`` with an empty cache folder each time (``OXWIZARD_CACHE_DIR``).

Prints the best and the median of each and their ratios, with the load average. Needs the package
index. Not part of the test suite; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench_overhead import _copy_env
from real_env import build


def _wall(argv: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")
    return took


# The floors (see the docstring): uv's line started first thing, then, in the second, the engine's
# modules a plan imports (while uv runs, as the plan does), and the wait for uv.
_FLOOR = """
import os, sys
out = os.open(os.devnull, os.O_WRONLY)
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, out, 1),
                     (os.POSIX_SPAWN_DUP2, out, 2)])
if sys.argv[1] == "pydantic":
    from pydantic import BaseModel
if sys.argv[1] == "imports":
    import argparse, oxwizard.commands.plan, oxwizard.env.plan, oxwizard.env.uv_plan
    import oxwizard.checks.api_impact
os.waitpid(pid, 0)
"""


def _uv_line(venv: Path, spec: str) -> tuple[list[str], dict[str, str]]:
    """The uv dry run ``oxwizard plan SPEC --installer uv`` runs in ``venv``, and its environment."""
    from packaging.requirements import Requirement

    from oxwizard.env.early_launch import split_line
    from oxwizard.env.environment import Environment
    from oxwizard.env.pipconfig import effective_index
    from oxwizard.env.specs import IndexOptions
    from oxwizard.env.uv_plan import dry_run_line

    env = Environment.open(venv)
    env.use_installer("uv", "--installer uv")
    return split_line(dry_run_line(env, [Requirement(spec)], effective_index(env, IndexOptions())))


def main() -> int:
    # as users run it: with the bytecode caches (a test runner's or a CI image's PYTHONDONTWRITEBYTECODE
    # would make every oxwizard started here compile again each module changed since they were written)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spec", default="rich==13.9.4")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--uv", action="store_true", help="also oxwizard plan --installer uv vs uv's dry run")
    parser.add_argument("--cold", action="store_true", help="also oxwizard plan with empty caches")
    parser.add_argument("--project", type=Path, help="an existing copy to use (not copied, not removed)")
    parser.add_argument(
        "--compare", type=Path, metavar="SRC", help="also oxwizard plan from another checkout's src folder"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="oxwizard-bench-plan-"))
    try:
        project = args.project or _copy_env(build(), tmp / "project")
        venv = project / ".venv"
        py = str(venv / "bin" / "python")
        where = ["--env", str(venv), "--project", str(project)]
        oxwizard = [sys.executable, "-m", "oxwizard", "plan", args.spec, *where]
        pip_env = {k: v for k, v in os.environ.items() if k != "PIP_REQUIRE_VIRTUALENV"}
        uv = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
        runs: dict[str, Callable[[], float]] = {
            "oxwizard plan": lambda: _wall(oxwizard),
            "pip --dry-run --report": lambda: _wall(
                [py, "-m", "pip", "install", "--dry-run", "--report", "-", "--quiet", args.spec], pip_env
            ),
        }
        if args.compare:
            other = {**os.environ, "PYTHONPATH": str(args.compare.resolve())}
            runs[f"oxwizard plan ({args.compare})"] = lambda: _wall(oxwizard, other)
        if args.uv:
            line, environ = _uv_line(venv, args.spec)
            runs["oxwizard plan --installer uv"] = lambda: _wall([*oxwizard, "--installer", "uv"])
            runs["uv pip install --dry-run"] = lambda: _wall(line, environ)
            runs["(uv, its defaults)"] = lambda: _wall(
                [uv, "pip", "install", "--dry-run", "--python", py, args.spec]
            )
            bare = [sys.executable, "-c", _FLOOR, "bare", *line]
            stack = [sys.executable, "-c", _FLOOR, "pydantic", *line]
            imports = [sys.executable, "-c", _FLOOR, "imports", *line]
            runs["(floor: Python starts uv)"] = lambda: _wall(bare, environ)
            runs["(floor: + pydantic's BaseModel)"] = lambda: _wall(stack, environ)
            runs["(floor: + the engine's imports)"] = lambda: _wall(imports, environ)
        if args.cold:

            def cold() -> float:
                cache = Path(tempfile.mkdtemp(prefix="cache-", dir=tmp))
                return _wall(oxwizard, {**os.environ, "OXWIZARD_CACHE_DIR": str(cache)})

            runs["oxwizard plan (cold caches)"] = cold
        for run in runs.values():  # warm-up: caches, the OS's file cache
            run()
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(args.repeat):
            for name, run in runs.items():
                times[name].append(run())
        load = os.getloadavg()
        print(f"{args.spec} on {venv}: best / median of {args.repeat}, interleaved; load average "
              f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
        for name, values in times.items():
            print(f"  {name:<32} {min(values):6.3f} s  {statistics.median(values):6.3f} s")
        pairs = [("oxwizard plan", "pip --dry-run --report")]
        if args.compare:
            pairs.append((f"oxwizard plan ({args.compare})", "pip --dry-run --report"))
        if args.uv:
            pairs.append(("oxwizard plan --installer uv", "uv pip install --dry-run"))
            pairs.append(("(floor: Python starts uv)", "uv pip install --dry-run"))
            pairs.append(("(floor: + pydantic's BaseModel)", "uv pip install --dry-run"))
            pairs.append(("(floor: + the engine's imports)", "uv pip install --dry-run"))
        if args.cold:
            pairs.append(("oxwizard plan (cold caches)", "pip --dry-run --report"))
        for ours, theirs in pairs:
            best = min(times[ours]) / min(times[theirs])
            median = statistics.median(times[ours]) / statistics.median(times[theirs])
            ratio = f"{best:.2f}x best, {median:.2f}x median"
            print(f"  {ours} / {theirs} ({args.spec}): {ratio} (target <= 1.1x)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
