"""Benchmark: the staging clone made afresh right after another clone's removal, against a refresh of
the spare a retired clone leaves (safety/stage.retire_stage), on the real environment.

    python benchmarks/bench_spare.py [--name rich] [--install rich==13.9.4] [--repeat 5]

Uses a private full copy of the cached real environment of ``benchmarks/real_env.py`` (never the
cached one). Each round, interleaved: a clone is made as the flow makes it (linking all but
``--name``, by a child process), ``--install`` is installed into it without dependencies (what an
upgrade does to it), then either

* it is removed and the next clone is made from nothing (the flow before spares), or
* it is retired as a spare and the next clone refreshes that spare,

and only that next clone is timed. Prints the median and best of each and their ratio, with the
load average. On ext4 without a journal the first is slow because the inodes just freed are skipped
by the allocator for a minute or more. Needs the package index for ``--install`` (pip's cache
otherwise). Not part of the test suite; asserts nothing.
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
from pathlib import Path

from bench_overhead import _copy_env
from real_env import build

from oxwizard.env.environment import Environment
from oxwizard.safety.stage import CloneStats, create_stage, remove_stage, retire_stage, spares


def _used(stage: Environment, spec: str) -> None:
    """What an upgrade does to its clone: another version installed (not timed)."""
    env = {k: v for k, v in os.environ.items() if k != "PIP_REQUIRE_VIRTUALENV"}
    done = subprocess.run(
        [str(stage.python), "-m", "pip", "install", "-q", "--no-deps", "--", spec],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(done.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--name", default="rich", help="the distribution the upgrade changes")
    parser.add_argument("--install", default="rich==13.9.4", help="installed into each clone before it goes")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="oxwizard-bench-spare-"))
    try:
        project = _copy_env(build(), tmp / "project")
        env = Environment.open(project / ".venv")
        print(f"environment: {len(env.distributions)} distributions ({env.root})")
        print(f"load average at the start: {os.getloadavg()}")
        os.sync()
        times: dict[str, list[float]] = {"fresh after a removal": [], "refresh of a spare": []}
        for _ in range(args.repeat):
            for way in times:
                stage = create_stage(env, changing={args.name}, own_process=True)
                _used(stage, args.install)
                if way == "refresh of a spare":
                    retire_stage(stage.root, env)
                else:
                    remove_stage(stage.root)
                os.sync()  # the next clone does not wait for the writes of the one before
                stats = CloneStats()
                started = time.perf_counter()
                made = create_stage(env, changing={args.name}, stats=stats, own_process=True)
                times[way].append(time.perf_counter() - started)
                assert stats.refreshed == (way == "refresh of a spare")
                remove_stage(made.root)
                for spare in spares(env):
                    remove_stage(spare)
        print(f"load average at the end: {os.getloadavg()}")
        for way, ts in times.items():
            print(
                f"{way:<24} median {statistics.median(ts):5.2f} s  best {min(ts):5.2f} s  "
                f"(all: {' '.join(f'{t:.2f}' for t in ts)})"
            )
        fresh, kept = (statistics.median(ts) for ts in times.values())
        print(f"refresh / fresh: {kept / fresh:.2f}x (median)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
