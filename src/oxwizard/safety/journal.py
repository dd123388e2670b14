"""The write-ahead journal: what an operation on a live environment is about to do.

``ENV_ROOT/.oxwizard/journal.json`` is written (atomically, fsynced) before apply or rollback
touches a file, and removed when the operation has finished and been verified. If it is still there
when the next oxwizard command opens the environment, that operation was interrupted (SIGKILL,
power loss) and :mod:`oxwizard.safety.recovery` completes the rollback to ``checkpoint_id``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal, get_args

from oxwizard.core.errors import CheckpointError
from oxwizard.core.places import fsync_dir, state_dir, state_path, write_atomic

if TYPE_CHECKING:
    from oxwizard.env.interpreter import Interpreter

JOURNAL_SCHEMA = 1
JOURNAL_NAME = "journal.json"

Operation = Literal["apply", "rollback"]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Journal:
    """An operation in progress on the environment (a plain class, neither a model nor a dataclass:
    the rollback verb writes one, and imports neither pydantic nor dataclasses' inspect)."""

    def __init__(
        self,
        operation: Operation,
        checkpoint_id: str,
        *,
        schema_version: int = JOURNAL_SCHEMA,
        pid: int | None = None,
        command: str = "",
        started_at: str | None = None,
        pins: list[str] | None = None,
        listings: dict[str, list[str]] | None = None,
        remove: list[str] | None = None,
        swap: list[str] | None = None,
    ) -> None:
        self.schema_version = schema_version
        self.operation: Operation = operation
        self.checkpoint_id = checkpoint_id
        self.pid = os.getpid() if pid is None else pid
        self.command = command
        self.started_at = _now() if started_at is None else started_at
        self.pins = pins if pins is not None else []
        # Names in site-packages and bin/ before the operation started (relative to the env root):
        # what is new after an interruption was created by this operation.
        self.listings = listings if listings is not None else {}
        # Rollback: every path it is about to remove (relative to the env root), written before the
        # first removal, so that a rerun still finds files whose RECORD is already gone.
        self.remove = remove if remove is not None else []
        # Rollback: folders restored by a rename (their stash copy is consumed once swapped back).
        self.swap = swap if swap is not None else []

    def to_json(self) -> str:
        return json.dumps(vars(self), indent=2, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Journal:
        """The journal ``text`` holds; ValueError naming what is wrong (unknown or missing field, a
        value of the wrong type)."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if unknown := sorted(set(data) - _FIELDS):
            raise ValueError(f"unknown field {unknown[0]!r}")
        for name in ("operation", "checkpoint_id"):
            if name not in data:
                raise ValueError(f"missing field {name!r}")
        if data["operation"] not in get_args(Operation):
            raise ValueError(f"operation {data['operation']!r} is not one of {get_args(Operation)}")
        ints, strs = ("schema_version", "pid"), ("checkpoint_id", "command", "started_at")
        for name, ok in [(n, _is(int)) for n in ints] + [(n, _is(str)) for n in strs]:
            if name in data and not ok(data[name]):
                raise ValueError(f"{name} is not a {'number' if name in ints else 'string'}")
        for name in ("pins", "remove", "swap"):
            if name in data and not _strings(data[name]):
                raise ValueError(f"{name} is not a list of strings")
        listed = data.get("listings", {})
        if not isinstance(listed, dict) or not all(_strings(v) for v in listed.values()):
            raise ValueError("listings is not an object of lists of strings")
        return cls(**data)


_FIELDS = set(vars(Journal("apply", "")))


def _is(kind: type) -> Callable[[object], bool]:
    return lambda value: type(value) is kind


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def journal_file(env: Interpreter | Path) -> Path:
    return state_path(env) / JOURNAL_NAME


def pending(env: Interpreter | Path) -> bool:
    """Cheap (one stat): is there an unfinished operation?"""
    return journal_file(env).exists()


def write_journal(env: Interpreter, journal: Journal) -> None:
    state_dir(env)
    write_atomic(journal_file(env), journal.to_json())


def read_journal(env: Interpreter | Path) -> Journal | None:
    path = journal_file(env)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return migrate(Journal.from_json(text))
    except ValueError as exc:
        raise CheckpointError(f"unreadable journal {path}: {exc}") from None


def migrate(journal: Journal) -> Journal:
    """Bring an older journal to the current schema (version 1 is the first)."""
    if journal.schema_version > JOURNAL_SCHEMA:
        raise CheckpointError(f"journal schema {journal.schema_version} is newer than this oxwizard")
    return journal


def clear_journal(env: Interpreter | Path) -> None:
    path = journal_file(env)
    try:
        path.unlink()
    except FileNotFoundError:
        return
    fsync_dir(path.parent)


def listings(env: Interpreter) -> dict[str, list[str]]:
    """The names directly in each site-packages folder and in the scripts folder (a few scandirs)."""
    out: dict[str, list[str]] = {}
    for folder in [*env.site_paths, env.scripts]:
        try:
            rel = str(folder.relative_to(env.root))
            out[rel] = sorted(os.listdir(folder))
        except (OSError, ValueError):
            continue
    return out
