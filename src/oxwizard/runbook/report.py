"""The replay report and its audit trail: what one replay did on one host, committed to git.

:class:`ReplayReport` is what ``oxwizard replay --json`` prints (its JSON Schema is in
docs/replay.md) and what :func:`record_replay` commits as ``replays/<runbook-id>/<host>-<stamp>.json``
into the runbook repository that holds the runbook file, so that repository's history is the audit
trail of every host the runbook ran on.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from oxwizard.core.errors import OxwizardError
from oxwizard.core.places import runbook_repo_path
from oxwizard.runbook.model import load_runbook, now

REPORT_SCHEMA_VERSION = 1
ReplayOutcome = Literal[
    "upgraded", "already-applied", "rolled-back", "failed", "declined", "refused", "rollback-failed",
    "dry-run",
]  # fmt: skip


class ReplayStep(BaseModel):
    """One step of the replay as the host saw it: its final status, its message and timing."""

    model_config = ConfigDict(extra="forbid")

    step: str
    status: Literal["running", "passed", "failed", "warned", "skipped"]
    message: str
    elapsed: float | None = None


class ReplayReport(BaseModel):
    """The machine-readable result of one replay on one host (``oxwizard replay --json``)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = REPORT_SCHEMA_VERSION
    runbook_id: str = Field(description="id of the replayed runbook ('' when it could not be read)")
    runbook_path: str
    host: str
    env: str = Field(description="path of the environment replayed on")
    project: str
    started_at: str
    ended_at: str
    outcome: ReplayOutcome
    exit_code: int = Field(description="0 ok, 1 gate failed and env rolled back, 2 refused, 3 needs a person")
    message: str
    plan: list[str] = Field(default_factory=list, description="the pinned set the runbook installs")
    steps: list[ReplayStep] = Field(default_factory=list)
    rollback_verified: bool | None = Field(
        default=None,
        description="after a failure: true when the env is verified back to its state before the replay "
        "(rolled back, or never promoted); null when the replay upgraded or changed nothing",
    )
    fingerprint_before: str | None = None
    fingerprint_after: str | None = None
    drift: list[str] = Field(default_factory=list, description="readable diff recorded plan -> recomputed")
    commands: list[list[str]] = Field(
        default_factory=list,
        description="every command the replay runs, recorded or detected (argv, no shell)",
    )
    audit_commit: str | None = Field(default=None, description="commit of this report in the runbook repo")


def refused_report(
    runbook_path: Path, env: str, project: Path, host: str, started_at: str, error: OxwizardError
) -> ReplayReport:
    """The report of a replay refused before any change (exit code of the error, normally 2)."""
    try:
        runbook_id = load_runbook(runbook_path).id
    except OxwizardError:
        runbook_id = ""
    return ReplayReport(
        runbook_id=runbook_id,
        runbook_path=str(runbook_path),
        host=host,
        env=env,
        project=str(project),
        started_at=started_at,
        ended_at=now(),
        outcome="refused",
        exit_code=error.exit_code,
        message=str(error),
    )


# -- the audit trail --------------------------------------------------------------------------------
def runbook_repo_root(runbook_path: Path) -> Path | None:
    """The git repository that holds ``runbook_path`` (its working tree root), if any."""
    for parent in runbook_path.resolve().parents:
        if (parent / ".git").exists():
            return parent
    return None


def record_replay(report: ReplayReport, fallback_project: Path, *, here: bool = False) -> str:
    """Commit ``report`` as ``replays/<runbook-id>/<host>-<stamp>.json`` in the runbook's repository
    (else, or with ``here``, the project's runbook repository: an untrusted runbook's refusal never
    goes into a repository that is not the project's); returns the short commit id."""
    from oxwizard.runbook.repo import RunbookRepo, repo_lock

    held = None if here else runbook_repo_root(Path(report.runbook_path))
    root = held or runbook_repo_path(fallback_project)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = root / "replays" / slug(report.runbook_id or "unreadable")
    with repo_lock(root), RunbookRepo(root) as repo:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{slug(report.host)}-{stamp}.json"
        n = 1
        while path.exists():
            n += 1
            path = folder / f"{slug(report.host)}-{stamp}-{n}.json"
        path.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return repo.commit([path], f"replay: {report.host} {report.env} {report.outcome}")


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "-", text)[:80] or "x"


def report_schema() -> dict[str, object]:
    """The JSON Schema of :class:`ReplayReport`, as documented in docs/replay.md."""
    return ReplayReport.model_json_schema()


SCHEMA_START = "<!-- replay-report-schema:start (generated from ReplayReport; do not edit) -->"
SCHEMA_END = "<!-- replay-report-schema:end -->"


def schema_block() -> str:
    """The generated part of docs/replay.md (markers included)."""
    text = json.dumps(report_schema(), indent=2, sort_keys=False)
    return f"{SCHEMA_START}\n```json\n{text}\n```\n{SCHEMA_END}"


def update_schema_doc(doc: Path) -> bool:
    """Rewrite the schema block of ``doc``; returns whether it changed."""
    text = doc.read_text(encoding="utf-8")
    start, end = text.index(SCHEMA_START), text.index(SCHEMA_END) + len(SCHEMA_END)
    new = text[:start] + schema_block() + text[end:]
    if new != text:
        doc.write_text(new, encoding="utf-8")
    return new != text


if __name__ == "__main__":  # python -m oxwizard.runbook.report docs/replay.md
    import sys

    changed = update_schema_doc(Path(sys.argv[1]))
    print(f"{sys.argv[1]}: {'updated' if changed else 'up to date'}")
