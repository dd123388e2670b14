"""The write-ahead journal: what an operation on a live environment is about to do.

``ENV_ROOT/.oxwizard/journal.json`` is written (atomically, fsynced) before apply or rollback
touches a file, and removed when the operation has finished and been verified. If it is still there
when the next oxwizard command opens the environment, that operation was interrupted (SIGKILL,
power loss) and :mod:`oxwizard.safety.recovery` completes the rollback to ``checkpoint_id``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from oxwizard.core.errors import CheckpointError
from oxwizard.core.places import fsync_dir, state_dir, state_path, write_atomic
from oxwizard.env.environment import Environment

JOURNAL_SCHEMA = 1
JOURNAL_NAME = "journal.json"

Operation = Literal["apply", "rollback"]


class Journal(BaseModel):
    """An operation in progress on the environment."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = JOURNAL_SCHEMA
    operation: Operation
    checkpoint_id: str
    pid: int = Field(default_factory=os.getpid)
    command: str = ""
    started_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    pins: list[str] = Field(default_factory=list)
    # Names in site-packages and bin/ before the operation started (relative to the env root): what
    # is new after an interruption was created by this operation.
    listings: dict[str, list[str]] = Field(default_factory=dict)
    # Rollback: every path it is about to remove (relative to the env root), written before the first
    # removal, so that a rerun still finds files whose RECORD is already gone.
    remove: list[str] = Field(default_factory=list)
    # Rollback: folders restored by a rename (their stash copy is consumed once swapped back).
    swap: list[str] = Field(default_factory=list)


def journal_file(env: Environment | Path) -> Path:
    return state_path(env) / JOURNAL_NAME


def pending(env: Environment | Path) -> bool:
    """Cheap (one stat): is there an unfinished operation?"""
    return journal_file(env).exists()


def write_journal(env: Environment, journal: Journal) -> None:
    state_dir(env)
    write_atomic(journal_file(env), journal.model_dump_json(indent=2))


def read_journal(env: Environment | Path) -> Journal | None:
    path = journal_file(env)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        return migrate(Journal.model_validate_json(text))
    except ValidationError as exc:
        raise CheckpointError(f"unreadable journal {path}: {exc.errors()[0]['msg']}") from None


def migrate(journal: Journal) -> Journal:
    """Bring an older journal to the current schema (version 1 is the first)."""
    if journal.schema_version > JOURNAL_SCHEMA:
        raise CheckpointError(f"journal schema {journal.schema_version} is newer than this oxwizard")
    return journal


def clear_journal(env: Environment | Path) -> None:
    path = journal_file(env)
    try:
        path.unlink()
    except FileNotFoundError:
        return
    fsync_dir(path.parent)


def listings(env: Environment) -> dict[str, list[str]]:
    """The names directly in each site-packages folder and in the scripts folder (a few scandirs)."""
    out: dict[str, list[str]] = {}
    for folder in [*env.site_paths, env.scripts]:
        try:
            rel = str(folder.relative_to(env.root))
            out[rel] = sorted(os.listdir(folder))
        except (OSError, ValueError):
            continue
    return out
