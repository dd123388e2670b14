"""A real environment of 100+ distributions from the package registry, built once and cached.

    python benchmarks/real_env.py [--cache DIR]      # builds (once) and prints the venv's path

Shared by the benchmarks that measure oxwizard on a real environment (outdated, plan, upgrade
overhead) side by side with pip and uv. The specs are deliberately a little old so that ``outdated``
has rows to show. The cache lives outside the repository (``~/.cache/oxwizard-bench/real-env``);
delete it to rebuild. Not part of the test suite: it needs the package index.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

CACHE = Path(os.environ.get("OXWIZARD_BENCH_CACHE", Path.home() / ".cache" / "oxwizard-bench")) / "real-env"

# numpy/pandas/scikit-learn/jupyterlab class, pinned a release or two back.
SPECS = [
    "numpy==1.26.4",
    "pandas==2.1.4",
    "scikit-learn==1.3.2",
    "scipy==1.11.4",
    "matplotlib==3.8.2",
    "jupyterlab==4.0.9",
    "requests==2.31.0",
    "flask==2.3.3",
    "rich==13.7.0",
    "pytest==7.4.4",
    "attrs==23.1.0",
    "packaging==23.2",
]


def build(cache: Path = CACHE) -> Path:
    """The project folder (``cache/project``, with ``.venv`` and an empty ``tests/``), built once."""
    project = cache / "project"
    venv = project / ".venv"
    if (cache / "ready").exists():
        return project
    shutil.rmtree(cache, ignore_errors=True)
    (project / "tests").mkdir(parents=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    print(f"building {venv} from the index (once): {len(SPECS)} specs", file=sys.stderr)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *SPECS], check=True)
    (cache / "ready").write_text("\n".join(SPECS) + "\n")
    return project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args()
    project = build(args.cache)
    py = project / ".venv" / "bin" / "python"
    out = subprocess.run([str(py), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True)
    print(f"{project / '.venv'}: {len(out.stdout.splitlines())} distributions")


if __name__ == "__main__":
    main()
