"""Benchmark: ``oxwizard rollback`` as users run it (a new process) vs ``uv pip sync`` and ``pip install -r``.

    python benchmarks/bench_rollback_cli.py [--runs N] [--cache DIR] [--old pandas==2.1.4]
                                            [--new pandas==3.1.1 ...]

Scenario (issue 12): a venv with pandas 2.1.4 and its numpy, built once from the package index and
cached (with the wheels of both states) in ``~/.cache/oxwizard-bench/`` (outside the repository),
upgraded on live to pandas 3.x with numpy 2.x, then put back. Side by side in one run, each restoring
the same state from a fresh copy of the upgraded env:

- ``oxwizard rollback`` (a new process: start, restore, verify, exit) as users run it: the console
  script, bytecode caches written (a test runner's PYTHONDONTWRITEBYTECODE would make every run
  compile oxwizard's modules again), after a checkpoint and an apply of the upgrade on live (what
  ``oxwizard upgrade --no-stage`` does, without its checks); with the default verification
  (signatures) and with ``--verify full`` (sha256 of every restored file);
- ``uv pip sync`` of the old freeze from a warm cache (when uv is installed: the env's or PATH's);
- ``pip install -r`` of the old freeze from the cached wheels.

After each restore every file of the env (``.oxwizard`` aside) is compared with the state before the
upgrade: same files, same bytes (uv writes no ``.pyc``: its restore misses them). Each is run
``--runs`` times, alternating (pip once: it takes seconds), and the median is shown. Prints ratios
against the issue's targets (rollback <= 0.5x uv, >= 20x faster than pip). Asserts nothing; not part
of the test suite. Without an index it falls back to the demo sandbox (oxzep7 1.4.2 -> 2.0.0 from the
demo's wheelhouse).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_rollback import diff, state  # the same byte-identity check as the in-process benchmark

from oxwizard.core import proc

HERE = Path(__file__).resolve().parent.parent
OXWIZARD = [str(Path(sys.executable).parent / "oxwizard")]  # the console script, as users run it
# as users run it: with the bytecode caches (a test runner's PYTHONDONTWRITEBYTECODE would make every
# run compile oxwizard's modules again)
ENVIRON = {k: v for k, v in proc.pip_environment().items() if k != "PYTHONDONTWRITEBYTECODE"}


def sh(argv: list[str], **kw: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, text=True, capture_output=True, env=ENVIRON, **kw)  # type: ignore[call-overload, no-any-return]


def build_real(cache: Path, old: list[str], new: list[str]) -> tuple[Path, Path, list[str]] | None:
    """The pristine env (``cache/pristine/.venv``, built as ``cache/work/.venv`` where every run puts
    a copy of it) and the pip options naming the wheels; None when the index is out of reach."""
    pristine = cache / "pristine" / ".venv"
    work = cache / "work" / ".venv"
    wheels = cache / "wheels"
    if not (cache / "ready").exists():
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        subprocess.run([sys.executable, "-m", "venv", str(work)], check=True)
        py = str(work / "bin" / "python")
        print(f"building {pristine} from the index: {' '.join(old)} (once)")
        if sh([py, "-m", "pip", "install", "-q", *old]).returncode != 0:
            shutil.rmtree(cache, ignore_errors=True)
            return None
        freeze = sh([py, "-m", "pip", "freeze", "--all"]).stdout
        (cache / "old-freeze.txt").write_text(freeze)
        print(f"downloading the wheels of both states into {wheels} (once)")
        if sh(
            [
                py,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "-d",
                str(wheels),
                "-r",
                str(cache / "old-freeze.txt"),
            ]
        ).returncode:
            return None
        if sh([py, "-m", "pip", "download", "-q", "-d", str(wheels), *new]).returncode:
            return None
        shutil.copytree(work, pristine, symlinks=True)
        (cache / "ready").write_text("")
    return pristine, work, ["--no-index", "--find-links", str(wheels)]


def build_demo_env(cache: Path) -> tuple[Path, Path, list[str]]:
    from oxwizard.demo.sandbox import build_demo

    demo = build_demo(cache / "work")  # the venv is cache/work/project/.venv
    freeze = sh([str(demo.python), "-m", "pip", "freeze", "--all"]).stdout
    (cache / "old-freeze.txt").write_text(freeze)
    pristine = cache / "pristine" / ".venv"
    shutil.copytree(demo.venv, pristine, symlinks=True)
    return pristine, demo.venv, ["--no-index", "--find-links", str(demo.wheelhouse)]


def fresh(pristine: Path, work: Path) -> None:
    """``work`` := a copy of ``pristine`` (built at ``work``: its scripts name that path)."""
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(pristine, work, symlinks=True)


def upgrade_with_checkpoint(work: Path, new: list[str], links: list[str]) -> None:
    """Checkpoint + apply on live, as ``oxwizard upgrade --no-stage`` does (its checks left out)."""
    code = (
        "import sys\n"
        "from oxwizard.safety.apply import apply_plan\n"
        "from oxwizard.safety.checkpoint import take_checkpoint\n"
        "from oxwizard.env.environment import Environment\n"
        "from oxwizard.env.plan import compute_plan\n"
        "from oxwizard.env.specs import IndexOptions, parse_specs\n"
        "env = Environment.open(sys.argv[1])\n"
        "index = IndexOptions.build(find_links=[sys.argv[2]], no_index=True)\n"
        "plan = compute_plan(env, parse_specs(sys.argv[3:]), index)\n"
        "ck = take_checkpoint(env, plan)\n"
        "r = apply_plan(env, plan, index, checkpoint=ck)\n"
        "assert r.ok, r.mismatches\n"
    )
    done = sh([sys.executable, "-c", code, str(work), links[-1], *new])
    if done.returncode:
        raise SystemExit(f"upgrade failed: {done.stderr[-2000:]}")


def upgrade_plain(work: Path, new: list[str], links: list[str]) -> None:
    done = sh([str(work / "bin" / "python"), "-m", "pip", "install", "-q", *links, *new])
    if done.returncode:
        raise SystemExit(f"upgrade failed: {done.stderr[-2000:]}")


CPU: dict[str, list[float]] = {}  # CPU seconds (user + sys, threads and children included) per row


def timed(argv: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall seconds of ``argv``; its CPU seconds go to ``_last_cpu`` (a busy machine stretches
    wall times, of a multi-threaded uv most, far more than CPU times)."""
    global _last_cpu
    before = os.times()
    start = time.perf_counter()
    done = sh(argv)
    wall = time.perf_counter() - start
    after = os.times()
    _last_cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, done


_last_cpu = 0.0


def find_uv() -> str | None:
    here = Path(sys.executable).parent / "uv"
    return str(here) if here.exists() else shutil.which("uv")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "oxwizard-bench" / "pandas")
    parser.add_argument("--old", nargs="+", default=["pandas==2.1.4", "numpy<2"])
    parser.add_argument("--new", nargs="+", default=["pandas==3.1.1", "numpy>=2"])
    parser.add_argument("--demo", action="store_true", help="use the demo sandbox, not the index")
    parser.add_argument("--runs", type=int, default=3, help="runs of each (median shown); pip: one")
    args = parser.parse_args()
    built = None if args.demo else build_real(args.cache, args.old, args.new)
    new = args.new
    if built is None:
        print("no package index reachable (or --demo): the demo sandbox instead")
        cache = Path(tempfile.mkdtemp(prefix="oxwizard-bench-cli-"))
        built = build_demo_env(cache)
        new = ["oxzep7==2.0.0"]
    else:
        cache = args.cache
    pristine, work, links = built
    project = cache / "project"
    project.mkdir(exist_ok=True)
    freeze = cache / "old-freeze.txt"
    before = state(pristine)
    size = sum(
        (Path(r) / n).stat().st_size
        for r, _d, ns in os.walk(pristine)
        for n in ns
        if not (Path(r) / n).is_symlink()
    )
    print(f"env: {len(before)} files, {size / 1e6:.0f} MB; upgrade to {' '.join(new)}, then back")
    rows: list[tuple[str, float, str, str]] = []
    times: dict[str, list[float]] = {}
    last: dict[str, tuple[str, str]] = {}  # name -> (byte-identity, note) of its last run
    uv = find_uv()
    sync = (
        [uv, "pip", "sync", "-q", "--python", str(work / "bin" / "python"), *links, str(freeze)] if uv else []
    )
    if uv is not None:  # the first sync fills uv's cache
        fresh(pristine, work)
        upgrade_plain(work, new, links)
        sh(sync)
    sh([*OXWIZARD, "--version"])  # write oxwizard's bytecode caches, as a user's first run did
    for _ in range(args.runs):  # alternate, so that all see the same machine state
        for level in ("signatures", "full"):
            fresh(pristine, work)
            upgrade_with_checkpoint(work, new, links)
            argv = [*OXWIZARD, "rollback", "--env", str(work), "--project", str(project), "--verify", level]
            seconds, done = timed([*argv, "--json"])
            if done.returncode == 0:
                out = json.loads(done.stdout)
                note = (
                    f"{out['restored_files']} files restored, verified ({out['verification']}: "
                    f"{out['hashed_files']} hashed); the restore and its verification: "
                    f"{out['duration']:.3f} s, the rest is the process's start-up, imports and exit"
                )
            else:
                note = f"exit {done.returncode}: {done.stderr[-300:]}"
            name = f"oxwizard rollback --verify {level} (new process)"
            times.setdefault(name, []).append(seconds)
            CPU.setdefault(name, []).append(_last_cpu)
            last[name] = (diff(before, state(work)), note)
        if uv is not None:
            fresh(pristine, work)
            upgrade_plain(work, new, links)
            seconds, done = timed(sync)
            name = "uv pip sync of the old freeze (warm cache)"
            times.setdefault(name, []).append(seconds)
            CPU.setdefault(name, []).append(_last_cpu)
            last[name] = (diff(before, state(work)), f"exit {done.returncode}")
        for name, argv in (("python -c pass", [sys.executable, "-c", "pass"]),):
            times.setdefault(name, []).append(timed(argv)[0])
            CPU.setdefault(name, []).append(_last_cpu)
            last[name] = ("", "")
    fresh(pristine, work)
    upgrade_plain(work, new, links)
    pip = [str(work / "bin" / "python"), "-m", "pip", "install", "-q", *links, "-r", str(freeze)]
    seconds, done = timed(pip)
    times["pip install -r of the old freeze"] = [seconds]
    CPU["pip install -r of the old freeze"] = [_last_cpu]
    last["pip install -r of the old freeze"] = (diff(before, state(work)), f"exit {done.returncode}")
    fresh(pristine, work)  # leave the cached env as it was built
    rows = [(name, statistics.median(secs), *last[name]) for name, secs in times.items()]

    print()
    for name, secs, same, note in rows:
        cpu = statistics.median(CPU[name])
        print(f"{name:<48} {secs:7.3f} s  (cpu {cpu:7.3f} s)  {same}")
        if note:
            print(f"{'':<48}           {note[:200]}")
    wall = {name: secs for name, secs, _s, _n in rows}
    cpus = {name: statistics.median(CPU[name]) for name in wall}
    for what, median in (("wall", wall), ("cpu", cpus)):
        print()
        for level in ("signatures", "full"):
            ox = median[f"oxwizard rollback --verify {level} (new process)"]
            if uv is not None:
                uvt = median["uv pip sync of the old freeze (warm cache)"]
                print(
                    f"{what}: oxwizard rollback --verify {level} / uv pip sync: {ox / uvt:.2f}x "
                    "(target <= 0.5x)"
                )
            pipt = median["pip install -r of the old freeze"]
            print(
                f"{what}: pip install -r / oxwizard rollback --verify {level}: {pipt / ox:.1f}x faster "
                "(target >= 20x)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
