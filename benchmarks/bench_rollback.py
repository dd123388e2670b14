"""Benchmark: oxwizard rollback vs ``pip install -r`` and ``uv pip sync`` of the checkpoint's pins.

    python benchmarks/bench_rollback.py [--files 9000]

Scenario (issue 3): a venv holding a generated distribution ``bigpkg`` 1.0 of ``--files`` files
(built with :func:`oxwizard.demo.wheels.build_wheel` into a local wheelhouse), upgraded to 2.0 (a new
dependency ``bigpkg-extra`` too), then rolled back. Measured side by side in one run:

- checkpoint: :func:`take_checkpoint` before the upgrade, against the install it protects
  (:func:`apply_plan` of the upgrade);
- oxwizard rollback (stash + verification of every file's sha256 and the fingerprint): the engine
  call, as the wizard's rollback key and crash recovery run it, and the ``oxwizard rollback`` command
  in a new process (Python's start-up and imports included, printed apart);
- ``pip install --no-deps -r pins.txt`` of the checkpoint's set from the local wheelhouse (pip does
  not remove what the upgrade added, so that is left behind: reported);
- ``uv pip sync pins.txt`` with a warm cache (when uv is installed);
- the two rename-speed designs the issue names, as a floor: moving the package folder aside and back
  by rename, and a blue-green swap of the whole site-packages folder by two renames.

After each restore the sha256 of every file in the env (``.pyc`` included) is compared with the state
before the upgrade. Prints the three ratios against the issue's targets. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from oxwizard.core import proc
from oxwizard.demo.wheels import build_wheel
from oxwizard.env.environment import Environment
from oxwizard.env.plan import compute_plan
from oxwizard.env.specs import IndexOptions, parse_specs
from oxwizard.safety.apply import apply_plan
from oxwizard.safety.checkpoint import take_checkpoint
from oxwizard.safety.rollback import rollback


def build(wheelhouse: Path, files: int) -> None:
    per = 100
    for version in ("1.0", "2.0"):
        body = {
            f"bigpkg/sub{i // per:03d}/mod{i % per:03d}.py": f"VALUE = {i}\nVERSION = {version!r}\n"
            f"def f{i}(x):\n    return x * {i} + len({version!r})\n" + "# padding\n" * (i % 20)
            for i in range(files - files // per)
        }
        body.update({f"bigpkg/sub{j:03d}/__init__.py": f"# {version}\n" for j in range(files // per)})
        body["bigpkg/__init__.py"] = f"__version__ = {version!r}\n"
        requires = ["bigpkg-extra==1.0"] if version == "2.0" else []
        build_wheel(
            wheelhouse, "bigpkg", version, body, requires=requires, console_scripts={"big": "bigpkg:main"}
        )
    build_wheel(wheelhouse, "bigpkg-extra", "1.0", {"bigpkg_extra/__init__.py": "X = 1\n"})


def state(root: Path) -> dict[str, str]:
    out = {}
    for folder, dirs, names in os.walk(root):
        if Path(folder) == root and ".oxwizard" in dirs:
            dirs.remove(".oxwizard")
        for n in names:
            p = Path(folder) / n
            out[str(p.relative_to(root))] = (
                "link:" + os.readlink(p) if p.is_symlink() else hashlib.sha256(p.read_bytes()).hexdigest()
            )
    return out


def diff(a: dict[str, str], b: dict[str, str]) -> str:
    if a == b:
        return "byte-identical"
    missing = len(a.keys() - b.keys())
    extra = len(b.keys() - a.keys())
    changed = sum(1 for k in a.keys() & b.keys() if a[k] != b[k])
    return f"NOT identical: {missing} missing, {extra} left behind, {changed} differ"


def timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=9000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="oxwizard-bench-rollback-"))
    try:
        return run(tmp, args.files)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp: Path, files: int) -> int:
    wheelhouse = tmp / "wheelhouse"
    build(wheelhouse, files)
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pipenv = proc.pip_environment()
    py = str(venv / "bin" / "python")
    links = ["--no-index", "--find-links", str(wheelhouse)]
    subprocess.run([py, "-m", "pip", "install", "-q", *links, "bigpkg==1.0"], check=True, env=pipenv)
    env = Environment.open(venv)
    index = IndexOptions.build(find_links=[str(wheelhouse)], no_index=True)
    plan = compute_plan(env, parse_specs(["bigpkg==2.0"]), index)
    before = state(venv)
    print(f"env: {len(before)} files; bigpkg 1.0 -> 2.0 (+ bigpkg-extra)")

    def upgrade() -> None:
        done = subprocess.run(
            [py, "-m", "pip", "install", "-q", "--no-deps", *links, *plan.pinned], env=pipenv
        )
        assert done.returncode == 0

    t_ck = timed(lambda: setattr(run, "ck", take_checkpoint(env, plan)))
    ck = run.ck  # type: ignore[attr-defined]
    t_install = timed(lambda: apply_plan(env, plan, index, checkpoint=ck))
    t_rb = timed(lambda: rollback(env, ck.id))
    rb_state = diff(before, state(venv))
    print(f"checkpoint            {t_ck:7.3f} s  ({ck.files} files stashed, {ck.stash_method})")
    print(f"install (apply)       {t_install:7.3f} s")
    print(f"oxwizard rollback     {t_rb:7.3f} s  {rb_state}  (engine call: the wizard's rollback key)")
    ck2 = take_checkpoint(env, plan)
    apply_plan(env, plan, index, checkpoint=ck2)
    command = [sys.executable, "-m", "oxwizard", "rollback", "--env", str(venv)]
    t_cmd = timed(lambda: subprocess.run(command, check=True, capture_output=True))
    cmd_state = diff(before, state(venv))
    startup = [sys.executable, "-m", "oxwizard", "--version"]
    t_start = min(timed(lambda: subprocess.run(startup, check=True, capture_output=True)) for _ in range(3))
    print(
        f"`oxwizard rollback`   {t_cmd:7.3f} s  {cmd_state}  (the command; Python start-up + imports "
        f"alone: {t_start:.3f} s)"
    )

    pins = tmp / "pins.txt"
    pins.write_text("\n".join(ck.pins()) + "\n")
    upgrade()
    t_pip = timed(
        lambda: subprocess.run(
            [py, "-m", "pip", "install", "-q", "--no-deps", *links, "-r", str(pins)], env=pipenv, check=True
        )
    )
    print(f"pip install -r        {t_pip:7.3f} s  {diff(before, state(venv))}")
    subprocess.run([py, "-m", "pip", "uninstall", "-q", "-y", "bigpkg-extra"], env=pipenv, check=True)

    uv = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    t_uv = None
    if uv:
        uvenv = {**pipenv, "UV_CACHE_DIR": str(tmp / "uv-cache"), "UV_NO_CONFIG": "1"}
        sync = [uv, "pip", "sync", "--python", py, *links, str(pins)]
        for _ in range(2):  # the first sync warms the cache
            upgrade()
            t_uv = timed(lambda: subprocess.run(sync, env=uvenv, check=True, capture_output=True))
        print(f"uv pip sync (warm)    {t_uv:7.3f} s  {diff(before, state(venv))}")
        subprocess.run(
            [
                py,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-deps",
                "--force-reinstall",
                *links,
                *ck.pins(["bigpkg"]),
            ],
            env=pipenv,
            check=True,
        )
    else:
        print("uv pip sync           (uv not installed: skipped)")

    # the rename-speed designs, as floors (no verification): folder aside and back; site-packages swap
    site = env.purelib
    copy = tmp / "blue"
    shutil.copytree(site, copy, symlinks=True)
    t_aside = timed(
        lambda: (os.rename(site / "bigpkg", tmp / "aside"), os.rename(tmp / "aside", site / "bigpkg"))
    )
    t_swap = timed(lambda: (os.rename(site, tmp / "green"), os.rename(copy, site)))
    print(f"rename aside + back   {t_aside * 1000:7.2f} ms (floor of the rename-aside design)")
    print(f"blue-green swap       {t_swap * 1000:7.2f} ms (floor of the directory-swap design)")

    print()
    print(f"rollback vs pip install -r : {t_pip / t_rb:6.1f}x faster   (target >= 20x)")
    print(f"  the command vs pip       : {t_pip / t_cmd:6.1f}x faster (with Python's start-up and imports)")
    if t_uv:
        print(f"rollback / uv pip sync     : {t_rb / t_uv:6.2f}x of its time (target <= 0.5x)")
        print(f"  the command / uv pip sync: {t_cmd / t_uv:6.2f}x (with Python's start-up and imports)")
    print(f"checkpoint / install       : {t_ck / t_install:6.2f}x of its time (target <= 0.5x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
