"""The runbook: one upgrade's record (targets, environment, plan, checks, decisions).

Runbooks are pydantic models with a ``schema_version``, stored as indented JSON with a stable key
order, and treated as untrusted input when read: unknown fields are refused, the size is capped,
older schema versions are migrated explicitly, and a plan that no longer matches its own recorded
digest and summary is refused as tampered. Every write also records ``runbook_digest``, the sha256 of
the whole document as written (targets, plan, checks with their commands, options, index, decisions):
a replay refuses a runbook that no longer matches it (:func:`runbook_digest_state`). The git side
lives in :mod:`oxwizard.runbook.repo`.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import re
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from oxwizard.core.config import ChecksConfig
from oxwizard.core.errors import RunbookError
from oxwizard.core.redact import redact_text
from oxwizard.env.environment import EnvironmentFacts
from oxwizard.env.plan import Plan
from oxwizard.env.specs import IndexOptions

# 2: ``trials`` and ``tried_targets`` (upgrade --outdated). An oxwizard that reads version 1 only
# refuses these runbooks by their version rather than reading a promoted set without its trials.
SCHEMA_VERSION = 2
MAX_RUNBOOK_BYTES = 5 * 1024 * 1024


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 had no culprit search: no trials, and the targets tried were the targets (a
    development build wrote the two fields under version 1 already: they are kept)."""
    return {**data, "trials": data.get("trials", []), "tried_targets": data.get("tried_targets", [])}


# Each entry migrates a document of schema version N (the key) to N + 1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def whoami() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user database entry (containers)
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


class PinsEvidence(BaseModel):
    """Where the edits of the project's files landed (recorded with the ``pins`` decision)."""

    model_config = ConfigDict(extra="forbid")

    files: list[str] = Field(default_factory=list)
    branch: str | None = None
    commit: str | None = None  # the full sha of oxwizard's commit on ``branch``
    base: str | None = None  # the commit the branch was made from
    patch: str | None = None  # the patch file, relative to the project, when not a git project


class Evidence(BaseModel):
    """What backs a decision: the command run, its exit code, counts and duration."""

    model_config = ConfigDict(extra="forbid")

    command: list[str] | None = None
    exit_code: int | None = None
    counts: dict[str, float] = Field(default_factory=dict)
    duration: float | None = None
    detail: str = ""
    pins: PinsEvidence | None = None  # the pins step: where the project's file edits landed

    def model_post_init(self, __context: object) -> None:
        # Credentials never reach a runbook, whatever a command line or an output held.
        self.detail = redact_text(self.detail)
        if self.command is not None:
            self.command = [redact_text(a) for a in self.command]


class Decision(BaseModel):
    """One answer in the flow: what was asked, the answer, who gave it, when, and the evidence."""

    model_config = ConfigDict(extra="forbid")

    step: str
    question: str
    answer: str
    who: str = Field(default_factory=whoami)
    at: str = Field(default_factory=now)
    evidence: Evidence | None = None

    def commit_message(self) -> str:
        return redact_text(f"{self.step}: {self.answer}")


class TrialRecord(BaseModel):
    """One trial of ``upgrade --outdated``'s culprit search: a set of targets installed in a staging
    clone of its own and checked against the baseline (the promoted set is the runbook's targets)."""

    model_config = ConfigDict(extra="forbid")

    number: int
    targets: list[str]
    installed: list[str] = Field(default_factory=list)
    ok: bool
    summary: str
    evidence: list[str] = Field(default_factory=list)
    duration: float | None = None

    def model_post_init(self, __context: object) -> None:
        self.summary = redact_text(self.summary)
        self.evidence = [redact_text(e) for e in self.evidence]


class FlowOptions(BaseModel):
    """How the flow was run, so that a replay runs it the same way."""

    model_config = ConfigDict(extra="forbid")

    stage: bool = True
    monitor_rounds: int = 0
    monitor_interval: float = 0.0
    update_pins: bool = False  # write the upgrade into the project's files (on a branch, or a patch)
    pins_branch: str | None = None  # the branch for them (default oxwizard/<runbook-id>)
    raise_floors: bool = False  # the planned file edits also move floors that still admit the new version

    @model_validator(mode="before")
    @classmethod
    def _drop_unread(cls, data: object) -> object:
        """``run_tests`` (always true, never read) was written by earlier versions: still accepted."""
        if isinstance(data, dict) and data.get("run_tests") is True:
            data = {k: v for k, v in data.items() if k != "run_tests"}
        return data


_ID = re.compile(r"(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,199}(?<![.])(?<!\.lock)")


class Runbook(BaseModel):
    """One upgrade's complete record."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    id: str
    created_at: str = Field(default_factory=now)
    targets: list[str]
    environment: EnvironmentFacts
    index: IndexOptions = Field(default_factory=IndexOptions)
    plan: Plan | None = None
    plan_digest: str | None = None
    plan_summary: str | None = None
    options: FlowOptions = Field(default_factory=FlowOptions)
    checks: ChecksConfig = Field(default_factory=ChecksConfig)
    checkpoint_id: str | None = None
    origin: str = ""  # identity of the runbook repository it was recorded in
    decisions: list[Decision] = Field(default_factory=list)
    # upgrade --outdated: the culprit search's trials, and the targets tried together at first when
    # only a part of them was promoted (``targets`` and ``plan`` are then the promoted set's)
    trials: list[TrialRecord] = Field(default_factory=list)
    tried_targets: list[str] = Field(default_factory=list)
    # sha256 of everything above as written (see document_digest); None in runbooks written before it
    runbook_digest: str | None = None

    @field_validator("id", "checkpoint_id")
    @classmethod
    def _a_name(cls, value: str | None) -> str | None:
        """Ids name files (runbooks/ID.json, evidence/ID/, a checkpoint's folder) and a replay's
        branch: a hand-edited one that is no plain name is refused when read, before anything runs."""
        if value is not None and not _ID.fullmatch(value):
            raise ValueError(f"{value!r} is not an id (letters, digits, '.', '_' and '-', no '..')")
        return value

    def set_plan(self, plan: Plan) -> None:
        self.plan = plan
        self.plan_digest = plan.digest()
        self.plan_summary = plan.summary()

    def record(self, decision: Decision) -> Decision:
        self.decisions.append(decision)
        return decision

    def last(self, step: str) -> Decision | None:
        return next((d for d in reversed(self.decisions) if d.step == step), None)

    def is_for(self, prefix: Path | str) -> bool:
        """Whether this runbook was recorded for the environment at ``prefix``."""
        return Path(self.environment.prefix).resolve() == Path(prefix).resolve()

    def verify_integrity(self, source: str = "runbook") -> None:
        """Refuse a runbook whose plan no longer matches its recorded digest and summary."""
        if self.plan is None:
            if self.plan_digest or self.plan_summary:
                raise RunbookError(f"{source}: plan_digest is recorded but the plan is missing")
            return
        if self.plan_digest != self.plan.digest():
            raise RunbookError(f"{source}: plan: does not match its recorded plan_digest (edited by hand?)")
        if self.plan_summary != self.plan.summary():
            raise RunbookError(f"{source}: plan_summary: does not match the recorded plan (edited by hand?)")

    def to_text(self) -> str:
        """The file's text, with ``runbook_digest`` set to the digest of the rest of it."""
        data = self.model_dump(mode="json", by_alias=True)
        data["runbook_digest"] = self.runbook_digest = document_digest(data)
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def document_digest(data: dict[str, Any]) -> str:
    """sha256 of a runbook document's canonical JSON, every field but ``runbook_digest`` itself.

    Taken over the document as written (before any migration or validation), so a field added to
    the schema later never changes the digest of a runbook written before it."""
    rest = {k: v for k, v in data.items() if k != "runbook_digest"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def runbook_digest_state(text: str, source: str = "runbook") -> Literal["verified", "absent"]:
    """``verified`` when the runbook ``text`` matches its ``runbook_digest``, ``absent`` when it has
    none (written before oxwizard recorded one); a digest that does not match is refused as
    tampered (:class:`RunbookError`). Call on text :func:`parse_runbook` accepted."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunbookError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    recorded = data.get("runbook_digest") if isinstance(data, dict) else None
    if recorded is None:
        return "absent"
    if recorded != document_digest(data):
        raise RunbookError(
            f"{source}: runbook_digest: does not match the runbook (edited by hand?): refused as tampered"
        )
    return "verified"


def dump_runbook(runbook: Runbook, path: Path) -> None:
    """Write ``runbook`` atomically (write to a temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(runbook.to_text(), encoding="utf-8")
    tmp.replace(path)


def parse_runbook(text: str, source: str = "runbook") -> Runbook:
    """Validate runbook text; every failure is a one-line :class:`RunbookError`."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunbookError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise RunbookError(f"{source}: expected a JSON object at the top level")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise RunbookError(f"{source}: schema_version: missing or not an integer")
    if version > SCHEMA_VERSION or (version < SCHEMA_VERSION and version not in MIGRATIONS):
        raise RunbookError(
            f"{source}: schema_version: unknown version {version} (this oxwizard reads {SCHEMA_VERSION})"
        )
    while version < SCHEMA_VERSION:
        data = MIGRATIONS[version](data)
        version += 1
        data["schema_version"] = version
    try:
        runbook = Runbook.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise RunbookError(f"{source}: {loc}: {err['msg'].removeprefix('Value error, ')}") from None
    runbook.verify_integrity(source)
    return runbook


def read_runbook_bytes(path: Path) -> bytes:
    """A runbook file's bytes (size-capped), read once: what is validated is what was read."""
    try:
        size = path.stat().st_size
    except OSError:
        raise RunbookError(f"{path}: runbook not found") from None
    if not path.is_file():
        raise RunbookError(f"{path}: not a runbook file")
    if size > MAX_RUNBOOK_BYTES:
        raise RunbookError(f"{path}: too large for a runbook ({size} bytes)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RunbookError(f"{path}: cannot read: {exc}") from None
    if len(data) > MAX_RUNBOOK_BYTES:  # grown since the stat
        raise RunbookError(f"{path}: too large for a runbook ({len(data)} bytes)")
    return data


def runbook_text(data: bytes, source: str = "runbook") -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RunbookError(f"{source}: cannot read: {exc}") from None


def load_runbook(path: Path) -> Runbook:
    """Read a runbook file (size-capped) and validate it."""
    return parse_runbook(runbook_text(read_runbook_bytes(path), str(path)), str(path))
