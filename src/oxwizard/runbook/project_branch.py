"""Where the edits of the project's files land: a branch of the project's git, or a patch.

In a git project the edits are committed on a new branch (``oxwizard/<runbook-id>`` unless named),
made from the current HEAD in a separate worktree (``git worktree add`` into a temporary folder): the
user's branch, index and working tree — uncommitted changes included — are not touched. The user's
git hooks are not run (``core.hooksPath=/dev/null``, ``commit --no-verify``), and :attr:`Landed.note`
says so. The worktree is removed afterwards; the branch stays. Nothing is ever pushed.

Not a git project (or one without a commit yet): the change is written as a unified diff under
``PROJECT/.oxwizard/patches/<runbook-id>.patch`` (``patch -p1 < FILE`` in the project applies it).

:func:`remove_branch` undoes a branch made here, only while it is unmerged and its tip is still the
commit oxwizard made; otherwise it leaves the branch and says why. It never deletes a user's work.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from oxwizard.core import proc
from oxwizard.core.errors import ProjectFilesError
from oxwizard.core.places import runbook_repo_path
from oxwizard.env.project_write import write_files
from oxwizard.runbook.model import PinsEvidence
from oxwizard.runbook.repo import DEFAULT_AUTHOR, GIT_SAFETY

HOOKS_NOTE = "your git hooks were not run (core.hooksPath=/dev/null, commit --no-verify)"


@dataclass
class Landed:
    """The edits, landed: on a branch (``branch``, ``commit``) or as a patch (``patch``)."""

    evidence: PinsEvidence
    note: str = ""
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        ev = self.evidence
        files = ", ".join(ev.files)
        if ev.branch:
            return f"committed on branch {ev.branch} at {(ev.commit or '')[:12]}: {files}"
        if not ev.patch:
            return "nothing written: no file changed"
        return f"written as a patch {ev.patch}: {files} (apply: patch -p1 < {ev.patch})"


class _NothingChanged(Exception):
    """The edits left every file as committed: no branch is kept."""


def default_branch(runbook_id: str) -> str:
    return f"oxwizard/{runbook_id}"


def _git(root: Path, *args: str, env: Mapping[str, str] | None = None) -> proc.Completed:
    return proc.run(["git", *GIT_SAFETY, "-C", str(root), *args], env=_environ(env), timeout=120)


def _environ(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """No GIT_* from outside (GIT_DIR, GIT_INDEX_FILE in a hook...) may point git elsewhere."""
    keep = ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL",
            "GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in keep}
    return {**env, **(extra or {})}


def _ok(done: proc.Completed, what: str) -> str:
    if not done.ok:
        tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["failed"]
        raise ProjectFilesError(f"git {what}: {tail[0]}; nothing was written to your branch")
    return done.stdout.strip()


def git_top(project: Path) -> Path | None:
    """The top of the git work tree holding ``project`` with at least one commit, else None."""
    if shutil.which("git") is None:
        return None
    top = _git(project, "rev-parse", "--show-toplevel")
    if not top.ok or not _git(project, "rev-parse", "--verify", "-q", "HEAD").ok:
        return None
    return Path(top.stdout.strip()).resolve()


def check_branch(project: Path, name: str) -> None:
    """Refuse (:class:`ProjectFilesError`) a branch name git refuses, or one that exists already."""
    _ok(_git(project, "check-ref-format", "--branch", name), f"branch name {name!r}")
    if _git(project, "rev-parse", "--verify", "-q", f"refs/heads/{name}").ok:
        raise ProjectFilesError(f"branch {name} exists already; nothing written (name another: --branch)")


def branch_for(project: Path, runbook_id: str, name: str | None) -> str:
    """The branch the edits would go to (for the question), or "a patch" when not a git project."""
    if git_top(project) is None:
        return f"a patch (.oxwizard/patches/{runbook_id}.patch)"
    return name or default_branch(runbook_id)


def land(
    project: Path,
    before: Mapping[str, str],
    after: Mapping[str, str],
    diff: str,
    *,
    runbook_id: str,
    branch: str | None = None,
    edit: Callable[[Mapping[str, str]], Mapping[str, str]] | None = None,
    in_tree: Callable[[Path], list[str]] | None = None,
) -> Landed:
    """Put ``after`` (relative path -> new text; ``before`` holds the text now) where it belongs:
    a commit on a new branch, or a patch when ``project`` is not in a git work tree with a commit.
    On the branch, ``edit`` (texts -> edited texts) is applied to the committed version of a file
    that has uncommitted changes, so the user's changes stay theirs alone (a planned line they
    changed refuses). ``in_tree(folder)`` runs in the branch's copy of the project once the edits
    are written (the lockfile regenerations) and returns its notes; a :class:`ProjectFilesError` it
    raises removes the branch again. Raises :class:`ProjectFilesError` (one line) with nothing left behind."""
    project = project.resolve()
    top = git_top(project)
    if top is None:
        return _patch(project, after, diff, runbook_id)
    name = branch or default_branch(runbook_id)
    check_branch(top, name)
    base = _ok(_git(top, "rev-parse", "HEAD"), "rev-parse HEAD")
    prefix = project.relative_to(top)
    tmp = Path(tempfile.mkdtemp(prefix="oxwizard-pins-"))
    tree = tmp / "tree"
    made = False
    notes: list[str] = []
    try:
        _ok(_git(top, "worktree", "add", "-q", "-b", name, str(tree), base), "worktree add")
        made = True
        here = tree / prefix
        contents = dict(after)
        dirty: dict[str, str] = {}
        for rel in after:
            committed = here / rel
            if not committed.is_file():
                notes.append(f"{rel} was not committed: the branch adds it")
                continue
            text = committed.read_bytes().decode("utf-8", "replace")
            if text != before.get(rel):
                dirty[rel] = text
        if dirty:
            if edit is None:
                raise ProjectFilesError(f"{', '.join(dirty)}: uncommitted changes; commit them first")
            contents.update({rel: text for rel, text in edit(dirty).items() if rel in dirty})
            notes += [f"{rel}: your uncommitted changes stay yours; the branch edits the committed version"
                      for rel in dirty]  # fmt: skip
        write_files(here, contents)
        if in_tree is not None:
            notes += in_tree(here)
        paths = sorted(_changed(tree))
        if not paths:  # e.g. only a lockfile to regenerate, and its tool not run: nothing to commit
            raise _NothingChanged()
        _ok(_git(tree, "add", "-A", "--", *paths), "add")
        message = f"oxwizard: project files for runbook {runbook_id}\n\n" + "\n".join(f"- {p}" for p in paths)
        _ok(_git(tree, "commit", "--no-verify", "-q", "-m", message, env=_author(top)), "commit")
        commit = _ok(_git(tree, "rev-parse", "HEAD"), "rev-parse")
    except BaseException as exc:
        if made:
            _git(top, "worktree", "remove", "--force", str(tree))
            _git(top, "branch", "-D", name)
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, _NothingChanged):
            return Landed(PinsEvidence(), note="no file changed: no branch made", notes=notes)
        raise
    _git(top, "worktree", "remove", "--force", str(tree))
    shutil.rmtree(tmp, ignore_errors=True)
    _git(top, "worktree", "prune")
    rels = sorted(p.removeprefix(prefix.as_posix() + "/") if str(prefix) != "." else p for p in paths)
    evidence = PinsEvidence(files=rels, branch=name, commit=commit, base=base)
    return Landed(evidence, note=f"not pushed; {HOOKS_NOTE}; review it: git show {name}", notes=notes)


def _changed(tree: Path) -> set[str]:
    """Paths changed in the worktree (a regenerated lockfile), relative to its top."""
    done = _git(tree, "status", "--porcelain", "-z", "--untracked-files=all")
    return {entry[3:] for entry in done.stdout.split("\0") if len(entry) > 3} if done.ok else set()


def _author(top: Path) -> dict[str, str]:
    """The user's identity as git knows it for the project; oxwizard's when none is set."""
    name = os.environ.get("GIT_AUTHOR_NAME") or _git(top, "config", "user.name").stdout.strip()
    email = os.environ.get("GIT_AUTHOR_EMAIL") or _git(top, "config", "user.email").stdout.strip()
    name, email = name or DEFAULT_AUTHOR[0], email or DEFAULT_AUTHOR[1]
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email}  # fmt: skip


def _patch(project: Path, after: Mapping[str, str], diff: str, runbook_id: str) -> Landed:
    if not diff:
        return Landed(PinsEvidence(), note="not a git project, and no file changed: no patch written")
    path = runbook_repo_path(project) / "patches" / f"{runbook_id}.patch"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(diff.encode("utf-8"))
    rel = path.relative_to(project).as_posix()
    evidence = PinsEvidence(files=sorted(after), patch=rel)
    return Landed(evidence, note="not a git project: your files are unchanged; the patch applies them")


def remove_branch(project: Path, evidence: PinsEvidence) -> tuple[bool, str]:
    """Delete the branch oxwizard made, only while it is unmerged and its tip is still oxwizard's
    commit: (removed, what was done or why not). A patch is left where it is (it changes nothing)."""
    if not evidence.branch or not evidence.commit:
        if evidence.patch:
            return False, f"the patch {evidence.patch} is left (it was never applied by oxwizard)"
        return False, "no branch was made"
    top = git_top(project)
    name = evidence.branch
    if top is None:
        return False, f"branch {name} left: {project} is no longer a git project"
    tip = _git(top, "rev-parse", "--verify", "-q", f"refs/heads/{name}")
    if not tip.ok:
        return False, f"branch {name} is gone already"
    if tip.stdout.strip() != evidence.commit:
        return False, f"branch {name} left: it has commits since oxwizard's ({tip.stdout.strip()[:12]})"
    current = _git(top, "symbolic-ref", "-q", "--short", "HEAD").stdout.strip()
    if current == name:
        return False, f"branch {name} left: it is checked out"
    merged = _git(top, "branch", "--format=%(refname:short)", "--contains", evidence.commit)
    others = [b for b in merged.stdout.split() if b != name] if merged.ok else ["?"]
    if others:
        return False, f"branch {name} left: merged into {', '.join(others)}"
    _ok(_git(top, "branch", "-D", name), f"branch -D {name}")
    return True, f"branch {name} removed (unmerged, still oxwizard's commit {evidence.commit[:12]})"
