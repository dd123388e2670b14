"""``oxwizard replay``: a recorded runbook replayed on other sandboxes, through the real CLI.

Runbooks are recorded once per session (tests/conftest.py: ``recorded_15`` — oxzep7 1.5.0 with
staging, upgraded; ``recorded_20`` — oxzep7 2.0.0 with --no-stage, failed on live and rolled back).
Every refusal is asserted to have changed nothing: the environment's fingerprint (interpreter + every
installed name==version) is the same before and after.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from oxwizard.env.environment import Environment
from oxwizard.env.plan import Change, Plan
from oxwizard.flow.replay import artefact_problems, plan_diff
from oxwizard.runbook.report import SCHEMA_END, SCHEMA_START, ReplayReport, report_schema

DOCS = Path(__file__).resolve().parents[1] / "docs" / "replay.md"
ANSI = re.compile(r"\x1b\[")


def oxwizard(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real CLI in a child process, stdout piped (so: not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "oxwizard", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
        check=False,
    )


def fingerprint(venv: Path) -> str:
    return Environment.open(venv).fingerprint()


def version_of(venv: Path, name: str) -> str | None:
    dist = Environment.open(venv).distributions.get(name)
    return dist.version if dist else None


def git_log(repo: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "log", "--format=%s"], capture_output=True, text=True, check=True
    ).stdout


def edited_copy(runbook: Path, dest: Path, edit: Any, *, resign: bool = False) -> Path:
    """``runbook`` edited by ``edit`` at ``dest``; ``resign``: with its ``runbook_digest`` rewritten,
    as if it had been recorded that way (else any edit is refused as tampered)."""
    data = json.loads(runbook.read_text(encoding="utf-8"))
    edit(data)
    if resign:
        from oxwizard.runbook.model import document_digest

        data["runbook_digest"] = document_digest(data)
    dest.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return dest


def target_args(sandbox: Any) -> list[str | Path]:
    return ["--env", sandbox.venv, "--project", sandbox.project]


# -- the acceptance path ----------------------------------------------------------------------------
def test_replay_on_a_fresh_sandbox_via_a_clone_of_the_runbook_repo(recorded_15: Any, demo: Any) -> None:
    recorder, runbook = recorded_15
    host = demo()
    repo = host.project / ".oxwizard"
    subprocess.run(["git", "clone", "-q", str(recorder.project / ".oxwizard"), str(repo)], check=True)
    cloned = repo / "runbooks" / runbook.name
    before = fingerprint(host.venv)

    done = oxwizard("replay", cloned, *target_args(host), "--host", "ci-1")

    assert done.returncode == 0, done.stdout + done.stderr
    assert version_of(host.venv, "oxzep7") == "1.5.0"
    assert fingerprint(host.venv) != before
    out = done.stdout
    assert not ANSI.search(out + done.stderr)
    assert re.search(r"^\[\s*\d+\.\ds\] ok\s+promote: ", out, re.M), out  # one line per step, timed
    assert "upgraded:" in out
    # The audit trail: one commit in the repository that holds the runbook file.
    assert f"replay: ci-1 {host.venv} upgraded" in git_log(repo)
    records = list((repo / "replays" / runbook.stem).glob("ci-1-*.json"))
    assert len(records) == 1
    assert ReplayReport.model_validate_json(records[0].read_text()).outcome == "upgraded"

    # The same runbook again: already applied, a no-op success that says so.
    upgraded = fingerprint(host.venv)
    again = oxwizard("replay", cloned, *target_args(host), "--host", "ci-1")
    assert again.returncode == 0, again.stderr
    said = (
        "already-applied: every target is at its recorded version (oxzep7==1.5.0 installed); "
        "nothing was changed"
    )
    assert said in again.stdout.splitlines(), again.stdout
    assert not re.search(r"already.applied: already.applied", again.stdout)  # said once
    assert fingerprint(host.venv) == upgraded


def test_runbook_from_another_repository_needs_trust(recorded_15: Any, demo: Any) -> None:
    recorder, runbook = recorded_15
    host = demo()
    before = fingerprint(host.venv)

    refused = oxwizard("replay", runbook, *target_args(host))
    assert refused.returncode == 2
    assert "untrusted runbook" in refused.stderr and "--trust" in refused.stderr
    assert fingerprint(host.venv) == before

    done = oxwizard("replay", runbook, *target_args(host), "--trust", "--json", "--host", "trusted-1")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # --json: stdout is one JSON document and nothing else
    validate(report, report_schema())
    assert report["outcome"] == "upgraded" and report["exit_code"] == 0
    assert report["plan"] == ["oxzep7==1.5.0"]
    assert report["fingerprint_before"] == before != report["fingerprint_after"]
    steps = {s["step"]: s for s in report["steps"]}
    assert steps["validate"]["status"] == "passed"
    assert steps["promote"]["status"] == "passed" and steps["promote"]["elapsed"] > 0
    assert report["audit_commit"]
    # Recorded in the repository holding the runbook file: the recorder's.
    assert f"replay: trusted-1 {host.venv} upgraded" in git_log(recorder.project / ".oxwizard")
    assert version_of(host.venv, "oxzep7") == "1.5.0"


def test_failed_gate_rolls_back_and_verifies(recorded_20: Any) -> None:
    sandbox, runbook = recorded_20  # recorded on this sandbox, which was rolled back to 1.4.2
    before = fingerprint(sandbox.venv)

    done = oxwizard("replay", runbook, *target_args(sandbox), "--json", "--host", "ci-20")

    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    validate(report, report_schema())
    assert report["outcome"] == "rolled-back"
    assert report["rollback_verified"] is True
    assert report["fingerprint_after"] == before == fingerprint(sandbox.venv)
    assert {s["step"]: s["status"] for s in report["steps"]}["checks-live"] == "failed"
    assert version_of(sandbox.venv, "oxzep7") == "1.4.2"
    assert f"replay: ci-20 {sandbox.venv} rolled-back" in git_log(sandbox.project / ".oxwizard")


# -- refused before any change (exit 2, fingerprint unchanged) --------------------------------------
def _broken_field(d: dict[str, Any]) -> None:
    d["options"]["stage"] = "sometimes"


def _unknown_schema(d: dict[str, Any]) -> None:
    d["schema_version"] = 99


def _path_for_id(d: dict[str, Any]) -> None:
    d["id"] = "../../../x"  # names runbooks/ID.json, evidence/ID/ and the replay's branch


def _no_targets(d: dict[str, Any]) -> None:
    d["targets"] = []


def _tampered_plan(d: dict[str, Any]) -> None:
    d["plan"]["changes"][0]["to_version"] = "2.0.0"  # the digest is left as recorded


def _wrong_interpreter(d: dict[str, Any]) -> None:
    d["environment"]["version"] = "3.9.18"  # outside the plan digest (the runbook's is rewritten)


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (_broken_field, "options.stage"),
        (_unknown_schema, "unknown version 99"),
        (_tampered_plan, "does not match its recorded plan_digest"),
        (_wrong_interpreter, "interpreter version recorded 3.9.18"),
        (_path_for_id, "runbook.json: id: '../../../x' is not an id"),
        (_no_targets, "runbook.json: targets: empty: nothing to replay"),
    ],
    ids=["broken-field", "unknown-schema", "tampered-plan", "wrong-interpreter", "path-for-id", "no-targets"],
)
def test_bad_runbook_is_refused_before_any_change(
    recorded_15: Any, recorded_20: Any, tmp_path: Path, edit: Any, says: str
) -> None:
    _, runbook = recorded_15
    sandbox, _ = recorded_20  # at oxzep7 1.4.2: the 1.5.0 runbook would apply here
    # recorded so (its runbook_digest rewritten): refused for what it says, not as tampered
    bad = edited_copy(runbook, tmp_path / "runbook.json", edit, resign=True)
    before = fingerprint(sandbox.venv)

    done = oxwizard("replay", bad, *target_args(sandbox), "--trust", "--json")

    assert done.returncode == 2, done.stdout + done.stderr
    assert says in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1  # one line, no traceback
    assert json.loads(done.stdout)["outcome"] == "refused"
    assert fingerprint(sandbox.venv) == before


def test_stale_runbook_is_refused(recorded_15: Any, recorded_20: Any) -> None:
    upgraded, _ = recorded_15  # now at oxzep7 1.5.0
    _, runbook_20 = recorded_20  # recorded from 1.4.2
    before = fingerprint(upgraded.venv)
    done = oxwizard("replay", runbook_20, *target_args(upgraded), "--trust", "--no-record")
    assert done.returncode == 2
    assert "stale runbook" in done.stderr and "oxzep7 recorded from 1.4.2, now 1.5.0" in done.stderr
    assert fingerprint(upgraded.venv) == before


def test_different_artefact_under_the_same_version_is_refused(
    recorded_15: Any, recorded_20: Any, wheelhouse: Path, tmp_path: Path
) -> None:
    from oxwizard.demo.wheels import build_wheel

    _, runbook = recorded_15
    sandbox, _ = recorded_20
    confused = tmp_path / "wheelhouse"
    confused.mkdir()
    for wheel in wheelhouse.glob("*.whl"):
        if not wheel.name.startswith("oxzep7-1.5.0-"):
            (confused / wheel.name).symlink_to(wheel)
    build_wheel(
        confused,
        "oxzep7",
        "1.5.0",
        {"oxzep7/__init__.py": "__version__ = '1.5.0'\nSURPRISE = 'a re-uploaded artefact'\n"},
    )
    before = fingerprint(sandbox.venv)

    done = oxwizard(
        "replay", runbook, *target_args(sandbox), "--trust", "--find-links", confused, "--no-index"
    )

    assert done.returncode == 2, done.stdout + done.stderr
    assert "oxzep7 1.5.0: a different artefact under the same version" in done.stderr
    assert fingerprint(sandbox.venv) == before


def test_drift_is_refused_with_a_diff_unless_allowed(
    recorded_15: Any, recorded_20: Any, wheelhouse: Path, tmp_path: Path
) -> None:
    from oxwizard.demo.wheels import build_wheel
    from oxwizard.runbook.model import dump_runbook, load_runbook

    _, runbook_15 = recorded_15
    sandbox, _ = recorded_20
    # A runbook recorded for a range ("oxzep7>=1.4,<2" resolved to 1.5.0)...
    runbook = load_runbook(runbook_15)
    assert runbook.plan is not None
    runbook.targets = ["oxzep7<2,>=1.4"]
    runbook.set_plan(runbook.plan.model_copy(update={"targets": runbook.targets}))
    ranged = tmp_path / "ranged.json"
    dump_runbook(runbook, ranged)
    # ...replayed after 1.6.0 was published: the plan recomputed now picks 1.6.0.
    newer = tmp_path / "wheelhouse"
    newer.mkdir()
    for wheel in wheelhouse.glob("*.whl"):
        (newer / wheel.name).symlink_to(wheel)
    build_wheel(newer, "oxzep7", "1.6.0", {"oxzep7/__init__.py": "__version__ = '1.6.0'\n"})
    before = fingerprint(sandbox.venv)
    sources = ["--find-links", newer, "--no-index", "--trust", "--no-record"]

    refused = oxwizard("replay", ranged, *target_args(sandbox), *sources)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "~ oxzep7: recorded 1.4.2 -> 1.5.0, now 1.4.2 -> 1.6.0" in refused.stderr
    assert "--allow-drift" in refused.stderr

    allowed = oxwizard("replay", ranged, *target_args(sandbox), *sources, "--allow-drift", "--dry-run")
    assert allowed.returncode == 0, allowed.stderr
    assert "install oxzep7==1.5.0" in allowed.stdout  # the recorded plan, not the drifted one
    assert "drift: ~ oxzep7: recorded 1.4.2 -> 1.5.0, now 1.4.2 -> 1.6.0" in allowed.stdout
    assert fingerprint(sandbox.venv) == before


def test_the_install_itself_checks_hashes(recorded_15: Any, recorded_20: Any, tmp_path: Path) -> None:
    """Second line of defence: even past validation, the recorded plan installs hash-checked."""
    from oxwizard.demo.wheels import build_wheel
    from oxwizard.env.specs import IndexOptions
    from oxwizard.runbook.model import load_runbook
    from oxwizard.safety.apply import apply_plan

    _, runbook = recorded_15
    sandbox, _ = recorded_20
    plan = load_runbook(runbook).plan
    assert plan is not None and all(c.sha256 for c in plan.changes)
    build_wheel(tmp_path, "oxzep7", "1.5.0", {"oxzep7/__init__.py": "__version__ = '1.5.0'\n"})
    env = Environment.open(sandbox.venv)
    before = env.fingerprint()
    index = IndexOptions.build(find_links=[str(tmp_path)], no_index=True)
    result = apply_plan(env, plan, index, checkpoint=None, journaled=False)
    assert not result.ok
    assert "HASHES" in " ".join(result.mismatches)
    assert fingerprint(sandbox.venv) == before


def test_lock_held_by_another_process_is_refused(recorded_15: Any, recorded_20: Any) -> None:
    from oxwizard.safety.lock import env_lock

    _, runbook = recorded_15
    sandbox, _ = recorded_20
    env = Environment.open(sandbox.venv)
    before = env.fingerprint()
    with env_lock(env, "another upgrade"):
        done = oxwizard("replay", runbook, *target_args(sandbox), "--trust", "--no-record")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "lock" in done.stderr.lower()
    assert fingerprint(sandbox.venv) == before


def test_dry_run_shows_every_command_and_changes_nothing(recorded_15: Any, recorded_20: Any) -> None:
    _, runbook = recorded_15
    sandbox, _ = recorded_20
    before = fingerprint(sandbox.venv)
    recorded = json.loads(runbook.read_text())
    done = oxwizard("replay", runbook, *target_args(sandbox), "--trust", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "install oxzep7==1.5.0 (1.4.2 -> 1.5.0; sha256 " in done.stdout
    assert "staging clone -> install in staging" in done.stdout
    commands = [c for c in (recorded["checks"].get(k) for k in ("test-command", "test_command")) if c]
    assert commands, "the demo project configures a test command"
    assert f"tests: {json.dumps(commands[0])}" in done.stdout  # the argument list, as it will run
    assert "dry run: nothing was changed" in done.stdout
    assert not ANSI.search(done.stdout)
    assert fingerprint(sandbox.venv) == before


def _no_test_command(d: dict[str, Any]) -> None:
    d["checks"]["test-command"] = None  # none configured: the checks detect one in the project


def test_dry_run_lists_the_test_command_detected_when_the_runbook_records_none(
    recorded_15: Any, recorded_20: Any, demo: Any, tmp_path: Path
) -> None:
    """A runbook without a test command still runs the project's tests (the command the checks
    detect there): the dry run and the JSON report list it, and it is the one the replay runs."""
    from oxwizard.checks.tests import choose_command
    from oxwizard.core.config import ChecksConfig

    _, runbook = recorded_15
    sandbox, _ = recorded_20
    bare = edited_copy(runbook, tmp_path / "bare.json", _no_test_command, resign=True)
    before = fingerprint(sandbox.venv)
    found = choose_command(Environment.open(sandbox.venv), sandbox.project, ChecksConfig())

    done = oxwizard("replay", bare, *target_args(sandbox), "--trust", "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(none configured)" not in done.stdout
    line = f"  tests (none recorded: detected in this project, {found.why}): {json.dumps(found.argv)}"
    assert line in done.stdout.splitlines(), done.stdout
    as_json = oxwizard("replay", bare, *target_args(sandbox), "--trust", "--dry-run", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert found.argv in json.loads(as_json.stdout)["commands"]
    assert fingerprint(sandbox.venv) == before

    # ... and it is what the replay runs (at the baseline, in staging and on live)
    host = demo()
    ran = oxwizard("replay", bare, *target_args(host), "--trust", "--verbose", "--no-record")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.count(f"tests: {shlex.join(found.argv)} ") == 3, ran.stdout


def test_replay_commands_name_the_lockfile_tools_of_written_project_files(demo_template: Any) -> None:
    from test_runbook import full_runbook

    from oxwizard.env.project_files import ProjectFiles, Regeneration
    from oxwizard.flow.replay import replay_commands
    from oxwizard.runbook.model import Decision

    runbook = full_runbook()
    assert runbook.plan is not None
    runbook.checks.test_command = ["python", "-m", "pytest"]
    regen = Regeneration(path="poetry.lock", tool="poetry", command=["poetry", "lock"], names=["oxzep7"],
                         then=["poetry", "check"])  # fmt: skip
    runbook.set_plan(runbook.plan.model_copy(update={"project_files": ProjectFiles(regenerate=[regen])}))
    env = Environment.open(demo_template.venv)
    checks_only = [("tests", ["python", "-m", "pytest"])]
    assert replay_commands(runbook, env, demo_template.project) == checks_only  # not asked to write them
    runbook.options.update_pins = True
    runbook.record(Decision(step="pins", question="Write?", answer="write"))
    assert replay_commands(runbook, env, demo_template.project) == [
        *checks_only,
        ("lockfile poetry.lock", ["poetry", "lock"]),
        ("lockfile poetry.lock, then", ["poetry", "check"]),
    ]


def test_a_runbook_of_schema_version_1_still_replays(
    recorded_15: Any, recorded_20: Any, tmp_path: Path
) -> None:
    """Runbooks written before version 2 (no trials) are migrated when read: their replay runs."""
    _, runbook = recorded_15
    sandbox, _ = recorded_20
    data = json.loads(runbook.read_text())
    assert data["schema_version"] == 2
    # a version 1 runbook has no runbook_digest either: it replays with --trust
    dropped = ("trials", "tried_targets", "runbook_digest")
    old = {k: v for k, v in data.items() if k not in dropped} | {"schema_version": 1}
    path = tmp_path / runbook.name
    path.write_text(json.dumps(old, indent=2), encoding="utf-8")
    done = oxwizard("replay", path, *target_args(sandbox), "--trust", "--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "install oxzep7==1.5.0 (1.4.2 -> 1.5.0; sha256 " in done.stdout
    assert "dry run: nothing was changed" in done.stdout


# -- pure parts -----------------------------------------------------------------------------------
def _plan(*changes: Change) -> Plan:
    return Plan(
        targets=["oxzep7"], env_fingerprint="x", python_version="3.11.0", platform="p", installer="pip",
        changes=list(changes),
    )  # fmt: skip


def _change(
    name: str, old: str | None, new: str, sha: str = "a" * 64, index: str = "find-links /w"
) -> Change:
    return Change(
        name=name, from_version=old, to_version=new, kind="upgrade", impact="minor", sha256=sha, index=index
    )


def test_plan_diff_is_readable() -> None:
    recorded = _plan(_change("oxzep7", "1.4.2", "1.5.0"), _change("ziprow", "0.3.1", "0.3.2"))
    fresh = _plan(_change("oxzep7", "1.4.2", "1.6.0"), _change("oxzep7-core", None, "2.0.0"))
    assert plan_diff(recorded, fresh) == [
        "~ oxzep7: recorded 1.4.2 -> 1.5.0, now 1.4.2 -> 1.6.0",
        "+ oxzep7-core new -> 2.0.0 (in the plan now, not recorded)",
        "- ziprow 0.3.1 -> 0.3.2 (recorded, not in the plan now)",
    ]
    assert plan_diff(recorded, recorded) == []


def test_artefact_and_index_changes_are_named() -> None:
    recorded = _plan(_change("oxzep7", "1.4.2", "1.5.0"), _change("ziprow", "0.3.1", "0.3.2"))
    fresh = _plan(
        _change("oxzep7", "1.4.2", "1.5.0", sha="b" * 64),
        _change("ziprow", "0.3.1", "0.3.2", index="https://mirror.example/simple"),
    )
    problems = artefact_problems(recorded, fresh)
    assert problems[0].startswith("oxzep7 1.5.0: a different artefact under the same version")
    assert problems[1] == "ziprow 0.3.2: recorded from find-links /w, now from https://mirror.example/simple"
    # Another local wheelhouse path is the same kind of source: the sha256 pins the artefact.
    moved = _plan(_change("oxzep7", "1.4.2", "1.5.0", index="find-links /elsewhere"))
    assert artefact_problems(recorded, moved) == []


def test_documented_schema_is_current() -> None:
    text = DOCS.read_text(encoding="utf-8")
    block = text[text.index(SCHEMA_START) : text.index(SCHEMA_END)]
    documented = json.loads(block[block.index("```json") + 7 : block.rindex("```")])
    assert documented == report_schema(), "refresh it: python -m oxwizard.runbook.report docs/replay.md"


# -- a minimal JSON Schema check (the subset pydantic emits), so reports are checked against the doc --
def validate(value: Any, schema: dict[str, Any], root: dict[str, Any] | None = None, at: str = "$") -> None:
    root = root or schema
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return validate(value, root["$defs"][name], root, at)
    if "anyOf" in schema:
        errors = []
        for option in schema["anyOf"]:
            try:
                return validate(value, option, root, at)
            except AssertionError as exc:
                errors.append(str(exc))
        raise AssertionError(f"{at}: matches none of anyOf: {errors}")
    if "enum" in schema:
        assert value in schema["enum"], f"{at}: {value!r} not in {schema['enum']}"
    kind = schema.get("type")
    types = {"object": dict, "array": list, "string": str, "integer": int, "number": (int, float)}
    if kind == "null":
        assert value is None, f"{at}: expected null"
    elif kind == "boolean":
        assert isinstance(value, bool), f"{at}: expected a boolean"
    elif kind is not None:
        assert isinstance(value, types[kind]) and not isinstance(value, bool), f"{at}: expected {kind}"
    if kind == "object":
        props = schema.get("properties", {})
        missing = set(schema.get("required", [])) - set(value)
        assert not missing, f"{at}: missing {sorted(missing)}"
        if schema.get("additionalProperties") is False:
            extra = set(value) - set(props)
            assert not extra, f"{at}: unexpected {sorted(extra)}"
        for key, item in value.items():
            if key in props:
                validate(item, props[key], root, f"{at}.{key}")
    if kind == "array" and "items" in schema:
        for i, item in enumerate(value):
            validate(item, schema["items"], root, f"{at}[{i}]")
    return None


TAMPERS_WITH_THE_STASH = '''import glob
import os
import unittest

VENV = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".venv")


class TampersWithTheStash(unittest.TestCase):
    """Passes, but rewrites the stashed oxzep7/__init__.py: the rollback cannot be verified."""

    def test_tamper(self):
        pattern = os.path.join(VENV, ".oxwizard", "checkpoints", "*", "files", "**", "oxzep7", "__init__.py")
        for path in glob.glob(pattern, recursive=True):
            os.unlink(path)
            with open(path, "w") as fh:
                fh.write("tampered = True\\n")
'''


def test_a_rollback_that_cannot_be_verified_exits_3_and_says_a_person_is_needed(
    recorded_20: Any, demo: Any, tmp_path: Path
) -> None:
    _recorder, runbook = recorded_20
    host = demo()
    (host.project / "tests" / "test_tamper.py").write_text(TAMPERS_WITH_THE_STASH, encoding="utf-8")
    copy = tmp_path / runbook.name  # outside any runbook repository: replayed with --trust
    copy.write_bytes(runbook.read_bytes())

    done = oxwizard("replay", copy, *target_args(host), "--trust", "--json", "--host", "ci-3")

    assert done.returncode == 3, done.stdout + done.stderr
    report = json.loads(done.stdout)
    validate(report, report_schema())
    assert report["exit_code"] == 3 and report["rollback_verified"] is False
    assert report["outcome"] == "rollback-failed"
    assert "could not be verified" in report["message"] and "oxzep7/__init__.py" in report["message"]
