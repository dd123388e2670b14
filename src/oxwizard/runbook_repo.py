"""The git repository that holds runbooks: one commit per decision, never the user's own branch.

By default it is ``PROJECT/.oxwizard/``, created on first use as its own repository and excluded
from the project's git through ``.git/info/exclude``. Every git call goes through :meth:`_git`,
which disables hooks and fsmonitor whatever the repository's or the user's config says.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from oxwizard.errors import RunbookError
from oxwizard.redact import redact_text
from oxwizard.runbook import Decision, Runbook, dump_runbook, load_runbook

DEFAULT_AUTHOR = ("oxwizard", "oxwizard@localhost")
GIT_SAFETY = [
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "core.autocrlf=false",
]
IGNORED = ["checkpoints/*/", "staging/", "*.lock", "*.tmp", "journal/"]


@dataclass(frozen=True)
class LogEntry:
    sha: str
    message: str
    when: str


class RunbookRepo:
    """A runbook repository. Use as a context manager so the git handle is always closed."""

    def __init__(self, path: Path) -> None:
        import git  # gitpython costs ~0.1 s to import: only when a repo is really used

        self.path = path
        self._git_module = git
        created = not (path / ".git").exists()
        path.mkdir(parents=True, exist_ok=True)
        try:
            self.repo = git.Repo.init(path) if created else git.Repo(path)
        except git.GitError as exc:
            raise RunbookError(f"{path}: not a usable runbook repository: {redact_text(str(exc))}") from None
        if created:
            try:
                (path / ".gitignore").write_text("\n".join(IGNORED) + "\n", encoding="utf-8")
                self._commit([".gitignore"], "init: runbook repository")
                _exclude_from_project(path)
            except BaseException:
                self.repo.close()
                raise

    @classmethod
    def for_project(cls, project: Path) -> RunbookRepo:
        return cls(project.resolve() / ".oxwizard")

    def __enter__(self) -> RunbookRepo:
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.repo.close()

    # -- runbooks ---------------------------------------------------------------------------------
    def runbook_path(self, runbook_id: str) -> Path:
        return self.path / "runbooks" / f"{runbook_id}.json"

    def save(self, runbook: Runbook, message: str, extra: list[Path] | None = None) -> str:
        """Write ``runbook`` and commit it (plus ``extra`` files inside the repo) as one commit."""
        path = self.runbook_path(runbook.id)
        dump_runbook(runbook, path)
        files = [path, *(extra or [])]
        return self._commit([str(p.relative_to(self.path)) for p in files], message)

    def decide(self, runbook: Runbook, decision: Decision, extra: list[Path] | None = None) -> str:
        """Record one decision: append it and commit, in one step."""
        runbook.record(decision)
        return self.save(runbook, decision.commit_message(), extra)

    def commit(self, files: list[Path], message: str) -> str:
        """Commit ``files`` (inside the repo) as one commit, e.g. a replay's report."""
        return self._commit([str(p.relative_to(self.path)) for p in files], message)

    def runbooks(self) -> list[Path]:
        return sorted((self.path / "runbooks").glob("*.json"))

    def latest(self) -> Runbook | None:
        paths = self.runbooks()
        return load_runbook(paths[-1]) if paths else None

    def log(self, limit: int = 50) -> list[LogEntry]:
        out = self._git("log", f"-{limit}", "--format=%h%x00%s%x00%cI")
        entries = []
        for line in out.splitlines():
            sha, msg, when = line.split("\x00")
            entries.append(LogEntry(sha, msg, when))
        return entries

    def origin(self) -> str:
        """An identity for this repository: its root commit (stable across clones)."""
        return self._git("rev-list", "--max-parents=0", "HEAD").splitlines()[-1].strip()

    # -- git ----------------------------------------------------------------------------------------
    def _git(self, *args: str) -> str:
        try:
            return str(self.repo.git.execute(["git", *GIT_SAFETY, *args]))
        except self._git_module.GitCommandError as exc:
            raise RunbookError(
                f"{self.path}: git {args[0]} failed: {redact_text(str(exc.stderr).strip())}"
            ) from None

    def _commit(self, files: list[str], message: str) -> str:
        git_dir = self.path / ".git"
        for marker in ("MERGE_HEAD", "REBASE_HEAD", "CHERRY_PICK_HEAD", "rebase-merge"):
            if (git_dir / marker).exists():
                raise RunbookError(f"{self.path}: runbook repository is mid-merge; finish it first")
        dirty = [
            line[3:]
            for line in self._git("status", "--porcelain").splitlines()
            if line[3:] not in files and not line.startswith("??")
        ]
        if dirty:
            raise RunbookError(
                f"{self.path}: runbook repository has uncommitted changes ({dirty[0]}); "
                "commit or discard them first"
            )
        name, email = self._author()
        env = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        with self.repo.git.custom_environment(**env):
            self._git("add", "--", *files)
            self._git("commit", "--no-verify", "-q", "-m", redact_text(message), "--", *files)
        return self._git("rev-parse", "--short", "HEAD").strip()

    def _author(self) -> tuple[str, str]:
        name = os.environ.get("GIT_AUTHOR_NAME")
        email = os.environ.get("GIT_AUTHOR_EMAIL")
        if name and email:
            return name, email
        # Ask git itself, so that every config level (GIT_CONFIG_GLOBAL, includes) counts.
        name = name or self._config("user.name")
        email = email or self._config("user.email")
        return (name or DEFAULT_AUTHOR[0], email or DEFAULT_AUTHOR[1])

    def _config(self, key: str) -> str:
        try:
            return str(self.repo.git.execute(["git", *GIT_SAFETY, "config", "--get", key])).strip()
        except self._git_module.GitCommandError:  # unset (exit 1) or unreadable config
            return ""


def _exclude_from_project(path: Path) -> None:
    """Add the runbook folder to the project's ``.git/info/exclude`` when the project is a repo."""
    project_git = path.parent / ".git"
    if not project_git.is_dir():
        return
    exclude = project_git / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    line = f"/{path.name}/"
    existing = exclude.read_text(encoding="utf-8") if exclude.exists() else ""
    if line not in existing.splitlines():
        with exclude.open("a", encoding="utf-8") as fh:
            fh.write(("" if existing.endswith("\n") or not existing else "\n") + line + "\n")
