"""The upgrade written into the project's files, on a branch or as a patch (issue 13, the writing side).

One demo sandbox carries the whole git story through the real CLI: ``upgrade --update-pins`` (pins
and --hash lines rewritten on a new branch, the user's branch, index and working tree untouched),
``rollback`` (the branch goes), ``replay`` (the files again, on the replay's own branch). The other
tests use real git and real files without a venv.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DemoFactory, make_plan

from oxwizard.core.errors import LockToolError, ProjectFilesError
from oxwizard.env.plan import Change, Plan
from oxwizard.env.project_files import plan_project_files
from oxwizard.env.project_write import edited_files, unified_diff
from oxwizard.env.specs import IndexOptions
from oxwizard.flow.pins import PreparedPins, land_pins, prepare_pins
from oxwizard.runbook.model import load_runbook
from oxwizard.runbook.project_branch import Landed, remove_branch

GIT_ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
    "GIT_AUTHOR_NAME": "user", "GIT_AUTHOR_EMAIL": "user@example.invalid",
    "GIT_COMMITTER_NAME": "user", "GIT_COMMITTER_EMAIL": "user@example.invalid",
}  # fmt: skip


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "init.defaultBranch=main", "-C", str(root), *args],
        capture_output=True, text=True, env=GIT_ENV, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def show(root: Path, what: str) -> bytes:
    """``git show BRANCH:PATH``, bytes exactly as committed."""
    done = subprocess.run(["git", "-C", str(root), "show", what], capture_output=True, check=True, timeout=60)
    return done.stdout


def oxwizard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oxwizard", *args],
        capture_output=True, text=True, timeout=600, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file of the user's work tree (the runbook repository and the venv aside)."""
    out: dict[str, bytes] = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in (".git", ".oxwizard", ".venv", "__pycache__")]
        for name in names:
            path = Path(folder) / name
            out[path.relative_to(root).as_posix()] = path.read_bytes()
    return out


def test_requirements_rewritten_on_a_branch_user_tree_untouched_rollback_and_replay(
    demo: DemoFactory,
) -> None:
    sandbox = demo()
    project, house = sandbox.project, sandbox.wheelhouse
    pyproject = project / "pyproject.toml"  # a loose benchmark threshold: the gates here are the files
    pyproject.write_text(
        re.sub(r"(?m)^benchmark-threshold = .*$", "benchmark-threshold = 5.0", pyproject.read_text("utf-8")),
        "utf-8",
    )
    committed = (
        "# app deps\r\n"
        f"oxzep7==1.4.2 \\\n    --hash=sha256:{sha(house / 'oxzep7-1.4.2-py3-none-any.whl')} \\\n"
        f"    --hash=sha256:{'f' * 64}\n    # via -r requirements.in\n"
        f'humbleconf==1.2.0 ; python_version >= "3.8" '
        f"--hash=sha256:{sha(house / 'humbleconf-1.2.0-py3-none-any.whl')}  # conf\n"
        "-r requirements/base.txt\n"
    )
    base = f"ziprow==0.3.1 --hash=sha256:{sha(house / 'ziprow-0.3.1-py3-none-any.whl')}\n"
    (project / "requirements").mkdir()
    (project / "requirements.txt").write_bytes(committed.encode())
    (project / "requirements" / "base.txt").write_text(base)
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "requirements")
    hook = project / ".git" / "hooks" / "pre-commit"  # a user's hook that would refuse any commit
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    # the user's uncommitted work: a changed comment in the very file, a changed file, an untracked one
    (project / "requirements.txt").write_bytes(committed.replace("# app deps", "# app deps (mine)").encode())
    (project / "README.md").write_text("local notes\n")
    (project / "notes.txt").write_text("untracked\n")
    before_tree, before_head = tree_bytes(project), git(project, "rev-parse", "HEAD")
    before_index, before_status = git(project, "ls-files", "-s"), git(project, "status", "--porcelain")
    where = ["--env", str(sandbox.venv), "--project", str(project), "--find-links", str(house), "--no-index"]

    refused = oxwizard("upgrade", "oxzep7==1.5.0", "--yes", "--update-pins", "--branch", "main", *where)
    assert refused.returncode == 2 and "branch main exists already" in refused.stderr  # before any change
    assert not (project / ".oxwizard").exists()

    done = oxwizard("upgrade", "oxzep7==1.5.0", "--yes", "--update-pins", *where)

    assert done.returncode == 0, done.stdout + done.stderr
    [runbook_path] = (project / ".oxwizard" / "runbooks").glob("*.json")
    runbook = load_runbook(runbook_path)
    branch = f"oxwizard/{runbook.id}"
    assert f"project files: committed on branch {branch} at " in done.stdout
    assert "your git hooks were not run" in done.stdout and "not pushed" in done.stdout
    # the user's branch, index and work tree (uncommitted changes included) are as they were
    assert git(project, "rev-parse", "HEAD") == before_head
    assert git(project, "symbolic-ref", "--short", "HEAD").strip() == "main"
    assert git(project, "ls-files", "-s") == before_index
    after_tree = tree_bytes(project)
    after_tree.pop("logs/app.log")  # the demo app logs as its checks run it
    before_tree.pop("logs/app.log")
    assert after_tree == before_tree
    assert git(project, "status", "--porcelain").replace(" M logs/app.log\n", "") == before_status
    assert git(project, "worktree", "list").count("\n") == 1  # the temporary worktree is gone
    # on the branch: the pin moved, its --hash lines are the new wheel's, every other byte as committed
    new_hash = sha(house / "oxzep7-1.5.0-py3-none-any.whl")
    expected = re.sub(
        r"oxzep7==1\.4\.2 \\\n    --hash=sha256:\w+ \\\n    --hash=sha256:f+\n",
        f"oxzep7==1.5.0 \\\\\n    --hash=sha256:{new_hash}\n",
        committed,
    )
    assert expected != committed
    assert show(project, f"{branch}:requirements.txt") == expected.encode()
    assert git(project, "show", f"{branch}:requirements/base.txt") == base
    assert git(project, "log", "--format=%s", "-1", branch).strip() == (
        f"oxwizard: project files for runbook {runbook.id}"
    )
    assert git(project, "rev-parse", f"{branch}~1") == before_head
    # the hashes are right: pip installs from the branch's files with --require-hashes, offline
    checkout = project.parent / "branch-files"
    (checkout / "requirements").mkdir(parents=True)
    (checkout / "requirements.txt").write_bytes(expected.encode())
    (checkout / "requirements" / "base.txt").write_text(base)
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-index", "--find-links", str(house), "--require-hashes",
         "--no-deps", "--target", str(checkout / "target"), "-r", str(checkout / "requirements.txt")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert pip.returncode == 0, pip.stderr
    assert (checkout / "target" / "oxzep7-1.5.0.dist-info").is_dir()
    # the runbook records the decision and where it landed
    pins = [d for d in runbook.decisions if d.step == "pins"]
    assert [d.answer for d in pins][0] == "write"
    landed = pins[-1].evidence.pins if pins[-1].evidence else None
    assert landed is not None and landed.branch == branch and landed.files == ["requirements.txt"]
    assert landed.commit == git(project, "rev-parse", branch).strip()

    # rollback: the branch, unmerged and still oxwizard's commit, goes with the upgrade
    back = oxwizard("rollback", "--env", str(sandbox.venv), "--project", str(project))
    assert back.returncode == 0, back.stdout + back.stderr
    assert f"branch {branch} removed" in back.stdout
    assert git(project, "branch", "--list", branch) == ""
    assert git(project, "rev-parse", "HEAD") == before_head

    # replay: the files written again, on a branch named after the replay's runbook
    again = oxwizard("replay", str(runbook_path), *where)
    assert again.returncode == 0, again.stdout + again.stderr
    branches = git(project, "branch", "--list", "oxwizard/*", "--format=%(refname:short)").split()
    assert len(branches) == 1 and "-replay-" in branches[0], branches
    assert show(project, f"{branches[0]}:requirements.txt") == expected.encode()


def _index() -> IndexOptions:
    return IndexOptions(no_index=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    project = tmp_path / "app"
    project.mkdir()
    git(project, "init", "-q")
    return project


def rich(to: str) -> list[Change]:
    return [Change(name="rich", from_version="13.7.0", to_version=to, kind="upgrade", impact="major")]


def committed(repo: Path, files: dict[str, str], changes: list[Change] | None = None) -> Plan:
    """``files`` written and committed in ``repo``; the plan of ``changes`` (the demo's 2.0.0) for it."""
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "app")
    plan = make_plan()
    plan.changes = changes if changes is not None else plan.changes
    plan.project_files = plan_project_files(repo, plan.changes)
    return plan


def prepare(project: Path, plan: Plan, rid: str, branch: str | None = None) -> PreparedPins:
    return prepare_pins(project, plan, pip_argv=[], index=_index(), runbook_id=rid, branch=branch)


def land(project: Path, prepared: PreparedPins, rid: str, branch: str | None = None, **staged: str) -> Landed:
    return land_pins(project, prepared, runbook_id=rid, branch=branch, staged=staged, index=_index(),
                     python=Path(sys.executable))  # fmt: skip


def test_pyproject_range_widened_in_style_on_the_branch_and_file_changed_since_is_refused(repo: Path) -> None:
    text = (
        '[project]\nname = "app"\ndependencies = [\n    "rich >=13, <14",  # ui\n    \'click\',\n]\n'
        "\n[tool.x]\nkeep = 'as is'   # spacing\n"
    )
    plan = committed(repo, {"pyproject.toml": text}, rich("14.1.0"))
    prepared = prepare(repo, plan, "r1", "deps/rich-14")
    assert prepared.where == "branch deps/rich-14"
    assert prepared.diff == (
        '--- a/pyproject.toml\n+++ b/pyproject.toml\n@@ -1,7 +1,7 @@\n [project]\n name = "app"\n'
        ' dependencies = [\n-    "rich >=13, <14",  # ui\n+    "rich >=13, <15",  # ui\n'
        "     'click',\n ]\n \n"
    )
    landed = land(repo, prepared, "r1", "deps/rich-14")
    assert git(repo, "show", "deps/rich-14:pyproject.toml") == text.replace("<14", "<15")
    assert (repo / "pyproject.toml").read_text() == text  # the user's file: untouched
    assert landed.evidence.files == ["pyproject.toml"]
    # the same branch again is refused, and a file changed since the plan refuses with nothing written
    with pytest.raises(ProjectFilesError, match="exists already"):
        land(repo, prepared, "r1", "deps/rich-14")
    (repo / "pyproject.toml").write_text(text.replace('"rich >=13, <14"', '"rich>=13,<14"'))
    with pytest.raises(ProjectFilesError, match=r"pyproject.toml:4 changed since the upgrade was planned"):
        prepare(repo, plan, "r2")
    assert git(repo, "branch", "--list", "oxwizard/r2") == ""


def test_poetry_pyproject_edited_and_the_lock_regeneration_noted(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Poetry not installed: a dev dependency here, so kept off PATH and from beside the interpreter."""
    path = [d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "poetry").exists()]
    monkeypatch.setenv("PATH", os.pathsep.join(path))
    pyproject = (
        '[tool.poetry]\nname = "app"\n\n[tool.poetry.dependencies]\npython = "^3.11"\noxzep7 = "^1.4"\n'
    )
    lock = '[[package]]\nname = "oxzep7"\nversion = "1.4.2"\n'
    plan = committed(repo, {"pyproject.toml": pyproject, "poetry.lock": lock})  # oxzep7 1.4.2 -> 2.0.0
    prepared, python = prepare(repo, plan, "p1"), repo.parent / "no-poetry-here" / "python"
    landed = land_pins(repo, prepared, runbook_id="p1", branch=None, staged={"oxzep7": "2.0.0"},
                       index=_index(), python=python)  # fmt: skip
    assert landed.evidence.branch == "oxwizard/p1"
    assert git(repo, "show", "oxwizard/p1:pyproject.toml") == pyproject.replace("^1.4", "^2.0")
    assert git(repo, "show", "oxwizard/p1:poetry.lock") == lock
    assert any(n.startswith("poetry.lock must be regenerated: run `poetry add --lock oxzep7==2.0.0`, put")
               for n in landed.notes), landed.notes  # fmt: skip


def test_not_a_git_project_gets_a_patch_that_patch_applies(tmp_path: Path) -> None:
    project = tmp_path / "plain"
    project.mkdir()
    text = "# deps\r\nrich==13.7.0  # ui\r\nclick>=8\n"
    (project / "requirements.txt").write_bytes(text.encode())
    (project / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["rich<14"]')  # no EOL
    plan = make_plan()
    plan.changes = rich("14.1.0")
    plan.project_files = plan_project_files(project, plan.changes)
    prepared = prepare(project, plan, "n1")
    assert prepared.where == "a patch (.oxwizard/patches/n1.patch)"
    landed = land(project, prepared, "n1")
    patch = project / ".oxwizard" / "patches" / "n1.patch"
    assert (
        landed.evidence.patch == ".oxwizard/patches/n1.patch" and patch.read_bytes().decode() == prepared.diff
    )
    assert (project / "requirements.txt").read_bytes() == text.encode()  # nothing of the user's written
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("requirements.txt", "pyproject.toml"):
        (copy / name).write_bytes((project / name).read_bytes())
    done = subprocess.run(["patch", "-p1", "-i", str(patch)], cwd=copy, capture_output=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (copy / "requirements.txt").read_bytes() == text.replace("13.7.0", "14.1.0").encode()
    assert (copy / "pyproject.toml").read_bytes() == b'[project]\nname = "x"\ndependencies = ["rich<15"]'
    assert remove_branch(project, landed.evidence)[0] is False  # a patch is never removed


def test_rollback_leaves_a_branch_the_user_committed_to_or_merged(repo: Path) -> None:
    plan = committed(repo, {"requirements.txt": "rich==13.7.0\n"}, rich("13.9.4"))
    evidence = [land(repo, prepare(repo, plan, rid), rid).evidence for rid in ("a", "b", "c")]
    # a: the user committed on it; b: merged into main; c: untouched
    git(repo, "checkout", "-q", "oxwizard/a")
    (repo / "mine.txt").write_text("mine\n")
    git(repo, "add", "mine.txt")
    git(repo, "commit", "-q", "-m", "mine")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--ff-only", "oxwizard/b")
    removed_a, why_a = remove_branch(repo, evidence[0])
    removed_b, why_b = remove_branch(repo, evidence[1])
    removed_c, why_c = remove_branch(repo, evidence[2])
    assert (removed_a, removed_b, removed_c) == (False, False, True)
    assert "has commits since oxwizard's" in why_a and "merged into main" in why_b
    assert git(repo, "branch", "--format=%(refname:short)").split() == ["main", "oxwizard/a", "oxwizard/b"]
    assert git(repo, "show", "oxwizard/a:mine.txt") == "mine\n"


def test_unified_diff_and_edits_keep_every_other_byte(tmp_path: Path) -> None:
    text = (
        "a==1 --hash=sha256:" + "0" * 64 + " --hash=sha256:" + "1" * 64 + "\nb==1 --hash=sha256:" + "2" * 64
    )
    (tmp_path / "requirements.txt").write_text(text)
    files = plan_project_files(
        tmp_path, [Change(name="a", from_version="1", to_version="2", kind="upgrade", impact="major")]
    )
    after = edited_files(tmp_path, files, hashes={"a": "9" * 64})
    assert after == {
        "requirements.txt": "a==2 --hash=sha256:" + "9" * 64 + "\nb==1 --hash=sha256:" + "2" * 64
    }
    assert unified_diff({"requirements.txt": text}, after).endswith("\\ No newline at end of file\n")


def test_a_lock_tool_that_fails_leaves_no_branch_and_the_users_files_as_they_were(repo: Path) -> None:
    pyproject = '[project]\nname = "app"\nrequires-python = ">=3.11"\ndependencies = ["rich>=13.7.0"]\n'
    lock = 'version = 1\n\n[[package]]\nname = "rich"\nversion = "13.7.0"\n'
    plan = committed(repo, {"pyproject.toml": pyproject, "uv.lock": lock}, rich("13.9.4"))
    prepared = prepare(repo, plan, "u1")
    assert prepared.diff == ""  # the floor admits 13.9.4: only uv.lock must change, by uv
    with pytest.raises(LockToolError, match=r"^uv lock could not regenerate uv.lock \(exit \d+\): "):
        land(repo, prepared, "u1", rich="13.9.4")  # offline, and no rich wheel anywhere: uv fails
    assert git(repo, "branch", "--list", "oxwizard/*") == ""
    assert git(repo, "worktree", "list").count("\n") == 1  # the branch's checkout removed too
    assert (repo / "uv.lock").read_text() == lock and git(repo, "status", "--porcelain") == ""


_H0, _H1, _NEW = "sha256:" + "0" * 64, "sha256:" + "1" * 64, "sha256:" + "9" * 64


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # the comment on the last --hash line stays at the end of the entry's last line
        (f'a[socks]==1 ; python_version >= "3.8" \\\r\n    --hash={_H0} \\\r\n    --hash={_H1}  # pinned\r\n',
         f'a[socks]==2 ; python_version >= "3.8" \\\r\n    --hash={_NEW}  # pinned\r\n'),
        (f"a==1 --hash={_H0} \\\n    --hash={_H1}  # pinned\n", f"a==2 --hash={_NEW}  # pinned\n"),
        (f"a==1 --hash={_H0} --hash={_H1}  # pinned\n", f"a==2 --hash={_NEW}  # pinned\n"),
        # a comment on the name==version line: pip reads the rest of the entry as part of it (no hashes)
        (f"a==1  # pinned \\\n    --hash={_H0} \\\n    --hash={_H1}\n",
         f"a==2  # pinned \\\n    --hash={_H0} \\\n    --hash={_H1}\n"),
    ],
    ids=["last-hash-line-crlf", "hash-on-first-line", "one-line", "on-the-name-line"],
)  # fmt: skip
def test_a_comment_on_a_hashed_entry_stays_where_it_was(tmp_path: Path, before: str, after: str) -> None:
    text = f"# deps\n{before}b==1 --hash={_H1}  # b\n    # via -r requirements.in\n"
    (tmp_path / "requirements.txt").write_bytes(text.encode())
    files = plan_project_files(
        tmp_path, [Change(name="a", from_version="1", to_version="2", kind="upgrade", impact="major")]
    )
    edited = edited_files(tmp_path, files, hashes={"a": "9" * 64})
    assert edited == {"requirements.txt": text.replace(before, after)}
