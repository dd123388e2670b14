"""Runbook files are untrusted input: every bad file is a one-line error naming file and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import make_plan
from test_runbook_repo import make_runbook

from oxwizard.core.errors import RunbookError
from oxwizard.runbook.model import (
    MAX_RUNBOOK_BYTES,
    SCHEMA_VERSION,
    Decision,
    Evidence,
    Runbook,
    dump_runbook,
    load_runbook,
)


def full_runbook() -> Runbook:
    rb = make_runbook()
    rb.set_plan(make_plan())
    rb.record(
        Decision(
            step="plan",
            question="Apply?",
            answer="yes",
            evidence=Evidence(command=["pip", "install"], exit_code=0, counts={"changes": 2}, duration=0.5),
        )
    )
    return rb


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "rb.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def test_round_trip_is_stable_and_diffable(tmp_path: Path) -> None:
    rb = full_runbook()
    path = tmp_path / "runbooks" / "x.json"
    dump_runbook(rb, path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith('{\n  "schema_version": 2,\n  "id": ')  # indented, fixed key order
    again = load_runbook(path)
    assert again == rb
    dump_runbook(again, path)
    assert path.read_text(encoding="utf-8") == text
    assert rb.plan is not None and rb.plan_summary == "oxzep7 1.4.2 -> 2.0.0 (major), 2 changes"


def one_line_error(path: Path) -> str:
    before = path.read_bytes()
    with pytest.raises(RunbookError) as info:
        load_runbook(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert info.value.exit_code == 2
    assert path.read_bytes() == before  # loading changes nothing
    return message


def test_malformed_json(tmp_path: Path) -> None:
    message = one_line_error(write(tmp_path, '{"schema_version": 1,\n "id": '))
    assert "not valid JSON" in message and "line 2" in message


def test_not_an_object(tmp_path: Path) -> None:
    assert "expected a JSON object" in one_line_error(write(tmp_path, "[1, 2]"))


def test_unknown_schema_version(tmp_path: Path) -> None:
    data = json.loads(full_runbook().to_text())
    data["schema_version"] = SCHEMA_VERSION + 41
    message = one_line_error(write(tmp_path, data))
    assert f"schema_version: unknown version {SCHEMA_VERSION + 41}" in message
    data["schema_version"] = "1"
    assert "schema_version: missing or not an integer" in one_line_error(write(tmp_path, data))


def test_a_version_1_runbook_is_read_and_written_back_as_version_2(tmp_path: Path) -> None:
    """Version 2 added the culprit search's ``trials`` and ``tried_targets``: a runbook of version 1
    (as oxwizard wrote it before them) is still read, and saved again as version 2; a reader of
    version 1 refuses version 2 by its number instead of failing on (or dropping) the trials."""
    rb = full_runbook()
    data = json.loads(rb.to_text())
    assert data["schema_version"] == 2 and data["trials"] == [] and data["tried_targets"] == []
    old = {k: v for k, v in data.items() if k not in ("trials", "tried_targets")} | {"schema_version": 1}
    path = write(tmp_path, old)
    again = load_runbook(path)
    assert again == rb and again.schema_version == 2
    dump_runbook(again, path)
    assert json.loads(path.read_text(encoding="utf-8"))["schema_version"] == 2
    # a development build wrote the trials under version 1 already: they are kept
    trial = {"number": 1, "targets": ["oxzep7==2.0.0"], "ok": False, "summary": "FAILED tests"}
    old |= {"trials": [trial], "tried_targets": ["oxzep7==2.0.0", "ziprow==0.3.2"]}
    kept = load_runbook(write(tmp_path, old))
    assert [t.summary for t in kept.trials] == ["FAILED tests"] and len(kept.tried_targets) == 2


def test_wrong_type_names_the_field(tmp_path: Path) -> None:
    data = json.loads(full_runbook().to_text())
    data["decisions"][0]["evidence"]["exit_code"] = "zero"
    message = one_line_error(write(tmp_path, data))
    assert "decisions.0.evidence.exit_code" in message
    assert "integer" in message


def test_missing_field_names_the_field(tmp_path: Path) -> None:
    data = json.loads(full_runbook().to_text())
    del data["environment"]["fingerprint"]
    assert "environment.fingerprint: Field required" in one_line_error(write(tmp_path, data))


def test_unknown_field_is_refused(tmp_path: Path) -> None:
    data = json.loads(full_runbook().to_text())
    data["plan"]["changes"][0]["__class__"] = "os.system"
    message = one_line_error(write(tmp_path, data))
    assert "plan.changes.0.__class__: Extra inputs are not permitted" in message


def test_hand_edited_plan_is_refused(tmp_path: Path) -> None:
    data = json.loads(full_runbook().to_text())
    data["plan"]["changes"][0]["to_version"] = "3.0.0"
    assert "does not match its recorded plan_digest" in one_line_error(write(tmp_path, data))


def test_oversized_missing_and_folder(tmp_path: Path) -> None:
    big = write(tmp_path, " " * (MAX_RUNBOOK_BYTES + 1))
    assert "too large for a runbook" in one_line_error(big)
    with pytest.raises(RunbookError, match="runbook not found"):
        load_runbook(tmp_path / "nope.json")
    with pytest.raises(RunbookError, match="not a runbook file"):
        load_runbook(tmp_path)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    assert "cannot read" in one_line_error(binary)


def test_a_runbook_written_before_run_tests_was_dropped_still_loads(tmp_path: Path) -> None:
    # earlier versions wrote options.run_tests (always true, never read): their runbooks stay readable
    data = json.loads(full_runbook().to_text())
    data["options"] = {"stage": True, "run_tests": True, "monitor_rounds": 2, "monitor_interval": 0.5}
    rb = load_runbook(write(tmp_path, data))
    assert rb.options.monitor_rounds == 2 and "run_tests" not in rb.to_text()


def test_a_runbook_recorded_by_an_earlier_release_keeps_its_plan_digest() -> None:
    """Saved runbooks are replayed long after they were recorded: one from an earlier release (its
    plan's API impact has none of the fields added since: a change's parameters and receiver, a
    use's detail) still matches its recorded digest, and is not refused as edited by hand."""
    runbook = load_runbook(Path(__file__).parent / "data" / "runbook-7ce62d3-oxzep7-2.0.0.json")
    assert runbook.plan is not None and runbook.plan.api_impact is not None
    assert {u.change for u in runbook.plan.api_impact.uses} == {"oxzep7.fmt", "oxzep7.legacy_parse"}
    assert runbook.plan_digest == runbook.plan.digest()


def test_a_runbook_with_a_lockfile_regeneration_recorded_before_its_later_fields_keeps_its_digest() -> None:
    """A pip-tools project's runbook recorded at f7578c8: its lockfile regeneration has none of the
    fields added since (what runs after the command, what stands in for a tool not installed). It
    still loads and replays, not refused as edited by hand."""
    runbook = load_runbook(Path(__file__).parent / "data" / "runbook-f7578c8-pip-tools-oxzep7-1.5.0.json")
    assert runbook.plan is not None and runbook.plan.project_files is not None
    [regeneration] = runbook.plan.project_files.regenerate
    assert (regeneration.path, regeneration.tool, regeneration.then) == (
        "requirements.txt",
        "pip-compile",
        [],
    )
    assert runbook.plan_digest == runbook.plan.digest()
    regeneration.stand_in = "uv pip compile"  # set, the later field counts
    assert runbook.plan_digest != runbook.plan.digest()


def test_runbook_digest_covers_the_whole_document(tmp_path: Path) -> None:
    """Every write records ``runbook_digest``: a replay checks it (``runbook_digest_state``) and
    refuses any edit — of the commands, options, targets, index, decisions — as tampered."""
    from oxwizard.runbook.model import runbook_digest_state

    path = tmp_path / "runbooks" / "x.json"
    dump_runbook(full_runbook(), path)
    text = path.read_text(encoding="utf-8")
    assert runbook_digest_state(text) == "verified"
    dump_runbook(load_runbook(path), path)  # read and written again: the same digest
    assert path.read_text(encoding="utf-8") == text
    assert runbook_digest_state(json.dumps(json.loads(text), indent=8)) == "verified"  # layout: free
    edits = {
        "test-command": lambda d: d["checks"].update({"test-command": ["python", "-c", "1"]}),
        "stage": lambda d: d["options"].update({"stage": False}),
        "targets": lambda d: d["targets"].append("ziprow"),
        "index": lambda d: d["index"].update({"find_links": ["/elsewhere"]}),
        "decisions": lambda d: d["decisions"][0].update({"answer": "no"}),
        "origin": lambda d: d.update({"origin": "f" * 40}),
    }
    for name, edit in edits.items():
        data = json.loads(text)
        edit(data)
        edited = json.dumps(data)
        load_runbook(write(tmp_path, edited))  # still a valid runbook: only the digest tells
        with pytest.raises(RunbookError, match=r"^rb: runbook_digest: does not match the runbook") as info:
            runbook_digest_state(edited, "rb")
        assert info.value.exit_code == 2, name


def test_a_runbook_written_before_the_runbook_digest_has_none() -> None:
    from oxwizard.runbook.model import runbook_digest_state

    old = (Path(__file__).parent / "data" / "runbook-7ce62d3-oxzep7-2.0.0.json").read_text("utf-8")
    assert runbook_digest_state(old) == "absent"
    assert (
        load_runbook(Path(__file__).parent / "data" / "runbook-7ce62d3-oxzep7-2.0.0.json").runbook_digest
        is None
    )
