"""Benchmark: the staging clone vs building the same environment with ``python -m venv`` + ``pip install -r``.

    python benchmarks/bench_stage.py [--files 9000]

Builds a venv holding a generated distribution of ``--files`` files plus the demo packages (local
wheelhouse, no network), then times, side by side in one run: :func:`oxwizard.safety.stage.create_stage`
(a full copy, reflinks where the filesystem supports them) against ``python -m venv`` followed by
``pip install --no-deps -r`` of the live env's exact pins. Prints the ratio; asserts nothing.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_rollback import build

from oxwizard.core import proc
from oxwizard.env.environment import Environment
from oxwizard.safety.stage import create_stage


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=9000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="oxwizard-bench-stage-"))
    try:
        wheelhouse = tmp / "wheelhouse"
        build(wheelhouse, args.files)
        venv = tmp / "live"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pipenv = proc.pip_environment()
        links = ["--no-index", "--find-links", str(wheelhouse)]
        py = str(venv / "bin" / "python")
        subprocess.run([py, "-m", "pip", "install", "-q", *links, "bigpkg==1.0"], check=True, env=pipenv)
        env = Environment.open(venv)
        freeze = tmp / "freeze.txt"
        freeze.write_text(
            "\n".join(d.pin for d in env.distributions.values() if d.name not in {"pip"}) + "\n"
        )

        start = time.perf_counter()
        stage = create_stage(env, tmp / "stage")
        t_stage = time.perf_counter() - start
        same = stage.fingerprint() == env.fingerprint()

        start = time.perf_counter()
        fresh = tmp / "fresh"
        subprocess.run([sys.executable, "-m", "venv", str(fresh)], check=True)
        subprocess.run(
            [
                str(fresh / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                *links,
                "-r",
                str(freeze),
            ],
            check=True,
            env=pipenv,
        )
        t_venv = time.perf_counter() - start
        print(f"staging clone (oxwizard stage)        {t_stage:7.3f} s  same fingerprint as live: {same}")
        print(f"python -m venv + pip install -r       {t_venv:7.3f} s")
        print(f"stage is {t_venv / t_stage:5.1f}x faster")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
