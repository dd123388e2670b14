"""The ``pins`` step: the upgrade written into the project's files, on a branch (or as a patch).

:func:`prepare_pins` works out, before anything is asked, the new text of every file the plan edits
(``--hash`` options recomputed from the wheel pip installs) and the unified diff the question shows;
:func:`land_pins` commits them on the branch (:mod:`oxwizard.runbook.project_branch`), running the
lockfile regenerations in the branch's copy of the project through :func:`_regenerate`;
:func:`unpin` removes that branch again when the upgrade is rolled back.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from oxwizard.core.errors import ProjectFilesError
from oxwizard.env.locktools import lock_differences, relock
from oxwizard.env.plan import Plan
from oxwizard.env.project_files import ProjectFiles, Regeneration
from oxwizard.env.project_write import edited_files, pins_of, read_text, unified_diff, wheel_hashes
from oxwizard.env.specs import IndexOptions
from oxwizard.runbook.model import PinsEvidence, Runbook
from oxwizard.runbook.project_branch import Landed, branch_for, land, remove_branch


class LockDiffers(ProjectFilesError):
    """A lock tool resolved something else than what was tested in staging: nothing is kept."""


@dataclass
class PreparedPins:
    """The edits of one upgrade, ready to land."""

    files: ProjectFiles
    before: dict[str, str]  # relative path -> text now
    after: dict[str, str]  # relative path -> text after the edits
    hashes: dict[str, str]  # canonical name -> sha256 of the wheel (for --hash lines)
    diff: str  # the unified diff of before -> after (what the question's detail carries)
    where: str  # "branch oxwizard/ID" or "a patch (.oxwizard/patches/ID.patch)"
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Regenerated:
    """What became of one planned lockfile regeneration."""

    path: str
    ran: bool
    note: str
    differences: tuple[str, ...] = ()


def wanted(plan: Plan | None, update_pins: bool) -> bool:
    """Whether the pins step runs: asked for, and the plan has file edits or regenerations."""
    files = plan.project_files if plan is not None else None
    return update_pins and files is not None and bool(files.edits or files.regenerate)


def versions(plan: Plan) -> dict[str, str]:
    """canonical name -> the version the upgrade installs."""
    return {canonicalize_name(c.name): c.to_version for c in plan.changes if c.to_version}


def prepare_pins(
    project: Path,
    plan: Plan,
    *,
    pip_argv: list[str],
    index: IndexOptions,
    runbook_id: str,
    branch: str | None,
) -> PreparedPins:
    """The new texts and their diff; raises :class:`ProjectFilesError` (nothing written) when a
    planned line changed since the plan or the wheel to hash cannot be had."""
    files = plan.project_files
    assert files is not None
    pins = pins_of(files, versions(plan))
    hashes = wheel_hashes(pip_argv, index.pip_args(), pins) if pins else {}
    before = {rel: read_text(project / rel) for rel in dict.fromkeys(e.path for e in files.edits)}
    after = edited_files(project, files, hashes=hashes, texts=before)
    where = branch_for(project, runbook_id, branch)
    where = where if where.startswith("a patch") else f"branch {where}"
    return PreparedPins(files, before, after, hashes, unified_diff(before, after), where)


def land_pins(
    project: Path,
    prepared: PreparedPins,
    *,
    runbook_id: str,
    branch: str | None,
    staged: Mapping[str, str],
    index: IndexOptions,
    python: Path,
) -> Landed:
    """Commit the edits on the branch (or write the patch); the regenerations run in the branch's
    copy of the project. :class:`LockDiffers` when a lock tool resolved something else than
    ``staged`` (canonical name -> version tested in staging): the branch is removed again."""
    files = prepared.files
    pins = versions_of(files, staged)

    def in_tree(folder: Path) -> list[str]:
        notes: list[str] = []
        for regen in files.regenerate:
            done = _regenerate(folder, regen, pins, index=index, python=python, staged=staged)
            if done.differences:
                raise LockDiffers(
                    f"{regen.path}: {regen.tool} resolved something else than staging tested: "
                    + "; ".join(done.differences)
                )
            notes.append(done.note)
        return notes

    def edit(texts: Mapping[str, str]) -> Mapping[str, str]:
        return edited_files(project, files, hashes=prepared.hashes, texts=texts)

    landed = land(
        project,
        prepared.before,
        prepared.after,
        prepared.diff,
        runbook_id=runbook_id,
        branch=branch,
        edit=edit,
        in_tree=in_tree,
    )
    if landed.evidence.patch:
        landed.notes += [
            _regenerate(None, r, pins, index=index, python=python, staged=staged).note
            for r in files.regenerate
        ]
    return landed


def versions_of(files: ProjectFiles, staged: Mapping[str, str]) -> dict[str, str]:
    """The staged version of every distribution a regeneration is about."""
    names = {canonicalize_name(n.split("==")[0]) for r in files.regenerate for n in r.names}
    return {n: v for n, v in staged.items() if n in names}


def _regenerate(
    folder: Path | None,
    regen: Regeneration,
    pins: Mapping[str, str],
    *,
    index: IndexOptions,
    python: Path,
    staged: Mapping[str, str],
) -> Regenerated:
    """The one place a lockfile is regenerated by its own tool, in ``folder`` (the branch's copy of
    the project; None: not a git project, nothing is regenerated: the note says what to run after
    applying the patch).

    The tool runs through :func:`oxwizard.env.locktools.relock`; what the new lock pins is compared
    with what staging tested, on the names both know plus the upgraded ones (``staged`` is the whole
    staging environment: pip, pytest and the like are in no lock, and a lock may pin groups the
    environment is not synced with). The differences returned stop the flow before promote
    (:class:`LockDiffers`). A tool that fails raises :class:`LockToolError`; a tool that is not
    installed and may wait for the user (Poetry) leaves the lock as it was, and the note says so."""
    command = shlex.join(regen.command)
    if folder is None:
        note = f"{regen.path} not regenerated: run `{command}` after applying the patch"
        return Regenerated(regen.path, ran=False, note=note)
    done = relock(folder, regen, pins, index=index, python=python)
    if not done.regenerated:
        return Regenerated(regen.path, ran=False, note=done.note)
    known = {canonicalize_name(n) for n in staged} | {canonicalize_name(n) for n in pins}
    locked = {n: v for n, v in done.versions.items() if canonicalize_name(n) in known}
    lock_names = {canonicalize_name(n) for n in done.versions} | {canonicalize_name(n) for n in pins}
    tested = {n: v for n, v in staged.items() if canonicalize_name(n) in lock_names}
    differences = tuple(lock_differences(locked, tested, path=regen.path))
    note = f"{regen.path} regenerated by `{shlex.join(done.command)}`"
    if done.stands_in:
        note += f" (standing in for {done.stands_in}, which is not installed)"
    return Regenerated(regen.path, ran=True, note=note, differences=differences)


def landed_evidence(runbook: Runbook) -> PinsEvidence | None:
    """Where the runbook's upgrade wrote the project's files (its last ``pins`` decision with evidence)."""
    for decision in reversed(runbook.decisions):
        if decision.step == "pins" and decision.evidence is not None and decision.evidence.pins is not None:
            return decision.evidence.pins
    return None


def unpin(project: Path, runbook: Runbook) -> str | None:
    """After a rollback: remove the branch the upgrade's files were written on, if still unmerged and
    still oxwizard's commit; what was done, in one line (None when no files were written)."""
    evidence = landed_evidence(runbook)
    if evidence is None:
        return None
    try:
        _removed, line = remove_branch(project, evidence)
    except ProjectFilesError as exc:
        return f"branch {evidence.branch} left: {exc}"
    return line
