"""Every figure of issue 14 in one run, on the real environment of 100+ distributions.

    python benchmarks/bench_real.py [--repeat 7] [--quick]

Runs, one after the other (never two at once: they would slow each other down), each benchmark that
measures one of the issue's targets side by side with pip and uv, shows its output as it comes, then
repeats the lines that state a target, together:

* ``bench_outdated.py``: ``outdated`` vs ``pip list --outdated`` (<= 0.1x) and ``uv pip list
  --outdated`` (<= 3x), cold and warm, same rows; the wizard's targets table usable (<= 1.5 s);
* ``bench_plan.py --uv``: ``plan`` vs pip's dry run (<= 1.1x), ``plan --installer uv`` vs the uv dry
  run it runs (<= 1.1x), for rich (a target few distributions use) and for requests (one that 7 of
  the installed distributions use: their files are searched for the names it changes);
* ``bench_overhead.py``: an upgrade's own overhead (<= 1 s), the first and the next, and the staging
  clone linked vs copied, for rich and for numpy (a patch release back, the project importing pandas);
* ``bench_api_impact.py``: the API impact's cost, cold, vs pip's dry run (<= 1x).

The environment is built once and cached outside the repository (``benchmarks/real_env.py``). Needs
the package index. Not part of the test suite; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    # as users run it: with the bytecode caches (a test runner's or a CI image's PYTHONDONTWRITEBYTECODE
    # would make every oxwizard started here compile again each module changed since they were written)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=7, help="repeats of the plan and overhead benchmarks")
    parser.add_argument("--quick", action="store_true", help="fewer repeats everywhere (a first look)")
    args = parser.parse_args()
    repeat = 3 if args.quick else args.repeat
    runs = [
        ["bench_outdated.py", "--runs", "3" if not args.quick else "1"],
        ["bench_plan.py", "--uv", "--repeat", str(repeat)],
        # a popular target: its installed dependents' files (thousands) are searched for its names
        ["bench_plan.py", "--uv", "--spec", "requests==2.32.3", "--repeat", str(repeat)],
        ["bench_overhead.py", "--repeat", str(min(repeat, 3))],
        # the issue's own example: numpy, whose dependents (pandas, scipy...) the import smoke imports
        [
            "bench_overhead.py",
            "--spec",
            "numpy==1.26.3",
            "--back",
            "numpy==1.26.4",
            "--module",
            "pandas",
            "--repeat",
            "1",
        ],  # fmt: skip
        ["bench_api_impact.py", "--repeat", str(min(repeat, 3))],
    ]
    stated: list[tuple[str, str]] = []
    for argv in runs:
        print(f"\n== {' '.join(argv)}", flush=True)
        child = subprocess.Popen(
            [sys.executable, str(HERE / argv[0]), *argv[1:]],
            stdout=subprocess.PIPE, text=True, cwd=HERE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        assert child.stdout is not None
        for line in child.stdout:
            print(line, end="", flush=True)
            if "target" in line:
                stated.append((argv[0], line.strip()))
        if child.wait() != 0:
            print(f"   ({argv[0]} failed with exit code {child.returncode})")
    load = os.getloadavg()
    print(f"\n== the issue's targets, as measured above (load average now {load[0]:.2f} {load[1]:.2f})")
    for script, line in stated:
        print(f"  {script:<20} {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
