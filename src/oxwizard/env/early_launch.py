"""The plan's dry run, started first thing: before argparse, the engine or even ``subprocess`` is
imported (with ``os`` and ``zlib`` only, 5 ms into the command instead of 40).

A plan remembers the shape of its command line (``oxwizard plan ARGS``, the targets marked) and the
dry run's command line it ran (without the targets), in one small file per working folder and
virtualenv in the cache (``dry-run/early-XXXXXXXX``, mode 0600, the 8 most recent shapes). The next
``oxwizard plan`` whose arguments have a remembered shape, with plain targets (a name, extras and
version clauses: never a path, a URL, a marker or an option) where the shape has its targets, starts
that dry run for its own targets at once, with ``os.posix_spawn`` (a process group of its own; its
output to files beside its report). :class:`oxwizard.env.dry_run.EarlyDryRun` then uses its answer
only when the plan's own command line, computed as always, is the same word for word; otherwise the
early one is killed. So a remembered line that no longer holds costs a killed child, never a
different plan.

uv's dry run (an environment uv installs into: :mod:`oxwizard.env.uv_plan`) is remembered the same
way, with what its environment adds to :func:`oxwizard.core.pipenv.uv_environment` first
(``SSL_CERT_FILE=...``) and :data:`UPGRADE` where its ``--upgrade-package=TARGET`` options stand.
"""

from __future__ import annotations

import os
import signal
import zlib

from oxwizard.core.pipenv import cache_root, pip_environment, uv_environment

REPORT = "{report}"  # where the report's path stands in a remembered dry-run command line
UPGRADE = "{upgrade}"  # where uv's ``--upgrade-package=TARGET`` options stand, one per target
UPGRADE_OPTION = "--upgrade-package="
TARGET = "\0"  # where a target stands in a remembered shape (no argument can hold a NUL)
KEEP = 8  # shapes remembered per working folder
_TOKEN, _FIELD, _RECORD = "\x1d", "\x1f", "\x1e"  # separators in the file (refused in arguments)
# A target started early: a name, extras, version clauses; never a path, a URL, a marker or an option.
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-[],=<>!~*+")


def plain(text: str) -> bool:
    """Is ``text`` a target that may be started before it is parsed?"""
    return bool(text) and text[0].isascii() and text[0].isalnum() and set(text) <= _PLAIN


def _shapes_file() -> str:
    """The file of remembered shapes for this working folder and virtualenv."""
    where = "\0".join([os.getcwd(), os.environ.get("VIRTUAL_ENV", "")])
    key = zlib.crc32(where.encode("utf-8", "surrogateescape"))
    return os.path.join(cache_root(), "dry-run", f"early-{key:08x}")


Shape = tuple[list[str], list[str], str]  # the arguments (targets marked), the dry run's line, its root


def _read(path: str) -> list[Shape]:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except (OSError, ValueError):
        return []
    out: list[Shape] = []
    for record in text.split(_RECORD):
        fields = record.split(_FIELD)
        if len(fields) == 3:
            out.append((fields[0].split(_TOKEN), fields[1].split(_TOKEN), fields[2]))
    return out


def _runnable(line: list[str]) -> bool:
    """A dry run as a plan remembers one: pip's, ``PYTHON -m pip install --dry-run ... --``, or uv's,
    ``[NAME=VALUE...] UV pip install ... --dry-run ... --`` (its environment's additions first)."""
    at = _command_at(line)
    head = line[at:]
    if len(head) < 5 or not os.path.isabs(head[0]) or "--dry-run" not in head or head[-1] != "--":
        return False
    if head[1:3] == ["-m", "pip"]:
        return head.count(REPORT) == 1 and at == 0 and UPGRADE not in head
    return head[1:3] == ["pip", "install"] and head.count(UPGRADE) == 1 and REPORT not in head


def split_line(line: list[str]) -> tuple[list[str], dict[str, str]]:
    """A dry run's line (as a plan remembers it, or as :func:`oxwizard.env.uv_plan.dry_run_line`
    makes it) as the command and the environment it runs in: pip's, or uv's with the line's own
    ``NAME=VALUE`` additions."""
    at = _command_at(line)
    uv = line[at + 1 : at + 3] == ["pip", "install"]  # (pip's: PYTHON -m pip install)
    environ = uv_environment() if uv else pip_environment()
    for assignment in line[:at]:
        key, _, value = assignment.partition("=")
        environ[key] = value
    return line[at:], environ


def _command_at(line: list[str]) -> int:
    """Where the program stands in a remembered line (after its environment's ``NAME=VALUE``)."""
    at = 0
    while at < len(line) and "=" in line[at] and not line[at].startswith("/"):
        at += 1
    return at


class Launch:
    """One ``oxwizard plan`` command line (``rest``: its arguments after ``plan``) and the dry run
    started for it, if any (:meth:`start`)."""

    def __init__(self, rest: list[str]) -> None:
        self.rest = rest
        self.argv: list[str] | None = None  # the dry run's command line, when one was started
        self.root = ""  # the environment's root folder (as when the shape was remembered)
        self.report = ""  # where the early dry run writes its report
        self._pid: int | None = None  # the child, until it is reaped
        self._status: int | None = None  # its exit status once reaped
        self._files: list[str] = []

    @classmethod
    def start(cls, rest: list[str]) -> Launch:
        """A launch for ``rest``, its dry run started when a remembered shape fits (never raises: an
        early start is an optimisation only)."""
        launch = cls(rest)
        try:
            launch._start()
        except (OSError, ValueError):
            launch.discard()
        return launch

    def _start(self) -> None:
        shapes = _shapes_file()
        for shape, head, root in _read(shapes):
            if len(shape) != len(self.rest) or TARGET not in shape or not _runnable(head):
                continue
            if any(s != TARGET and s != a for s, a in zip(shape, self.rest, strict=True)):
                continue
            targets = [a for s, a in zip(shape, self.rest, strict=True) if s == TARGET]
            if not all(plain(t) for t in targets):
                return
            stem = os.path.join(os.path.dirname(shapes), f"report-{os.getpid()}-{id(self):x}")
            self.report, out, err = f"{stem}.json", f"{stem}.out", f"{stem}.err"
            self._files = [self.report, out, err]
            line: list[str] = []
            for a in head:
                line += (
                    [UPGRADE_OPTION + t for t in targets]
                    if a == UPGRADE
                    else [self.report if a == REPORT else a]
                )
            self.argv = line + targets
            self.root = root
            command, environ = split_line(self.argv)
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
            actions = [
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, out, flags, 0o600),
                (os.POSIX_SPAWN_OPEN, 2, err, flags, 0o600),
            ]
            self._pid = os.posix_spawn(command[0], command, environ, file_actions=actions, setpgroup=0)
            return

    def wait(self) -> tuple[int, str, str]:
        """Wait for the dry run: its exit code, stdout and stderr."""
        if self._pid is not None:
            _, status = os.waitpid(self._pid, 0)
            self._pid, self._status = None, os.waitstatus_to_exitcode(status)
        out, err = (_text(p) for p in self._files[1:3]) if self._files else ("", "")
        return (self._status if self._status is not None else -1), out, err

    def stop(self) -> None:
        """Kill the dry run and everything it started (its process group), and reap it."""
        if self._pid is None:
            return
        try:
            os.killpg(self._pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.wait()

    def discard(self) -> None:
        """Stop the dry run if it runs and remove its files."""
        self.stop()
        for path in self._files:
            try:
                os.unlink(path)
            except OSError:
                pass
        self._files = []

    def remember(self, targets: list[str], head: list[str], root: str) -> None:
        """Keep the shape of these arguments (``targets``: the plan's targets as typed, marked where
        they stand) with the dry run's command line ``head`` (its report as :data:`REPORT`, ending
        with ``--``), first in the file of shapes. Nothing is kept when a target is not found as one
        run of arguments or an argument holds a separator."""
        shape = list(self.rest)
        n = len(targets)
        at = next((i for i in range(len(shape) - n, -1, -1) if shape[i : i + n] == targets), None)
        if at is None or not n:
            return
        shape[at : at + n] = [TARGET] * n
        tokens = [*shape, *head, root]
        if any(c in t for t in tokens for c in (_TOKEN, _FIELD, _RECORD, "\0") if t != TARGET):
            return
        path = _shapes_file()
        kept = [s for s in _read(path) if s[0] != shape]
        records = [(shape, head, root), *kept][:KEEP]
        text = _RECORD.join(_FIELD.join([_TOKEN.join(s), _TOKEN.join(h), r]) for s, h, r in records)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write(text)
        os.replace(tmp, path)
        _sweep(os.path.dirname(path))


def _sweep(folder: str) -> None:
    """Remove the files of early dry runs whose plan is gone (killed with ``kill -9``: it could not
    remove them), named by its process id; a process that still runs keeps its files."""
    for name in os.listdir(folder):
        parts = name.split("-")
        if parts[0] != "report" or len(parts) < 3 or not parts[1].isdigit() or int(parts[1]) == os.getpid():
            continue
        try:
            os.kill(int(parts[1]), 0)
            continue  # still running
        except ProcessLookupError:
            pass
        except OSError:
            continue  # another user's, running
        try:
            os.unlink(os.path.join(folder, name))
        except OSError:
            pass


def _text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""
