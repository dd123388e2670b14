"""Benchmark: the plan's API impact vs the installer's dry run, on a real library pair from the index.

    python benchmarks/bench_api_impact.py [--package werkzeug --old 2.2.3 --new 3.0.1 --with flask==2.1.3]

Builds (once, cached in ``$OXWIZARD_BENCH_CACHE/api-impact``, default ``~/.cache/oxwizard-bench``) a
venv with ``PACKAGE==OLD`` and the dependents given with ``--with``, and a small project that imports
the package. Then times, side by side in one run, each ``--repeat`` times (median):
``pip install --dry-run --report`` of ``PACKAGE==NEW`` (exactly the plan's dry run), the API impact
with an empty cache (the wheel downloaded, unpacked, both versions read by griffe, the uses found),
and with the cache filled (what a second plan of the same version costs). The three are interleaved
(one of each per round, so a busy machine slows them alike); the medians, the ratios and the load
average before and after are printed, with what the impact found; asserts nothing. Not part of the
test suite: it needs the package index.
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

from oxwizard.checks.api_impact import api_impact
from oxwizard.core import proc
from oxwizard.env.environment import Environment
from oxwizard.env.plan import compute_plan, dry_run_argv
from oxwizard.env.specs import IndexOptions, parse_specs

CACHE = Path(os.environ.get("OXWIZARD_BENCH_CACHE", Path.home() / ".cache" / "oxwizard-bench")) / "api-impact"


def build(root: Path, specs: list[str], package: str) -> Path:
    """``root/project`` with ``.venv`` holding ``specs`` and a module importing ``package`` (once)."""
    project = root / "project"
    ready = root / "ready"
    if ready.exists() and ready.read_text() == "\n".join(specs):
        return project
    shutil.rmtree(root, ignore_errors=True)
    (project / "app").mkdir(parents=True)
    (project / "app" / "__init__.py").write_text(f"import {package}\n\nprint({package}.__name__)\n")
    subprocess.run([sys.executable, "-m", "venv", str(project / ".venv")], check=True)
    print(f"building {project / '.venv'} from the index (once): {' '.join(specs)}", file=sys.stderr)
    pip = [str(project / ".venv" / "bin" / "python"), "-m", "pip", "install", "-q", *specs]
    subprocess.run(pip, check=True)
    (root / "ready").write_text("\n".join(specs))
    return project


def interleaved(repeat: int, works: list[Callable[[], object]]) -> list[float]:
    """Each work's median time over ``repeat`` rounds, one run of each per round."""
    times: list[list[float]] = [[] for _ in works]
    for _ in range(repeat):
        for work, spent in zip(works, times, strict=True):
            started = time.perf_counter()
            work()
            spent.append(time.perf_counter() - started)
    return [statistics.median(t) for t in times]


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--package", default="werkzeug")
    parser.add_argument("--old", default="2.2.3")
    parser.add_argument("--new", default="3.0.1")
    parser.add_argument("--with", dest="extra", action="append", default=None, metavar="SPEC")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    extra = args.extra if args.extra is not None else ["flask==2.1.3"]
    specs = [f"{args.package}=={args.old}", *extra]
    project = build(CACHE / f"{args.package}-{args.old}", specs, args.package)
    env = Environment.open(project / ".venv")
    index = IndexOptions()  # pip's own configuration, as `oxwizard plan` uses it with no source flags
    reqs = parse_specs([f"{args.package}=={args.new}"])
    plan = compute_plan(env, reqs, index, suggest=False)

    def dry_run() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            argv = dry_run_argv(env, reqs, index, Path(tmp) / "report.json")
            assert proc.run(argv, env=proc.pip_environment(), timeout=600).ok

    def cold() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            api_impact(env, plan, index, project, cache=Path(tmp))

    warm_cache = Path(tempfile.mkdtemp(prefix="oxwizard-bench-api-"))
    try:
        impact = api_impact(env, plan, index, project, cache=warm_cache)
        before = load_average()
        t_dry, t_cold, t_warm = interleaved(
            args.repeat, [dry_run, cold, lambda: api_impact(env, plan, index, project, cache=warm_cache)]
        )
        after = load_average()
    finally:
        shutil.rmtree(warm_cache, ignore_errors=True)
    print(f"{args.package} {args.old} -> {args.new} with {' '.join(extra) or 'no dependents'}")
    print(f"  medians of {args.repeat} interleaved rounds; load average {before} before, {after} after")
    print(f"  pip install --dry-run --report       {t_dry:6.2f} s")
    cold = f"{t_cold / t_dry:4.2f}x the dry run (target <= 1x)"
    print(f"  API impact, empty cache (download)   {t_cold:6.2f} s   {cold}")
    print(f"  API impact, cached new version       {t_warm:6.2f} s   {t_warm / t_dry:4.2f}x the dry run")
    print(f"  found: {len(impact.changes)} changed names, {len(impact.breaking_uses)} breaking uses")
    for use in impact.breaking_uses[:5]:
        print(f"    {impact.use_line(use)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
