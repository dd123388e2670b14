"""A retired staging clone is kept as a spare in the venv's state folder and the next clone refreshes it: the
refreshed clone is exactly the one a fresh clone makes (same files, bytes, modes, the same files
linked to live's), live is never written through a link, and a refresh killed half way leaves
nothing that looks like a clone."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import copy_demo, pip_install

from oxwizard.core.errors import LockHeld, StageError
from oxwizard.demo.sandbox import DemoSandbox
from oxwizard.env.environment import Environment
from oxwizard.safety.lock import env_lock
from oxwizard.safety.stage import (
    MARKER,
    SPARES,
    CloneStats,
    create_stage,
    remove_stage,
    retire_stage,
    spares,
)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory, demo_seed: DemoSandbox) -> DemoSandbox:
    """A demo of this module's own: its live venv is changed by the tests."""
    return copy_demo(demo_seed, tmp_path_factory.mktemp("spare") / "demo")


Tree = dict[str, tuple[str, int, bytes]]


def _tree(root: Path) -> Tree:
    """relative path -> (type, mode, content: bytes with the root's path neutralised, a symlink's target)."""
    out: Tree = {}
    for folder, dirs, names in os.walk(root):
        for name in dirs + names:
            path = Path(folder) / name
            st = os.lstat(path)
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", 0, os.readlink(path).encode())
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", st.st_mode & 0o7777, b"")
            else:
                out[rel] = (
                    "file",
                    st.st_mode & 0o7777,
                    path.read_bytes().replace(str(root).encode(), b"ROOT"),
                )
    return out


def _inodes(root: Path) -> dict[str, int]:
    """Every regular file under ``root``: relative path -> inode (not oxwizard's state folder, where
    the spares are kept: what a clone holds and live is made of)."""
    out = {}
    for folder, dirs, names in os.walk(root):
        if folder == str(root):
            dirs[:] = [d for d in dirs if d != ".oxwizard"]
        for name in names:
            path = Path(folder) / name
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode):
                out[str(path.relative_to(root))] = st.st_ino
    return out


def _live(venv: Path) -> dict[str, tuple[int, bytes]]:
    return {rel: (ino, (venv / rel).read_bytes()) for rel, ino in _inodes(venv).items()}


def _shared(root: Path, live: Path) -> set[str]:
    """The files of the clone at ``root`` that are live's own inodes."""
    theirs = set(_inodes(live).values())
    return {rel for rel, ino in _inodes(root).items() if ino in theirs}


def _git_status(project: Path) -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=project,
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def _use_like_an_upgrade(stage: Environment, sandbox: DemoSandbox) -> None:
    """What an upgrade and its checks do to a clone: another version installed, bytecode written,
    files and folders added, removed, replaced by another kind, a folder's mode changed."""
    done = subprocess.run(
        [str(stage.python), "-m", "pip", "install", "-q", "--no-index", "--find-links",
         str(sandbox.wheelhouse), "--", "oxzep7==1.5.0"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    site = stage.purelib
    subprocess.run([str(stage.python), "-c", "import oxzep7, humbleconf, ziprow"], check=True)
    (site / "__pycache__").mkdir(exist_ok=True)
    (site / "__pycache__" / "stray.cpython-311.pyc").write_bytes(b"stray bytecode")
    (site / "stray_pkg" / "sub").mkdir(parents=True)
    (site / "stray_pkg" / "sub" / "x.py").write_text("x = 1\n")
    (stage.root / "bin" / "stray-script").write_text("#!/bin/sh\n")
    os.symlink("nowhere", site / "stray-link")
    ziprow = next(
        p for p in site.iterdir() if p.name.startswith("ziprow") and p.is_dir() and "dist" not in p.name
    )
    victim = next(p for p in ziprow.rglob("*.py"))
    victim.unlink()  # a file of a distribution left alone, deleted: it must come back a link
    pip_dir = site / "pip"
    one = next(p for p in (pip_dir / "_internal").iterdir() if p.is_dir() and p.name != "__pycache__")
    os.chmod(one, 0o700)  # a kept folder whose mode differs
    target = next(p for p in pip_dir.iterdir() if p.is_file())
    target.unlink()
    target.mkdir()  # a file become a folder
    (target / "inside").write_text("?")
    other = next(p for p in (pip_dir / "_vendor").iterdir() if p.is_dir() and p.name != "__pycache__")
    subprocess.run(["rm", "-rf", "--", str(other)], check=True)
    other.write_text("a folder become a file")
    gone = next(
        p for p in (pip_dir / "_internal").iterdir() if p.is_dir() and p != one and p.name != "__pycache__"
    )
    subprocess.run(["rm", "-rf", "--", str(gone)], check=True)  # a folder deleted: made again


def test_a_refreshed_spare_is_the_clone_a_fresh_one_makes(sandbox: DemoSandbox, tmp_path: Path) -> None:
    live = Environment.open(sandbox.venv)
    status = _git_status(sandbox.project)
    stage = create_stage(live, changing={"oxzep7"}, own_process=True)
    _use_like_an_upgrade(stage, sandbox)
    pip_install(sandbox, "humbleconf==1.3.0")  # live changes too, meanwhile (another distribution)
    live = Environment.open(sandbox.venv)
    before = _live(sandbox.venv)

    fresh_stats = CloneStats()
    fresh = create_stage(live, tmp_path / "fresh", changing={"oxzep7"}, stats=fresh_stats)
    assert not fresh_stats.refreshed and not spares(live)

    retire_stage(stage.root, live)
    assert not stage.root.exists()
    [spare] = spares(live)
    assert spare.parent == sandbox.venv / ".oxwizard" / "spares"  # gone with the venv, never beside it
    assert [p.name for p in sandbox.venv.parent.iterdir() if p.name.startswith(".venv")] == [".venv"]
    assert (spare / ".gitignore").read_text() == "*\n"
    assert not (spare / "pyvenv.cfg").exists()  # nothing takes a spare for an environment
    assert _git_status(sandbox.project) == status  # git does not see it

    for own_process in (True, False):  # the flow's way (a child process), and in-process
        stats = CloneStats()
        made = create_stage(live, changing={"oxzep7"}, stats=stats, own_process=own_process)
        assert stats.refreshed and stats.reused > 0 and not spares(live), own_process
        assert (
            made.root == stage.root and (made.root / MARKER).read_text() == f"staging clone of {live.root}\n"
        )
        assert _tree(made.root) == _tree(fresh.root)
        assert _shared(made.root, sandbox.venv) == _shared(fresh.root, sandbox.venv) != set()
        oxzep7 = {
            rel for rel in _inodes(made.root) if {"oxzep7", "oxzep7-1.4.2.dist-info"} & set(Path(rel).parts)
        }
        # oxzep7's dist-info is a copy (the installer reads its RECORD), the files it lists are left
        # out (the installer removes them first): none of them is live's
        assert oxzep7 and not [rel for rel in oxzep7 if "site-packages/oxzep7/" in rel], oxzep7
        assert [rel for rel in oxzep7 if rel.endswith("oxzep7-1.4.2.dist-info/RECORD")]
        assert not oxzep7 & _shared(made.root, sandbox.venv)
        assert (stats.linked, stats.copied, stats.omitted) == (
            fresh_stats.linked, fresh_stats.copied, fresh_stats.omitted,
        ) and stats.omitted > 0  # fmt: skip
        assert made.fingerprint() == live.fingerprint()
        ran = subprocess.run(
            [str(made.python), "-c", "import sys, humbleconf; print(sys.prefix, humbleconf.__name__)"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert ran.stdout.split() == [str(made.root), "humbleconf"]
        assert _live(sandbox.venv) == before  # not one byte, not one inode of live changed
        if not own_process:
            break
        _use_like_an_upgrade(made, sandbox)
        retire_stage(made.root, live)

    # at most SPARES spares: retiring another removes the oldest, and nothing else is left behind
    retire_stage(made.root, live)
    first = spares(live)
    # a spare's removal cut short by a crash (renamed, half deleted): the next retirement ends it
    cut_short = sandbox.venv / ".oxwizard" / "spares" / "0abc12.gone" / "lib"
    cut_short.mkdir(parents=True)
    (cut_short / "left.py").write_text("", encoding="utf-8")
    for name in ("b", "c"):
        retire_stage(create_stage(live, tmp_path / name, changing=None).root, live)
    kept = spares(live)
    assert len(kept) == SPARES == 2 and first[0] not in kept
    beside = [p.name for p in sandbox.venv.parent.iterdir() if p.name.startswith(".venv-")]
    assert beside == [] and sorted((sandbox.venv / ".oxwizard" / "spares").iterdir()) == sorted(kept)
    assert _git_status(sandbox.project) == status
    assert _live(sandbox.venv) == before
    for spare in kept:
        remove_stage(spare)  # what "safe to delete at any time" means for the tests' own cleanup
    remove_stage(fresh.root)


def test_a_refresh_killed_half_way_leaves_nothing_that_looks_like_a_clone(
    sandbox: DemoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = Environment.open(sandbox.venv)
    before = _live(sandbox.venv)
    retire_stage(create_stage(live, changing={"oxzep7"}).root, live)
    assert len(spares(live)) == 1
    monkeypatch.setenv("OXWIZARD_TEST_KILL_AT", "refresh:3")  # the child kills itself after 3 folders
    with pytest.raises(StageError, match="^staging clone "):
        create_stage(live, changing={"oxzep7"}, own_process=True)
    beside = sorted(p.name for p in sandbox.venv.parent.iterdir() if p.name.startswith(".venv"))
    assert beside == [".venv"]  # no .partial, no stage
    assert spares(live) == []  # and the spare it took is gone with it
    assert _live(sandbox.venv) == before
    monkeypatch.delenv("OXWIZARD_TEST_KILL_AT")
    stats = CloneStats()
    made = create_stage(live, changing={"oxzep7"}, stats=stats, own_process=True)
    assert not stats.refreshed and made.fingerprint() == live.fingerprint()
    remove_stage(made.root)


# an ``upgrade --outdated`` in its culprit search: under the lock, a trial clone made beside the venv;
# then killed (``die``), or running on until its stdin closes
IN_A_TRIAL = """
import os, signal, sys
from oxwizard.env.environment import Environment
from oxwizard.safety.lock import env_lock
from oxwizard.safety.stage import create_stage
env = Environment.open(sys.argv[1])
with env_lock(env, "oxwizard upgrade --outdated"):
    create_stage(env, env.root.parent / sys.argv[2], changing={"oxzep7"}, own_process=True)
    print("in trial", flush=True)
    if sys.argv[3] == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    sys.stdin.read()
"""


def _in_a_trial(venv: Path, name: str, end: str) -> subprocess.Popen[str]:
    run = subprocess.Popen(
        [sys.executable, "-c", IN_A_TRIAL, str(venv), name, end],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert run.stdout is not None and run.stdout.readline() == "in trial\n"
    return run


def _look_alikes(venv: Path) -> dict[str, str]:
    """Folders named like trial clones that are not this environment's: no marker, another's marker."""
    made = {".venv-trial-7": "", ".venv-trial-8": "staging clone of /elsewhere/.venv\n", ".venv-trial-9x": ""}
    for name, marker in made.items():
        (venv.parent / name).mkdir()
        (venv.parent / name / "notes.txt").write_text("mine\n")
        if marker:
            (venv.parent / name / MARKER).write_text(marker)
    return {name: (venv.parent / name / "notes.txt").read_text() for name in made}


def test_the_trial_clone_of_a_killed_run_is_retired_by_the_next_command(
    demo: Callable[[], DemoSandbox],
) -> None:
    """``kill -9`` during trial 6: the next command that takes the environment's lock (``oxwizard
    stage``) retires ``.venv-trial-6`` as a spare; folders of such names that are not its clones stay."""
    sandbox = demo()
    venv = sandbox.venv
    killed = _in_a_trial(venv, ".venv-trial-6", "die")
    killed.wait()
    assert (venv.parent / ".venv-trial-6" / MARKER).is_file()
    kept = _look_alikes(venv)
    done = subprocess.run(
        [sys.executable, "-m", "oxwizard", "stage", "--env", str(venv)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert not os.path.lexists(venv.parent / ".venv-trial-6")
    live = Environment.open(venv)
    assert len(spares(live)) == 1  # kept as raw material for the next clone
    assert {name: (venv.parent / name / "notes.txt").read_text() for name in kept} == kept
    remove_stage(venv.parent / ".venv-stage")


def test_the_trial_clone_of_a_run_still_going_is_kept_until_it_dies(demo: Callable[[], DemoSandbox]) -> None:
    """While the run that made a trial clone holds the lock, another command is refused and the clone
    stays; so does one of this very process (its lock taken again). Once the run is killed, the next
    holder retires it and says so beside the stale lock it took over."""
    sandbox = demo()
    venv, trial = sandbox.venv, sandbox.venv.parent / ".venv-trial-3"
    live = Environment.open(venv)
    running = _in_a_trial(venv, trial.name, "wait")
    try:
        with pytest.raises(LockHeld):
            with env_lock(live, "oxwizard rollback"):
                pass
        done = subprocess.run(
            [sys.executable, "-m", "oxwizard", "stage", "--env", str(venv)],
            capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        assert done.returncode == 2 and "is locked by pid" in done.stderr, done.stderr
        assert (trial / MARKER).is_file() and (trial / "pyvenv.cfg").is_file()
    finally:
        running.kill()
        running.wait()
    notes: list[str] = []
    with env_lock(live, "oxwizard upgrade --outdated", on_stale=notes.append):
        assert not os.path.lexists(trial)
        own = create_stage(live, venv.parent / ".venv-trial-1", changing={"oxzep7"})
        with env_lock(live, "oxwizard rollback", on_stale=notes.append):  # re-entrant: this run's own
            assert (own.root / MARKER).is_file()
        retire_stage(own.root, live)
    assert notes == [
        f"took over a stale lock of pid {running.pid} (oxwizard upgrade --outdated)",
        f"note: .venv-trial-3 was a trial clone of {live.root} left by an interrupted oxwizard: removed",
    ]
