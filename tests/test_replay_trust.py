"""Which runbooks replay without ``--trust``, and which edits are refused even with it.

Trust comes from where the runbook file is — committed, unmodified, in this project's own runbook
repository — never from a field of the file (``origin`` names a repository, and anybody can write
that). Every edit of a runbook (its targets, plan, checks and their commands, options, index,
decisions) breaks its ``runbook_digest`` and is refused as tampered, ``--trust`` or not. Everything
here goes through the real CLI on real sandboxes; every refusal leaves the environment as it was.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_replay import edited_copy, fingerprint, oxwizard, target_args

from oxwizard.runbook.repo import RunbookRepo


def resign(data: dict[str, Any]) -> None:
    """What a careful forger does after editing: write the digest of the edited document."""
    from oxwizard.runbook.model import document_digest

    data["runbook_digest"] = document_digest(data)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout


def clone_runbooks(recorder: Any, host: Any) -> Path:
    repo = host.project / ".oxwizard"
    subprocess.run(["git", "clone", "-q", str(recorder.project / ".oxwizard"), str(repo)], check=True)
    return repo


def test_a_foreign_runbook_that_names_this_repository_as_its_origin_runs_nothing(
    recorded_15: Any, demo: Any, tmp_path: Path
) -> None:
    """The tester's attack (D4): a runbook of another project, its ``origin`` set to this project's
    runbook repository and its test command replaced, saved outside any runbook repository."""
    _, runbook = recorded_15
    host = demo()
    with RunbookRepo.for_project(host.project) as repo:  # this project has a runbook repository
        origin = repo.origin()
    marker = tmp_path / "PWNED"
    payload = ["python", "-c", f"open({str(marker)!r}, 'w').write('x')"]

    def attack(d: dict[str, Any]) -> None:
        d["origin"] = origin
        d["checks"]["test-command"] = payload

    evil = edited_copy(runbook, tmp_path / "evil.json", attack)
    before = fingerprint(host.venv)

    done = oxwizard("replay", evil, *target_args(host))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "runbook_digest: does not match the runbook (edited by hand?)" in done.stderr
    assert "trusted (same repository)" not in done.stdout
    trusted = oxwizard("replay", evil, *target_args(host), "--trust", "--no-record")
    assert trusted.returncode == 2, trusted.stdout + trusted.stderr  # tampered: --trust does not help
    assert "runbook_digest: does not match" in trusted.stderr

    # A forger who also rewrites the digest: the file is still not in this project's repository.
    forged = edited_copy(evil, tmp_path / "forged.json", resign)
    done = oxwizard("replay", forged, *target_args(host), "--no-record")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "untrusted runbook" in done.stderr
    assert f"{forged} is not in this project's runbook repository" in done.stderr
    # Copied into the repository's folder, but not committed there: still not trusted.
    inside = host.project / ".oxwizard" / "runbooks" / forged.name
    inside.parent.mkdir(parents=True, exist_ok=True)
    inside.write_bytes(forged.read_bytes())
    done = oxwizard("replay", inside, *target_args(host), "--no-record")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "is not committed in this project's runbook repository" in done.stderr

    assert not marker.exists()
    assert fingerprint(host.venv) == before


def test_only_a_file_committed_unmodified_in_this_projects_repository_is_trusted(
    recorded_15: Any, demo: Any
) -> None:
    recorder, runbook = recorded_15
    host = demo()
    repo = clone_runbooks(recorder, host)
    cloned = repo / "runbooks" / runbook.name
    before = fingerprint(host.venv)

    same = oxwizard("replay", cloned, *target_args(host), "--dry-run")
    assert same.returncode == 0, same.stdout + same.stderr
    assert "trusted: same repository" in same.stdout

    # Not the committed bytes (the same document, spaced otherwise): untrusted.
    cloned.write_text(json.dumps(json.loads(cloned.read_text("utf-8")), indent=4), encoding="utf-8")
    refused = oxwizard("replay", cloned, *target_args(host), "--dry-run", "--no-record")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"untrusted runbook: {cloned} differs from its last commit" in refused.stderr

    # Edited in place (digest rewritten, so only where it is can tell), not committed: untrusted.
    def fewer_runs(d: dict[str, Any]) -> None:
        d["checks"]["benchmark-runs"] = 1
        resign(d)

    edited_copy(cloned, cloned, fewer_runs)
    refused = oxwizard("replay", cloned, *target_args(host), "--dry-run", "--no-record")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"untrusted runbook: {cloned} differs from its last commit" in refused.stderr
    reviewed = oxwizard("replay", cloned, *target_args(host), "--dry-run", "--trust")
    assert reviewed.returncode == 0, reviewed.stdout + reviewed.stderr
    assert "trusted: --trust" in reviewed.stdout

    # Committed by the project's owner: trusted again.
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", "fewer benchmark runs")
    again = oxwizard("replay", cloned, *target_args(host), "--dry-run")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "trusted: same repository" in again.stdout
    assert fingerprint(host.venv) == before


def _stage_off(d: dict[str, Any]) -> None:
    d["options"]["stage"] = False


def _test_command(d: dict[str, Any]) -> None:
    d["checks"]["test-command"] = ["python", "-c", "print('something else')"]


def _benchmark_command(d: dict[str, Any]) -> None:
    d["checks"]["benchmark-command"] = ["python", "-c", "print('something else')"]


def _data_command(d: dict[str, Any]) -> None:
    d["checks"]["data-command"] = ["python", "-c", "print('something else')"]


def _threshold(d: dict[str, Any]) -> None:
    d["checks"]["benchmark-threshold"] = 100.0


def _index(d: dict[str, Any]) -> None:
    d["index"]["find_links"] = ["/elsewhere"]


def _targets(d: dict[str, Any]) -> None:
    d["targets"] = ["oxzep7==1.5.0", "ziprow"]


def _ack(d: dict[str, Any]) -> None:
    d["decisions"].append({"step": "ack-warnings", "question": "?", "answer": "acknowledge"})


def _origin(d: dict[str, Any]) -> None:
    d["origin"] = "0" * 40


EDITS = {
    "stage": _stage_off,
    "test-command": _test_command,
    "benchmark-command": _benchmark_command,
    "data-command": _data_command,
    "threshold": _threshold,
    "index": _index,
    "targets": _targets,
    "decisions": _ack,
    "origin": _origin,
}


@pytest.mark.parametrize("edit", list(EDITS.values()), ids=list(EDITS))
def test_any_edit_is_refused_as_tampered_even_with_trust(
    recorded_15: Any, recorded_20: Any, tmp_path: Path, edit: Any
) -> None:
    _, runbook = recorded_15
    sandbox, _ = recorded_20  # at oxzep7 1.4.2: the 1.5.0 runbook would apply here
    bad = edited_copy(runbook, tmp_path / "runbook.json", edit)
    before = fingerprint(sandbox.venv)

    done = oxwizard("replay", bad, *target_args(sandbox), "--trust", "--dry-run", "--json", "--no-record")

    assert done.returncode == 2, done.stdout + done.stderr
    assert f"{bad}: runbook_digest: does not match the runbook (edited by hand?)" in done.stderr
    assert json.loads(done.stdout)["outcome"] == "refused"
    assert fingerprint(sandbox.venv) == before


def test_a_runbook_recorded_before_the_digest_needs_trust_even_in_this_repository(
    recorded_15: Any, demo: Any
) -> None:
    """Older runbooks stay readable, but nothing tells whether their commands were edited: even
    committed in this project's repository, they replay only after a review and ``--trust``."""
    recorder, runbook = recorded_15
    host = demo()
    repo = clone_runbooks(recorder, host)
    cloned = repo / "runbooks" / runbook.name
    data = json.loads(cloned.read_text(encoding="utf-8"))
    data.pop("runbook_digest", None)  # as an oxwizard before it wrote them
    cloned.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-am", "an older runbook")
    before = fingerprint(host.venv)

    refused = oxwizard("replay", cloned, *target_args(host), "--dry-run", "--no-record")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"untrusted runbook: {cloned} has no runbook_digest (recorded by an older oxwizard)" in (
        refused.stderr
    )
    reviewed = oxwizard("replay", cloned, *target_args(host), "--dry-run", "--trust")
    assert reviewed.returncode == 0, reviewed.stdout + reviewed.stderr
    assert "trusted: --trust" in reviewed.stdout
    assert "note: no runbook_digest (recorded by an older oxwizard)" in reviewed.stdout
    assert fingerprint(host.venv) == before


def test_an_untrusted_runbooks_refusal_is_recorded_here_not_in_its_repository(
    recorded_15: Any, demo: Any
) -> None:
    """Another project's runbook, replayed here without --trust: refused, and the refusal goes into
    this project's runbook repository — the repository holding the runbook is not ours to write."""
    import git as gitpython

    from oxwizard.runbook.model import load_runbook

    _, runbook = recorded_15  # committed in its own project's runbook repository
    theirs = gitpython.Repo(runbook, search_parent_directories=True)
    before = theirs.head.commit.hexsha
    host = demo()

    done = oxwizard("replay", runbook, *target_args(host))

    assert done.returncode == 2 and "untrusted runbook" in done.stderr, done.stdout + done.stderr
    assert theirs.head.commit.hexsha == before
    with RunbookRepo.for_project(host.project) as repo:
        last = repo.repo.head.commit
    assert last.message.startswith("replay: ") and last.message.strip().endswith(" refused")
    [report] = [p for p in last.stats.files if str(p).startswith("replays/")]
    assert str(report).startswith(f"replays/{load_runbook(runbook).id}/")
