"""The planned edits of the project's files, applied: the writing side of :mod:`.project_files`.

:func:`edited_files` turns a :class:`~oxwizard.env.project_files.ProjectFiles` plan into the new
content of each file it edits, reading the files as they are now and refusing (one line, nothing
written) when a planned line is no longer there: the file changed since it was planned. Each edit
replaces exactly its line; every other byte stays (line endings, comments, markers, extras,
continuation lines). A requirement whose line carries ``--hash`` options gets them recomputed from
the wheel of the new version (:func:`wheel_hashes`: pip downloads the file pip installs, with the
same package sources, into a temporary folder, and its sha256 is taken); the ``--hash`` options of
every other requirement stay as they were. pyproject.toml lines were planned with tomlkit (style
kept), and the edited file must still parse.

:func:`unified_diff` is the change as a unified diff that ``patch -p1`` (or ``git apply``) applies
in the project folder; :func:`write_files` writes the new contents into a folder (a worktree).
Nothing here decides where the edits land (see :mod:`oxwizard.runbook.project_branch`).
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path

from packaging.utils import canonicalize_name, parse_wheel_filename

from oxwizard.core import proc
from oxwizard.core.errors import ProjectFilesError
from oxwizard.env.project_files import MAX_FILE, FileEdit, ProjectFiles, diff_texts

_HASH = re.compile(r"--hash[=\s]\s*[A-Za-z0-9]+:[0-9A-Fa-f]+")
_COMMENT = re.compile(r"(^|\s+)#.*$")  # as pip finds a comment


def read_text(path: Path) -> str:
    """A project file as text (utf-8, size-capped), or a one-line :class:`ProjectFilesError`."""
    try:
        if path.stat().st_size > MAX_FILE:
            raise ProjectFilesError(f"{path}: too large to edit")
        return path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectFilesError(f"{path}: cannot read: {exc}") from None


def pins_of(files: ProjectFiles, versions: Mapping[str, str]) -> dict[str, str]:
    """The new version of each distribution an edit with ``--hash`` options is about."""
    out: dict[str, str] = {}
    for edit in files.edits:
        if edit.hashes:
            for name in (n.strip() for n in edit.name.split(",")):
                if canonicalize_name(name) in versions:
                    out[canonicalize_name(name)] = versions[canonicalize_name(name)]
    return out


def edited_files(
    project: Path,
    files: ProjectFiles,
    *,
    hashes: Mapping[str, str] | None = None,
    texts: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The new text of every file ``files`` edits (relative posix path -> text), reading each from
    ``texts`` when given there, else from ``project``. ``hashes``: canonical name -> the sha256 of the
    wheel installed, for the requirements written with ``--hash``. Raises
    :class:`ProjectFilesError` when a planned line is not what the plan saw (nothing is written)."""
    by_path: dict[str, list[FileEdit]] = {}
    for edit in files.edits:
        by_path.setdefault(edit.path, []).append(edit)
    out: dict[str, str] = {}
    for rel, edits in by_path.items():
        text = texts[rel] if texts is not None and rel in texts else read_text(project / rel)
        out[rel] = apply_edits(rel, text, edits, hashes or {})
        if rel.endswith(".toml"):
            try:
                tomllib.loads(out[rel])
            except tomllib.TOMLDecodeError as exc:
                raise ProjectFilesError(
                    f"{rel}: the edited file would not parse ({exc}); nothing written"
                ) from None
    return out


def apply_edits(rel: str, text: str, edits: list[FileEdit], hashes: Mapping[str, str]) -> str:
    """``text`` with each edit's line replaced (its own line ending kept) and, for a requirement
    written with ``--hash``, its hash options replaced by the new wheel's."""
    lines = text.splitlines(keepends=True)  # the planner counted lines with str.splitlines
    for edit in sorted(edits, key=lambda e: e.line, reverse=True):  # bottom up: line numbers hold
        i = edit.line - 1
        body = lines[i][: len(lines[i]) - len(_ending(lines[i]))] if i < len(lines) else None
        if body != edit.old:
            raise ProjectFilesError(
                f"{rel}:{edit.line} changed since the upgrade was planned (expected {edit.old.strip()!r}); "
                "nothing written: plan again"
            )
        lines[i] = edit.new + _ending(lines[i])
        if edit.hashes:
            names = [canonicalize_name(n.strip()) for n in edit.name.split(",")]
            new = [hashes[n] for n in names if n in hashes]
            if len(new) != len(names):
                raise ProjectFilesError(
                    f"{rel}:{edit.line}: no wheel hash for {edit.name}; nothing written (--hash lines "
                    "must match the installed wheel)"
                )
            lines[i : _logical_end(lines, i) + 1] = _rehash(lines[i : _logical_end(lines, i) + 1], new)
    return "".join(lines)


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :] if line.endswith(("\n", "\r")) else ""


def _continues(line: str) -> bool:
    return line.rstrip("\r\n").endswith("\\")


def _logical_end(lines: list[str], start: int) -> int:
    end = start
    while _continues(lines[end]) and end + 1 < len(lines):
        end += 1
    return end


def _rehash(group: list[str], new: list[str]) -> list[str]:
    """One logical requirement line (its physical lines): the first ``--hash`` option becomes the new
    wheel's (one per name), the others go (a physical line left with nothing but them goes whole). A
    comment ending the entry stays at the end of its last line, with the spacing before it."""
    out: list[str] = []
    placed = False
    for line in group:
        ending = _ending(line)
        body = line[: len(line) - len(ending)]
        comment = ""  # a comment on a line that continues swallows the lines after it, as pip reads it
        if not _continues(line) and (m := _COMMENT.search(body)):
            body, comment = body[: m.start()], body[m.start() :]
        found = list(_HASH.finditer(body))
        if not found:
            out.append(line)
            continue
        rest = _HASH.sub("", body)
        if not placed:
            first = found[0]
            replacement = " ".join(f"--hash=sha256:{h}" for h in new)
            body = body[: first.start()] + replacement + _HASH.sub("", body[first.end() :]).rstrip(" \t")
            if _continues(line) and not body.endswith("\\"):
                body += " \\"
            out.append(body + comment + ending)
            placed = True
        elif rest.strip().strip("\\").strip():  # something else on the line: only the options go
            out.append(rest.rstrip(" \t") + comment + ending if comment else rest + ending)
        elif comment:  # nothing but options and the comment: the comment ends the line before
            out[-1] = _unjoined(out[-1]) + comment + ending
    if not _continues(group[-1]) and out and _continues(out[-1]):
        out[-1] = _unjoined(out[-1]) + _ending(out[-1])
    return out


def _unjoined(line: str) -> str:
    """``line`` without its line ending and its continuation (`` \\``)."""
    return line[: len(line) - len(_ending(line))].rstrip("\\").rstrip(" \t")


def wheel_hashes(pip_argv: list[str], pip_args: list[str], pins: Mapping[str, str]) -> dict[str, str]:
    """sha256 of the wheel of each ``name==version`` in ``pins``, as pip picks it for the environment
    (``pip_argv``: the environment's pip; ``pip_args``: the package sources, as every install gets
    them). pip downloads it into a temporary folder, which is removed."""
    out: dict[str, str] = {}
    for name, version in sorted(pins.items()):
        with tempfile.TemporaryDirectory(prefix="oxwizard-wheel-") as tmp:
            argv = [*pip_argv, "download", "--no-deps", "--only-binary=:all:", "--dest", tmp, *pip_args]
            done = proc.run([*argv, "--", f"{name}=={version}"], env=proc.pip_environment(), timeout=600)
            wheels = [
                p
                for p in Path(tmp).glob("*.whl")
                if canonicalize_name(parse_wheel_filename(p.name)[0]) == canonicalize_name(name)
            ]
            if not done.ok or len(wheels) != 1:
                why = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
                raise ProjectFilesError(f"cannot get the wheel of {name}=={version} to hash it: {why}")
            out[canonicalize_name(name)] = hashlib.sha256(wheels[0].read_bytes()).hexdigest()
    return out


def unified_diff(before: Mapping[str, str], after: Mapping[str, str]) -> str:
    """The change from ``before`` to ``after`` (relative path -> text; a path missing from
    ``before`` is a new file) as one unified diff for ``patch -p1`` run in the project folder,
    files sorted by path."""
    return diff_texts(before, {rel: after[rel] for rel in sorted(after)})


def write_files(root: Path, contents: Mapping[str, str]) -> None:
    """Write each file of ``contents`` under ``root`` (bytes exactly as given, utf-8)."""
    for rel, text in contents.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
