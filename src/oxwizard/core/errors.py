"""The engine's one exception hierarchy.

Every error a user can cause or meet is an :class:`OxwizardError`. Each class carries the exit code
the CLI returns for it (documented in ``docs/cli.md``); the CLI prints ``str(error)`` as one line and
never a traceback for these.
"""

from __future__ import annotations


class OxwizardError(Exception):
    """Base class: a one-line message for the user and an exit code."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        # Keep it to one line whatever the caller passed in.
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        return str(self)


class UsageError(OxwizardError):
    """Bad input from the user: a spec, a flag, a path."""


class EnvironmentNotFound(UsageError):
    """The path given as --env is not a Python environment."""


class InvalidSpec(UsageError):
    """A package spec that is not a plain PEP 508 requirement."""


class RollbackRefused(OxwizardError):
    """A rollback that could not restore the checkpoint exactly, refused before anything changed
    (live changed outside the upgrade, and no package source to put that back): exit code 2."""


class ResolutionError(OxwizardError):
    """The resolver could not produce a plan (conflict, no such version)."""


class InstallerError(OxwizardError):
    """pip or uv failed or is not usable for this environment."""


class RunbookError(OxwizardError):
    """A runbook file or repository is malformed, unknown or refused."""


class UntrustedRunbook(RunbookError):
    """A replay refused because its runbook is not this project's own (not committed, byte for byte,
    in its runbook repository) and ``--trust`` was not given."""


class LockToolError(OxwizardError):
    """A lockfile's own tool (uv, pip-compile, poetry) failed or is absent: the files are left as
    they were; the message names the tool and its last output lines."""


class LockHeld(OxwizardError):
    """Another oxwizard process holds the lock on this environment."""


class UnsafePath(OxwizardError):
    """A RECORD path escapes the environment; nothing is written through it."""


class CheckpointError(OxwizardError):
    """A checkpoint cannot be taken (disk space, unreadable files) or found."""


class StageError(OxwizardError):
    """The staging clone could not be made (disk space, an unreadable file): live is untouched."""


class RollbackFailed(OxwizardError):
    """A rollback failed or could not be verified: a person must look."""

    exit_code = 3


class ExternallyManaged(UsageError):
    """The interpreter is marked EXTERNALLY-MANAGED (PEP 668) and no override was given."""


class Abandoned(Exception):
    """A front end's user left before answering a question of the flow: the runbook stays
    unfinished, live stays as it is, and the next start offers to resume or roll back."""


class ProjectFilesError(OxwizardError):
    """The project's files cannot be edited as planned (changed since, unreadable, no wheel to hash),
    or the edits cannot land (a branch of that name exists): nothing was written."""
