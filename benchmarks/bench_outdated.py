"""``outdated`` and the wizard's targets table on a real environment, side by side with pip and uv.

On the environment of :mod:`real_env` (100+ real distributions, built once from the registry and
cached outside the repository), in one run:

1. ``oxwizard outdated`` with a cold index cache (an empty ``OXWIZARD_INDEX_CACHE``) and warm (the
   same cache again), ``pip list --outdated`` and ``uv pip list --outdated``: wall time of each, the
   ratios oxwizard/pip (target <= 0.1) and oxwizard/uv (target <= 3), and whether the rows (name,
   latest) are the same in all. pip and oxwizard use pip's configuration on this machine; uv reads
   none of it (it asks PyPI only), so its rows can differ where a local index offers more.
2. The wizard, headless (Textual's ``run_test``), in a fresh process: time until the targets table
   takes keys, and until the "latest" column is complete (cold cache); and, for comparison, until
   it takes keys with ``--no-index``. Target: usable <= 1.5 s, as with ``--no-index``.

Not part of the test suite: it needs the package index. Run:
``.venv/bin/python benchmarks/bench_outdated.py [--runs N]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from real_env import build

BIN = Path(sys.executable).parent

WIZARD = r"""
import asyncio, sys, time
started = time.perf_counter()
from pathlib import Path
from oxwizard.tui.app import WizardApp
from oxwizard.tui.tasks import Sources
from oxwizard.tui.widgets.targets import TargetsTable

async def main():
    sources = Sources(no_index=sys.argv[3:] == ["--no-index"])
    app = WizardApp(env_path=sys.argv[1], project=Path(sys.argv[2]), sources=sources)
    usable = complete = None
    async with app.run_test(size=(80, 24)) as pilot:
        while complete is None:
            tables = app.screen.query(TargetsTable)
            if usable is None and app.state.env is not None and tables and tables.first().row_count:
                usable = time.perf_counter() - started
                await pilot.press("down")  # it takes keys
            done, total = app.state.latest_progress
            if usable is not None and total and done == total:
                complete = time.perf_counter() - started
            if app.state.env_error:
                raise SystemExit(app.state.env_error)
            await pilot.pause(0.01)
    print(f"{usable} {complete}")

asyncio.run(main())
"""


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"{argv[0]} failed ({done.returncode}): {done.stderr[-500:]}")
    return elapsed, done.stdout


def rows_of(kind: str, out: str) -> dict[str, str]:
    from packaging.utils import canonicalize_name

    data = json.loads(out or "[]")
    key = "latest" if kind == "oxwizard" else "latest_version"
    return {str(canonicalize_name(r["name"])): str(r[key]) for r in data}


def main() -> None:
    # as users run it: with the bytecode caches (a test runner's or a CI image's PYTHONDONTWRITEBYTECODE
    # would make every oxwizard started here compile again each module changed since they were written)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each measurement (median shown)")
    args = parser.parse_args()
    project = build()
    venv = project / ".venv"
    py = str(venv / "bin" / "python")
    count = len(subprocess.run([py, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True)
                .stdout.splitlines())  # fmt: skip
    print(f"environment: {venv} ({count} distributions)")

    times: dict[str, list[float]] = {"oxwizard cold": [], "oxwizard warm": [], "pip": [], "uv": []}
    rows: dict[str, dict[str, str]] = {}
    wizard: list[tuple[float, float, float]] = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "OXWIZARD_INDEX_CACHE": cache}
            ox = [str(BIN / "oxwizard"), "outdated", "--env", str(venv), "--json"]
            for label in ("oxwizard cold", "oxwizard warm"):
                elapsed, out = timed(ox, env)
                times[label].append(elapsed)
                rows[label] = rows_of("oxwizard", out)
        elapsed, out = timed([py, "-m", "pip", "list", "--outdated", "--format=json"])
        times["pip"].append(elapsed)
        rows["pip"] = rows_of("pip", out)
        elapsed, out = timed([str(BIN / "uv"), "pip", "list", "--outdated", "--format=json", "--python", py])
        times["uv"].append(elapsed)
        rows["uv"] = rows_of("uv", out)
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "OXWIZARD_INDEX_CACHE": cache}
            _, out = timed([sys.executable, "-c", WIZARD, str(venv), str(project)], env)
            usable, complete = (float(x) for x in out.split())
            _, out = timed([sys.executable, "-c", WIZARD, str(venv), str(project), "--no-index"], env)
            wizard.append((usable, complete, float(out.split()[0])))

    median = {k: statistics.median(v) for k, v in times.items()}
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n1. outdated ({args.runs} runs, interleaved, median wall time; load average {load})")
    for label, value in median.items():
        print(f"   {label:14} {value:7.2f} s   {len(rows[label]):3} rows")
    for label in ("oxwizard cold", "oxwizard warm"):
        print(f"   {label}: {median[label] / median['pip']:.3f}x pip (target <= 0.1), "
              f"{median[label] / median['uv']:.2f}x uv (target <= 3)")  # fmt: skip
    same = rows["oxwizard cold"] == rows["oxwizard warm"] == rows["pip"]
    with_uv = "yes" if rows["pip"] == rows["uv"] else "no"
    print(f"   rows oxwizard == pip: {'yes' if same else 'NO'}; pip == uv: {with_uv}")
    for name in sorted(set().union(*rows.values())):
        seen = {k: v.get(name, "-") for k, v in rows.items()}
        if len(set(seen.values())) > 1:
            print(f"     {name}: " + ", ".join(f"{k} {v}" for k, v in seen.items()))
    usable = statistics.median(w[0] for w in wizard)
    complete = statistics.median(w[1] for w in wizard)
    offline = statistics.median(w[2] for w in wizard)
    print("\n2. wizard, fresh process, cold index cache (median)")
    print(f"   targets table usable after {usable:.2f} s (target <= 1.5; with --no-index {offline:.2f} s)")
    print(f"   latest column complete after {complete:.2f} s")


if __name__ == "__main__":
    main()
