"""One run at a time, nothing written before the lock; a runbook repository left dirty by a crash
never blocks later runs (issue 11). Real CLI processes on a real demo sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from oxwizard.core.testhooks import SLOW_ENV
from oxwizard.demo.sandbox import DemoSandbox
from oxwizard.env.environment import Environment
from oxwizard.runbook.repo import RunbookRepo

DemoFactory = Callable[[], DemoSandbox]


def _argv(sandbox: DemoSandbox, spec: str) -> list[str]:
    return [sys.executable, "-m", "oxwizard", "upgrade", spec, "--yes", "--env", str(sandbox.venv),
            "--project", str(sandbox.project),
            "--find-links", str(sandbox.wheelhouse), "--no-index"]  # fmt: skip


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def test_a_second_upgrade_is_refused_at_once_and_leaves_no_trace(demo: DemoFactory) -> None:
    sandbox = demo()
    repo = sandbox.project / ".oxwizard"
    lock = sandbox.venv / ".oxwizard" / "lock"
    first = subprocess.Popen(
        _argv(sandbox, "oxzep7==1.5.0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, SLOW_ENV: "apply-staging:0.3"},  # keeps the first run busy in staging
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the first run holds the lock (from its plan on)
            try:
                holder = json.loads(lock.read_text() or "{}")
            except (OSError, ValueError):
                holder = {}
            if holder.get("pid") == first.pid:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the first upgrade never took the lock")
        started = time.monotonic()
        second = subprocess.run(_argv(sandbox, "oxzep7==1.5.0"), capture_output=True, text=True, timeout=120)
        refused_in = time.monotonic() - started
        assert second.returncode == 2, second.stdout + second.stderr
        line = second.stderr.strip()
        assert len(line.splitlines()) == 1 and f"locked by pid {first.pid}" in line, line
        assert "oxwizard upgrade oxzep7==1.5.0" in line  # the holder's command is named
        assert refused_in < 30  # refused at once, not after resolving (a generous bound for a busy CI)
        out, err = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, out + err  # the first run was not disturbed
    assert "upgraded" in out
    runbooks = sorted((repo / "runbooks").glob("*.json"))
    assert len(runbooks) == 1, runbooks  # the refused run wrote none
    assert _git(repo, "status", "--porcelain", "--untracked-files=no") == ""
    assert Environment.open(sandbox.venv).distributions["oxzep7"].version == "1.5.0"


def test_a_repository_left_dirty_by_a_crash_is_kept_and_does_not_block(demo: DemoFactory) -> None:
    sandbox = demo()
    repo = sandbox.project / ".oxwizard"
    with RunbookRepo(repo):
        pass
    # what a run killed between writing and committing leaves: a tracked file changed, git's own
    # index.lock of the killed commit
    gitignore = repo / ".gitignore"
    gitignore.write_text(gitignore.read_text() + "# half-written by a run that died\n")
    index_lock = repo / ".git" / "index.lock"
    index_lock.write_text("")
    old = time.time() - 60
    os.utime(index_lock, (old, old))
    done = subprocess.run(_argv(sandbox, "oxzep7==1.5.0"), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert Environment.open(sandbox.venv).distributions["oxzep7"].version == "1.5.0"
    # nothing deleted: the uncommitted change is in a commit of its own, the lock set aside
    log = _git(repo, "log", "--format=%s")
    assert "recovered: 1 file(s) left uncommitted: .gitignore" in log
    assert "# half-written by a run that died" in _git(repo, "show", "HEAD:.gitignore")
    assert not index_lock.exists() and list((repo / ".git").glob("index.lock.stale-*"))
    assert _git(repo, "status", "--porcelain", "--untracked-files=no") == ""


def test_two_runbooks_started_in_the_same_second_get_their_own_ids(tmp_path: Path) -> None:
    with RunbookRepo(tmp_path / ".oxwizard") as repo:
        first = repo.free_id("20261126-120000-oxzep7")
        (repo.path / "runbooks").mkdir()
        repo.runbook_path(first).write_text("{}")
        second = repo.free_id("20261126-120000-oxzep7")
    assert first == "20261126-120000-oxzep7"
    assert second == "20261126-120000-oxzep7-2"
