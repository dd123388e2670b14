"""The git repository that holds runbooks: one commit per decision, never the user's own branch.

By default it is ``PROJECT/.oxwizard/``, created on first use as its own repository and excluded
from the project's git through ``.git/info/exclude``. Every git call goes through :meth:`_git`,
which disables hooks and fsmonitor whatever the repository's or the user's config says.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from oxwizard.core.errors import RunbookError
from oxwizard.core.places import runbook_repo_path
from oxwizard.core.redact import redact_text
from oxwizard.runbook.model import Decision, Runbook, dump_runbook, load_runbook

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
STALE_GIT_LOCK = 5.0  # seconds: a git index.lock older than this, seen under our lock, was left by a crash

_GUARD = threading.Lock()
# the author git's configuration names, per repository and the variables that choose the config
_AUTHORS: dict[tuple[str, ...], tuple[str, str]] = {}
_AUTHOR_ENV = ("HOME", "XDG_CONFIG_HOME", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM")
_LOCKS: dict[str, threading.RLock] = {}
_DEPTH: dict[str, int] = {}


@contextlib.contextmanager
def repo_lock(path: Path) -> Iterator[None]:
    """Hold the write lock of the runbook repository at ``path``: one writer at a time, across
    processes (an ``flock`` on ``PATH/.repo.lock``, released by the kernel when a holder dies) and
    across threads; re-entrant within one thread. Every write of :class:`RunbookRepo` takes it, so
    runs of different environments sharing one project, and fleet hosts sharing one repository,
    commit one after the other instead of tripping over each other's half-written files."""
    key = str(path.resolve())
    with _GUARD:
        rlock = _LOCKS.setdefault(key, threading.RLock())
    with rlock:
        depth = _DEPTH.get(key, 0)
        fd = -1
        if depth == 0:
            path.mkdir(parents=True, exist_ok=True)
            fd = os.open(path / ".repo.lock", os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)  # commits are short: wait for the other writer
        _DEPTH[key] = depth + 1
        try:
            yield
        finally:
            _DEPTH[key] = depth
            if fd >= 0:
                os.close(fd)


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
        with repo_lock(path):  # two first runs at once: one creates, the other opens
            created = not (path / ".git").exists()
            try:
                self.repo = git.Repo.init(path) if created else git.Repo(path)
            except git.GitError as exc:
                raise RunbookError(
                    f"{path}: not a usable runbook repository: {redact_text(str(exc))}"
                ) from None
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
        return cls(runbook_repo_path(project))

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

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """This repository's write lock (see :func:`repo_lock`), for a read-then-write done as one."""
        return repo_lock(self.path)

    def free_id(self, wanted: str) -> str:
        """``wanted``, or ``wanted-2``, ``-3``… when a runbook of that id exists already (two runs
        started in the same second). Call under :meth:`locked` and save before releasing it."""
        candidate, n = wanted, 1
        while self.runbook_path(candidate).exists():
            n += 1
            candidate = f"{wanted}-{n}"
        return candidate

    def save(
        self, runbook: Runbook, message: str, extra: list[Path] | None = None, *, maintain: bool = True
    ) -> str:
        """Write ``runbook`` and commit it (plus ``extra`` files inside the repo) as one commit.
        ``maintain``: let git's automatic maintenance (``gc --auto``) look at the repository after."""
        with self.locked():
            path = self.runbook_path(runbook.id)
            dump_runbook(runbook, path)
            files = [path, *(extra or [])]
            return self._commit([str(p.relative_to(self.path)) for p in files], message, maintain=maintain)

    def decide(self, runbook: Runbook, decision: Decision, extra: list[Path] | None = None) -> str:
        """Record one decision: append it and commit, in one step. git's automatic maintenance is
        left to the outcome's commit (once a run, not a dozen times: a git child each)."""
        runbook.record(decision)
        return self.save(runbook, decision.commit_message(), extra, maintain=decision.step == "outcome")

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

    def committed(self, path: Path) -> bytes | None:
        """The bytes of ``path`` as committed at HEAD, or None when ``path`` is not inside this
        repository's working tree or HEAD has no file there (untracked, or no commit yet)."""
        try:
            rel = path.resolve().relative_to(self.path.resolve()).as_posix()
        except ValueError:
            return None
        if rel in ("", ".") or rel.split("/", 1)[0] == ".git":
            return None
        try:
            blob = self.repo.git.execute(
                ["git", *GIT_SAFETY, "cat-file", "blob", f"HEAD:{rel}"],
                stdout_as_string=False,
                strip_newline_in_stdout=False,
            )
        except self._git_module.GitCommandError:  # no such file at HEAD, or no HEAD at all
            return None
        return blob if isinstance(blob, bytes) else None

    # -- git ----------------------------------------------------------------------------------------
    def _git(self, *args: str) -> str:
        try:
            return str(self.repo.git.execute(["git", *GIT_SAFETY, *args]))
        except self._git_module.GitCommandError as exc:
            raise RunbookError(
                f"{self.path}: git {_verb(args)} failed: {redact_text(str(exc.stderr).strip())}"
            ) from None

    def _commit(self, files: list[str], message: str, *, maintain: bool = True) -> str:
        with self.locked():
            git_dir = self.path / ".git"
            for marker in ("MERGE_HEAD", "REBASE_HEAD", "CHERRY_PICK_HEAD", "rebase-merge"):
                if (git_dir / marker).exists():
                    raise RunbookError(f"{self.path}: runbook repository is mid-merge; finish it first")
            self._set_aside_stale_git_lock()
            status = self._git("status", "--porcelain", "--no-renames", "-uno")
            changed = [line[3:] for line in status.splitlines()]
            left = [path for path in changed if path not in files]
            if left:
                # A run that died between writing a file and committing it (or a hand edit): keep
                # exactly what is there in a commit of its own, so nothing is lost and no later run
                # is refused because of it.
                self._commit_as_is(
                    left,
                    f"recovered: {len(left)} file(s) left uncommitted: {', '.join(left[:3])}",
                    maintain=False,
                )
            # files git already tracks (changed ones: all of ours are) are committed by `git commit
            # -- paths` alone; a new one (a runbook's first decision, evidence) is added first
            return self._commit_as_is(files, message, maintain=maintain, add=not set(files) <= set(changed))

    def _set_aside_stale_git_lock(self) -> None:
        """git's own ``index.lock`` left by a killed git: renamed aside (never deleted) when old.
        Under our write lock no oxwizard process is mid-commit, so only a crash leaves one behind."""
        index_lock = self.path / ".git" / "index.lock"
        with contextlib.suppress(OSError):
            if time.time() - index_lock.stat().st_mtime > STALE_GIT_LOCK:
                index_lock.rename(index_lock.with_name(f"index.lock.stale-{int(time.time())}"))

    def _commit_as_is(
        self, files: list[str], message: str, *, maintain: bool = True, add: bool = True
    ) -> str:
        name, email = self._author()
        env = {
            "GIT_AUTHOR_NAME": name,
            "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name,
            "GIT_COMMITTER_EMAIL": email,
        }
        with self.repo.git.custom_environment(**env):
            if add:
                self._git("add", "-A", "--", *files)
            quiet = () if maintain else ("-c", "maintenance.auto=false", "-c", "gc.auto=0")
            said = self._git(*quiet, "commit", "--no-verify", "-m", redact_text(message), "--", *files)
        # "[main abc1234] message" or "[main (root-commit) abc1234] message": no rev-parse needed
        head = said.partition("]")[0].split()
        return head[-1] if len(head) >= 2 else self._git("rev-parse", "--short", "HEAD").strip()

    def _author(self) -> tuple[str, str]:
        name = os.environ.get("GIT_AUTHOR_NAME")
        email = os.environ.get("GIT_AUTHOR_EMAIL")
        if name and email:
            return name, email
        # Ask git itself, so that every config level (GIT_CONFIG_GLOBAL, includes) counts; again only
        # when a configuration file changed (a flow commits a dozen times: two git starts each saved).
        key = (str(self.path), *(os.environ.get(k, "") for k in _AUTHOR_ENV), *self._config_stamps())
        found = _AUTHORS.get(key)
        if found is None:
            found = _AUTHORS[key] = (self._config("user.name"), self._config("user.email"))
        return (name or found[0] or DEFAULT_AUTHOR[0], email or found[1] or DEFAULT_AUTHOR[1])

    def _config_stamps(self) -> list[str]:
        """The size and mtime of every file git reads its configuration from (this repository's, the
        user's and the system's), as far as they are known without asking git."""
        home = Path(os.environ.get("HOME", "~")).expanduser()
        xdg = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
        files = [
            self.path / ".git" / "config",
            home / ".gitconfig",
            xdg / "git" / "config",
            Path("/etc/gitconfig"),
        ]
        files += [
            Path(os.environ[k]) for k in ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM") if os.environ.get(k)
        ]
        stamps = []
        for path in files:
            try:
                st = path.stat()
                stamps.append(f"{st.st_size}:{st.st_mtime_ns}")
            except OSError:
                stamps.append("-")
        return stamps

    def _config(self, key: str) -> str:
        try:
            return str(self.repo.git.execute(["git", *GIT_SAFETY, "config", "--get", key])).strip()
        except self._git_module.GitCommandError:  # unset (exit 1) or unreadable config
            return ""


def _verb(args: tuple[str, ...]) -> str:
    """The git command in ``args`` (after any ``-c name=value``)."""
    return next((a for a in args if not a.startswith("-") and "=" not in a), args[0])


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
