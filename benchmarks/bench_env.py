"""Benchmark: reading an environment with oxwizard vs ``pip list`` vs ``uv pip list``.

    python benchmarks/bench_env.py [--runs 15] [--size 60]

Builds a throw-away virtual environment (made without pip, like ``uv venv``) holding ``--size``
tiny distributions installed from a local wheelhouse, then times, side by side in one run, the
median of ``--runs`` runs of:

- ``oxwizard open``: :meth:`Environment.open` (interpreter probe, cached per interpreter) plus
  reading every distribution's metadata, in-process, as every oxwizard command does;
- ``oxwizard open, cold``: the same with the probe cache cleared first (the probe is one run of the
  target interpreter);
- ``oxwizard read only``: :func:`read_distributions` alone (the list reading without the probe);
- ``pip list --format=json`` (pip from outside with ``--python``) and ``uv pip list
  --format=json`` (when ``uv`` is on PATH or beside this interpreter), as subprocesses.

It prints both ratios against the issue's targets: at least 10x faster than ``pip list`` and within
2x of ``uv pip list``. No wall-clock threshold is asserted anywhere; this is a report.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from oxwizard.core import proc
from oxwizard.env.environment import Environment, clear_probe_cache, read_distributions


def tiny_wheel(folder: Path, name: str, version: str, requires: list[str]) -> Path:
    dist = f"{name.replace('-', '_')}-{version}"
    files = {
        f"{name.replace('-', '_')}/__init__.py": f"__version__ = {version!r}\n",
        f"{dist}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        + "".join(f"Requires-Dist: {r}\n" for r in requires),
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{dist}.dist-info/RECORD"] = "\n".join([*record, f"{dist}.dist-info/RECORD,,"]) + "\n"
    out = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(out, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return out


def build_env(root: Path, size: int) -> Path:
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    house = root / "wheels"
    house.mkdir()
    names = [f"benchpkg-{i:03d}" for i in range(size)]
    for i, name in enumerate(names):
        deps = [f"{names[i - 1]}>=1.0"] if i % 3 and i else []
        tiny_wheel(house, name, f"1.{i % 7}.{i}", deps)
    argv = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-index"]
    result = proc.run([*argv, "--find-links", str(house), *names], env=proc.pip_environment(), timeout=600)
    if not result.ok:
        raise SystemExit(f"could not build the benchmark env: {result.stderr[-500:]}")
    return venv


def median_time(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up: file-system cache, first import
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def find_uv() -> str | None:
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.exists() else shutil.which("uv")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--size", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oxwizard-bench-") as tmp:
        venv = build_env(Path(tmp), args.size)
        python = venv / "bin" / "python"
        count = len(Environment.open(venv).distributions)
        env = proc.pip_environment()

        def ox_open() -> object:
            return Environment.open(venv).distributions

        def ox_cold() -> object:
            clear_probe_cache()
            return Environment.open(venv).distributions

        site = Environment.open(venv).site_paths

        def ox_read() -> object:
            return read_distributions(site)

        def pip_list() -> object:
            argv = [sys.executable, "-m", "pip", "--python", str(python), "list", "--format=json"]
            return subprocess.run(argv, env=env, capture_output=True, check=True)

        rows = [
            ("oxwizard open (probe cached)", median_time(ox_open, args.runs)),
            ("oxwizard open, cold probe", median_time(ox_cold, args.runs)),
            ("oxwizard read only", median_time(ox_read, args.runs)),
            ("pip list --format=json", median_time(pip_list, max(3, args.runs // 3))),
        ]
        uv = find_uv()
        if uv:

            def uv_list() -> object:
                argv = [uv, "pip", "list", "--python", str(python), "--format=json"]
                return subprocess.run(argv, env=env, capture_output=True, check=True)

            rows.append(("uv pip list --format=json", median_time(uv_list, args.runs)))
    times = dict(rows)
    print(f"environment: {count} distributions; median of {args.runs} runs (pip: fewer)")
    for label, seconds in rows:
        print(f"  {label:30} {seconds * 1000:8.1f} ms")
    ours, cold = times["oxwizard open (probe cached)"], times["oxwizard open, cold probe"]
    vs_pip = times["pip list --format=json"] / ours
    print(
        f"vs pip list: {vs_pip:5.1f}x faster (target >= 10x: {'met' if vs_pip >= 10 else 'MISSED'}); "
        f"cold probe {times['pip list --format=json'] / cold:.1f}x"
    )
    if uv:
        vs_uv = ours / times["uv pip list --format=json"]
        print(
            f"vs uv:       {vs_uv:5.2f}x uv's time (target <= 2x: {'met' if vs_uv <= 2 else 'MISSED'}); "
            f"cold probe {cold / times['uv pip list --format=json']:.2f}x"
        )
    else:
        print("vs uv:       uv not found on PATH (pip install uv to compare)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
