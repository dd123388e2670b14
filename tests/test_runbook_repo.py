"""The runbook's git repository, on real git: its own repo, one commit per decision, never a hook."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from oxwizard.core.errors import RunbookError
from oxwizard.env.environment import EnvironmentFacts
from oxwizard.runbook.model import Decision, Evidence, Runbook, load_runbook
from oxwizard.runbook.repo import DEFAULT_AUTHOR, RunbookRepo


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return out.stdout


def make_runbook(runbook_id: str = "20260101-000000-oxzep7") -> Runbook:
    facts = EnvironmentFacts(
        interpreter="/p/.venv/bin/python",
        version="3.11.9",
        implementation="CPython",
        platform="linux-x86_64",
        prefix="/p/.venv",
        purelib="/p/.venv/lib/python3.11/site-packages",
        platlib="/p/.venv/lib/python3.11/site-packages",
        scripts="/p/.venv/bin",
        is_venv=True,
        installer="pip",
        fingerprint="0123456789abcdef",
    )
    return Runbook(id=runbook_id, targets=["oxzep7==2.0.0"], environment=facts)


@pytest.fixture
def gitconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated user-level git config (the machine's own one is never read)."""
    cfg = tmp_path / "user.gitconfig"
    cfg.write_text("", encoding="utf-8")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(cfg))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var, raising=False)
    return cfg


@pytest.fixture
def project(tmp_path: Path, gitconfig: Path) -> Path:
    """A project that is itself a git repository with one commit on its own branch."""
    proj = tmp_path / "project"
    proj.mkdir()
    git(proj, "init", "-q", "-b", "main")
    (proj / "app.py").write_text("print('hi')\n", encoding="utf-8")
    git(proj, "add", "app.py")
    git(proj, "-c", "user.name=Dev", "-c", "user.email=dev@example.com", "commit", "-q", "-m", "app")
    return proj


def test_created_on_first_use_as_its_own_repo_and_excluded(project: Path) -> None:
    head_before = git(project, "rev-parse", "HEAD")
    with RunbookRepo.for_project(project) as repo:
        assert repo.path == project / ".oxwizard"
        assert (repo.path / ".git").is_dir()
        repo.decide(make_runbook(), Decision(step="plan", question="Plan?", answer="accepted"))
    with RunbookRepo.for_project(project):  # second use: no second init, no second exclude line
        pass
    exclude = (project / ".git" / "info" / "exclude").read_text(encoding="utf-8")
    assert exclude.splitlines().count("/.oxwizard/") == 1
    # The user's own repository and branch are untouched and see nothing of it.
    assert git(project, "rev-parse", "HEAD") == head_before
    assert git(project, "status", "--porcelain") == ""
    assert git(project, "log", "--oneline").count("\n") == 1
    assert git(project / ".oxwizard", "log", "--format=%s") == "plan: accepted\ninit: runbook repository\n"


def test_project_that_is_not_a_git_repo_gets_no_exclude(tmp_path: Path, gitconfig: Path) -> None:
    with RunbookRepo.for_project(tmp_path) as repo:
        assert repo.log()[0].message == "init: runbook repository"
    assert not (tmp_path / ".git").exists()


def test_one_commit_per_decision_with_readable_oneline_log(project: Path) -> None:
    runbook = make_runbook()
    with RunbookRepo.for_project(project) as repo:
        repo.decide(
            runbook,
            Decision(
                step="plan",
                question="Apply this plan?",
                answer="oxzep7 1.4.2 -> 2.0.0 (major), 2 changes",
                evidence=Evidence(command=["pip", "install", "--dry-run"], exit_code=0, duration=1.5),
            ),
        )
        repo.decide(runbook, Decision(step="checkpoint", question="Take a checkpoint?", answer="taken"))
        repo.decide(runbook, Decision(step="verdict", question="Keep?", answer="rolled back"))
        path = repo.runbook_path(runbook.id)
        assert repo.runbooks() == [path]
    oneline = git(project / ".oxwizard", "log", "--oneline", "--format=%s").splitlines()
    assert oneline == [
        "verdict: rolled back",
        "checkpoint: taken",
        "plan: oxzep7 1.4.2 -> 2.0.0 (major), 2 changes",
        "init: runbook repository",
    ]
    # Each commit holds the runbook as it was after that decision.
    first = git(project / ".oxwizard", "show", f"HEAD~2:runbooks/{runbook.id}.json")
    assert '"step": "plan"' in first and '"step": "checkpoint"' not in first
    loaded = load_runbook(path)
    assert [d.step for d in loaded.decisions] == ["plan", "checkpoint", "verdict"]
    assert loaded == runbook
    assert git(project / ".oxwizard", "status", "--porcelain") == ""


def _hook(path: Path, marker: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho ran >> {marker}\nexit 1\n", encoding="utf-8")
    path.chmod(0o755)


def test_no_hook_or_fsmonitor_ever_runs(project: Path, gitconfig: Path, tmp_path: Path) -> None:
    marker = tmp_path / "hook-ran"
    user_hooks = tmp_path / "user-hooks"
    repo_hooks = tmp_path / "repo-hooks"
    for folder in (user_hooks, repo_hooks):
        for name in ("pre-commit", "commit-msg", "prepare-commit-msg", "post-commit", "post-index-change"):
            _hook(folder / name, marker)
    fsmonitor = tmp_path / "fsmonitor.sh"
    _hook(fsmonitor, marker)
    gitconfig.write_text(f"[core]\n\thooksPath = {user_hooks}\n\tfsmonitor = {fsmonitor}\n", encoding="utf-8")
    # Sanity: with this user config a plain git commit does run the hook (and fails).
    probe = tmp_path / "probe"
    probe.mkdir()
    git(probe, "init", "-q")
    (probe / "f").write_text("x", encoding="utf-8")
    git(probe, "add", "f")
    failed = subprocess.run(
        ["git", "-c", "user.name=a", "-c", "user.email=a@b", "commit", "-q", "-m", "x"],
        cwd=probe,
        capture_output=True,
        check=False,
    )
    assert failed.returncode != 0 and marker.exists()
    marker.unlink()

    runbook = make_runbook()
    with RunbookRepo.for_project(project) as repo:
        git(repo.path, "config", "core.hooksPath", str(repo_hooks))
        for name in ("pre-commit", "commit-msg", "post-commit"):
            _hook(repo.path / ".git" / "hooks" / name, marker)
        repo.decide(runbook, Decision(step="plan", question="q", answer="accepted"))
        repo.decide(runbook, Decision(step="verdict", question="q", answer="kept"))
        assert [e.message for e in repo.log()][:2] == ["verdict: kept", "plan: accepted"]
    assert not marker.exists()


def test_author_from_git_config_else_default(project: Path, gitconfig: Path, tmp_path: Path) -> None:
    with RunbookRepo.for_project(project) as repo:
        repo.decide(make_runbook(), Decision(step="plan", question="q", answer="a"))
    author = git(project / ".oxwizard", "log", "-1", "--format=%an <%ae>").strip()
    assert author == f"{DEFAULT_AUTHOR[0]} <{DEFAULT_AUTHOR[1]}>"

    gitconfig.write_text("[user]\n\tname = Ada Lovelace\n\temail = ada@example.com\n", encoding="utf-8")
    with RunbookRepo.for_project(project) as repo:
        repo.decide(make_runbook("second"), Decision(step="plan", question="q", answer="b"))
    author = git(project / ".oxwizard", "log", "-1", "--format=%an <%ae>|%cn").strip()
    assert author == "Ada Lovelace <ada@example.com>|Ada Lovelace"


def test_dirty_runbook_repo_is_kept_in_a_commit_not_clobbered_nor_blocking(project: Path) -> None:
    # issue 11: a repository left dirty (a run that died mid-write, a hand edit) never blocks later
    # runs; what is there is committed as it is, nothing is overwritten or deleted
    runbook = make_runbook()
    with RunbookRepo.for_project(project) as repo:
        repo.decide(runbook, Decision(step="plan", question="q", answer="a"))
        other = make_runbook("other")
        repo.decide(other, Decision(step="plan", question="q", answer="other"))
        other_path = repo.runbook_path("other")
        hand_edit = other_path.read_text(encoding="utf-8").replace('"answer": "other"', '"answer": "mine"')
        other_path.write_text(hand_edit, encoding="utf-8")
        repo.decide(runbook, Decision(step="verdict", question="q", answer="kept"))
        log = git(repo.path, "log", "-2", "--format=%s").splitlines()
        assert log[1] == "recovered: 1 file(s) left uncommitted: runbooks/other.json"
        assert git(repo.path, "show", "HEAD~1:runbooks/other.json") == hand_edit
        assert other_path.read_text(encoding="utf-8") == hand_edit
        assert git(repo.path, "status", "--porcelain", "--untracked-files=no") == ""


def test_mid_merge_runbook_repo_is_refused(project: Path) -> None:
    runbook = make_runbook()
    with RunbookRepo.for_project(project) as repo:
        repo.decide(runbook, Decision(step="plan", question="q", answer="a"))
        head = git(repo.path, "rev-parse", "HEAD").strip()
        (repo.path / ".git" / "MERGE_HEAD").write_text(head + "\n", encoding="utf-8")
        with pytest.raises(RunbookError, match="mid-merge"):
            repo.decide(runbook, Decision(step="verdict", question="q", answer="kept"))
        assert git(repo.path, "rev-parse", "HEAD").strip() == head


def _cat_file_children() -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and "cat-file" in cmd:
            found.append(cmd)
    return found


def test_repo_is_closed_no_git_process_left(project: Path) -> None:
    with RunbookRepo.for_project(project) as repo:
        repo.decide(make_runbook(), Decision(step="plan", question="q", answer="a"))
        assert repo.repo.head.commit.message.strip() == "plan: a"  # starts a persistent cat-file
        assert _cat_file_children()
    assert _cat_file_children() == []
