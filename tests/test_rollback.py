"""Rollback on a real demo venv: byte-identical, verified, no-op when there is nothing to do, parents."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import assert_restored, env_state, wheel_install

from oxwizard.core.errors import RollbackFailed
from oxwizard.demo.sandbox import DemoSandbox
from oxwizard.env.environment import Environment
from oxwizard.env.plan import compute_plan
from oxwizard.env.specs import IndexOptions, parse_specs
from oxwizard.safety.apply import apply_plan
from oxwizard.safety.checkpoint import (
    RACY_NS,
    Checkpoint,
    checkpoints_dir,
    load_checkpoint,
    load_signatures,
    read_signatures,
    stash_dir,
    take_checkpoint,
    write_signatures,
)
from oxwizard.safety.rollback import rollback
from oxwizard.tui.tasks import verify_rollback_fully


def _index(demo: DemoSandbox) -> IndexOptions:
    return IndexOptions.build(find_links=[str(demo.wheelhouse)], no_index=True)


def _upgrade(demo: DemoSandbox, *specs: str) -> tuple[Environment, Checkpoint]:
    env = Environment.open(demo.venv)
    plan = compute_plan(env, parse_specs(list(specs)), _index(demo))
    ck = take_checkpoint(env, plan)
    result = apply_plan(env, plan, _index(demo), checkpoint=ck)
    assert result.ok, result.mismatches
    return env, ck


def _cli(demo: DemoSandbox, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "oxwizard", *args, "--env", str(demo.venv)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def _warm_pyc(demo: DemoSandbox) -> None:
    # .pyc files that RECORD does not list must come back too
    code = "import oxzep7, oxzep7.fmt, oxzep7.cli, oxzep7_plugin, humbleconf, ziprow"
    subprocess.run([str(demo.python), "-c", code], check=True)


def test_rollback_is_byte_identical_and_verified(live_demo: DemoSandbox) -> None:
    _warm_pyc(live_demo)
    before = env_state(live_demo.venv)
    assert any("__pycache__/fmt." in p for p in before)
    env, ck = _upgrade(live_demo, "oxzep7==2.0.0", "ziprow==0.3.2")
    assert env_state(live_demo.venv) != before

    result = rollback(env)

    assert result.verified and not result.noop and result.method == "stash"
    assert result.checkpoint_id == ck.id
    assert sorted(result.removed) == ["oxzep7-core==2.0.0", "oxzep7==2.0.0", "ziprow==0.3.2"]
    # the one the checkpoint had none of is told apart from those put back as they were
    assert (
        "3 distribution(s) removed or replaced (removed: oxzep7-core==2.0.0; replaced: oxzep7==2.0.0, "
        "ziprow==0.3.2); fingerprint" in result.message
    )
    assert result.fingerprint_after == ck.fingerprint == env.fingerprint()
    assert env_state(live_demo.venv) == before
    assert_restored(live_demo.venv, ck.id)


def test_a_checkpoint_written_before_the_manifest_moved_out_still_rolls_back(live_demo: DemoSandbox) -> None:
    """Schema 1 kept the manifest inside checkpoint.json as objects: it is read, and rewritten as
    schema 2 (manifest.json beside it) when the rollback marks it restored."""
    before = env_state(live_demo.venv)
    env, ck = _upgrade(live_demo, "oxzep7==1.5.0")
    folder = checkpoints_dir(env) / ck.id
    old = json.loads(ck.model_dump_json())
    old["schema_version"] = 1
    old["manifest"] = [{"path": e.path, "size": e.size, "sha256": e.sha256} for e in ck.manifest]
    (folder / "checkpoint.json").write_text(json.dumps(old), encoding="utf-8")
    (folder / "manifest.json").unlink()
    assert load_checkpoint(env, ck.id).manifest == ck.manifest

    result = rollback(env)

    assert result.verified and result.restored_files == len(ck.manifest)
    assert env_state(live_demo.venv) == before
    assert json.loads((folder / "checkpoint.json").read_text(encoding="utf-8"))["schema_version"] == 2
    assert load_checkpoint(env, ck.id).manifest == ck.manifest


def test_rolling_back_twice_or_with_nothing_to_roll_back_is_a_noop(live_demo: DemoSandbox) -> None:
    env, ck = _upgrade(live_demo, "humbleconf==1.3.0")
    first = _cli(live_demo, "rollback")
    assert first.returncode == 0, first.stderr
    assert f"rolled back to {ck.id}" in first.stdout

    again = _cli(live_demo, "rollback", "--json")

    assert again.returncode == 0, again.stderr
    assert '"noop": true' in again.stdout
    assert "already rolled back" in again.stdout
    assert_restored(live_demo.venv, ck.id)


def test_no_checkpoint_at_all_is_a_clear_noop(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "v")], check=True)
    done = subprocess.run(
        [sys.executable, "-m", "oxwizard", "rollback", "--env", str(tmp_path / "v")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "nothing to roll back: this environment has no checkpoint" in done.stdout


def test_a_then_rollback_then_b_then_rollback_ends_where_b_started(live_demo: DemoSandbox) -> None:
    env, ck_keep = _upgrade(live_demo, "humbleconf==1.3.0")  # a kept upgrade: B starts from here
    b_start = env_state(live_demo.venv)
    _, ck_a = _upgrade(live_demo, "oxzep7==2.0.0")
    rollback(env)
    _, ck_b = _upgrade(live_demo, "ziprow==0.3.2")
    assert ck_b.parent == ck_a.id and ck_a.parent == ck_keep.id

    result = rollback(env)
    assert result.checkpoint_id == ck_b.id
    assert env_state(live_demo.venv) == b_start
    assert env.distributions["humbleconf"].version == "1.3.0"
    assert env.distributions["oxzep7"].version == "1.4.2"
    # and rolling back once more does not walk further back to an older state
    assert rollback(env).noop
    assert env_state(live_demo.venv) == b_start
    rollback(env, ck_keep.id)  # explicit: back before the kept upgrade
    assert env.distributions["humbleconf"].version == "1.2.0"


def test_rollback_to_an_older_checkpoint_undoes_the_newer_ones_first(live_demo: DemoSandbox) -> None:
    start = env_state(live_demo.venv)
    env, ck1 = _upgrade(live_demo, "humbleconf==1.3.0")
    _upgrade(live_demo, "oxzep7==1.5.0")
    result = rollback(env, ck1.id)
    assert result.verified
    assert env_state(live_demo.venv) == start


def test_a_plain_rollback_after_one_to_an_older_checkpoint_never_moves_live_forward(
    live_demo: DemoSandbox,
) -> None:
    """``--to`` the first of two checkpoints marks both restored; the newest one's state (the first
    upgrade on live) is not where live went back to. A plain rollback after it once reinstalled that
    state from the package sources, "verified": the upgrade the user had just undone was back."""
    start = env_state(live_demo.venv)
    env, ck1 = _upgrade(live_demo, "humbleconf==1.3.0")
    _upgrade(live_demo, "oxzep7==1.5.0")
    assert _cli(live_demo, "rollback", "--to", ck1.id).returncode == 0
    sources = ["--find-links", str(live_demo.wheelhouse), "--no-index"]

    again = _cli(live_demo, "rollback", *sources)

    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout == f"nothing to roll back: already rolled back to checkpoint {ck1.id}\n"
    assert env_state(live_demo.venv) == start

    # live changed by hand since: a plain rollback puts back the checkpoint it was rolled back to
    # (its stash went back to live: by the installer), and counts every pin the installer replaced
    wheel_install(live_demo.venv, live_demo.wheelhouse, "oxzep7==1.5.0")

    result = rollback(env, index=_index(live_demo))

    assert result.checkpoint_id == ck1.id and result.verified and result.method == "reinstall"
    assert sorted(result.removed) == ["humbleconf==1.2.0", "oxzep7==1.5.0"], "both pins were reinstalled"
    assert (
        "2 distribution(s) removed or replaced (replaced: humbleconf==1.2.0, oxzep7==1.5.0)" in result.message
    )
    assert env.distributions["humbleconf"].version == "1.2.0"
    assert env.distributions["oxzep7"].version == "1.4.2"
    assert env.fingerprint() == load_checkpoint(env, ck1.id).fingerprint


def test_without_the_stash_it_reinstalls_exact_pins_and_says_so(live_demo: DemoSandbox) -> None:
    env, ck = _upgrade(live_demo, "oxzep7==1.5.0")
    shutil.rmtree(stash_dir(env, ck.id))
    with pytest.raises(RollbackFailed, match="no stash on this host.*--find-links"):
        rollback(env)
    assert env.distributions["oxzep7"].version == "1.5.0"
    said: list[str] = []

    result = rollback(env, on_line=said.append, index=_index(live_demo))

    assert result.method == "reinstall" and result.verified
    assert any("reinstalling its exact pins" in line for line in said)
    assert env.distributions["oxzep7"].version == "1.4.2"
    assert env.fingerprint() == ck.fingerprint


def _tamper_keeping_size_and_mtime(path: Path) -> bytes:
    """Rewrite ``path`` in place (same inode, same size) and set its mtime back: its old bytes."""
    old = path.read_bytes()
    st = path.stat()
    with path.open("r+b") as f:
        f.write(bytes([old[0] ^ 0x01]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (st.st_ino, st.st_size, st.st_mtime_ns)
    return old


def test_default_verification_proves_by_signature_and_catches_a_write_that_kept_size_and_mtime(
    live_demo: DemoSandbox,
) -> None:
    """The install on live unlinked every stashed file's live name (its ctime moved): the upgrade
    re-proved the stash, so the rollback reads no file; a later write through the stash, its size
    and mtime kept, is caught all the same (its ctime moved again: user space cannot set it back)."""
    before = env_state(live_demo.venv)
    env, ck = _upgrade(live_demo, "oxzep7==1.5.0")

    result = rollback(env)

    assert result.verified and result.verification == "signatures"
    assert result.hashed_files == 0 and result.restored_files == len(ck.manifest)
    assert result.message.endswith("verified (signatures)")
    assert env_state(live_demo.venv) == before
    # the wizard's background pass after it: every file hashed, or the one that differs named
    ok, shown = verify_rollback_fully(env, result)
    assert ok and shown.endswith("verified (sha256)") and shown.startswith(f"rolled back to {ck.id}")
    live = live_demo.venv / next(e.path for e in ck.manifest if e.path.endswith("oxzep7/__init__.py"))
    old = _tamper_keeping_size_and_mtime(live)
    ok, shown = verify_rollback_fully(env, result)
    assert not ok and "oxzep7/__init__.py differs from the checkpoint" in shown
    live.write_bytes(old)

    env, ck = _upgrade(live_demo, "humbleconf==1.3.0")
    stashed = next(stash_dir(env, ck.id).rglob("humbleconf/__init__.py"))
    old = _tamper_keeping_size_and_mtime(stashed)

    with pytest.raises(RollbackFailed, match=r"humbleconf/__init__\.py differs from the checkpoint"):
        rollback(env)
    live = live_demo.venv / next(e.path for e in ck.manifest if e.path.endswith("humbleconf/__init__.py"))
    live.write_bytes(old)  # leave the shared sandbox as it was
    assert_restored(live_demo.venv, ck.id)


def test_verify_full_catches_a_change_the_signatures_cannot_see(live_demo: DemoSandbox) -> None:
    """Signatures can be fooled by what keeps a ctime (a clock set back, a write to the raw disk):
    simulated by re-signing a tampered stash file. ``--verify full`` hashes every file and names it."""
    env, ck = _upgrade(live_demo, "ziprow==0.3.2")
    i, entry = next((i, e) for i, e in enumerate(ck.manifest) if e.path.endswith("ziprow/__init__.py"))
    stashed = stash_dir(env, ck.id) / entry.path
    old = _tamper_keeping_size_and_mtime(stashed)
    time.sleep(RACY_NS / 1e9)
    signatures = load_signatures(env, ck)
    signatures[i] = read_signatures([str(stashed)])[0]
    write_signatures(env, ck.id, signatures)

    done = _cli(live_demo, "rollback", "--verify", "full")

    assert done.returncode == 3, done.stdout + done.stderr
    assert "could not be verified" in done.stderr and "ziprow/__init__.py differs" in done.stderr
    (live_demo.venv / entry.path).write_bytes(old)
    assert_restored(live_demo.venv, ck.id)


def test_a_checkpoint_without_signatures_is_restored_and_every_file_hashed(live_demo: DemoSandbox) -> None:
    """Checkpoints taken before signatures existed (or copied from another host) still roll back."""
    before = env_state(live_demo.venv)
    env, ck = _upgrade(live_demo, "oxzep7==1.5.0")
    (checkpoints_dir(env) / ck.id / "signatures.json").unlink()

    result = rollback(env)

    assert result.verified and result.verification == "sha256"
    assert result.hashed_files == len(ck.manifest) == result.restored_files
    assert env_state(live_demo.venv) == before


# keep this test last in the module: it leaves a tampered file in the shared sandbox
def test_cli_exit_3_when_the_rollback_cannot_be_verified(live_demo: DemoSandbox) -> None:
    env, ck = _upgrade(live_demo, "ziprow==0.3.2")
    stashed = next(stash_dir(env, ck.id).rglob("ziprow/__init__.py"))
    # the stash was tampered with (same inode as nothing live now): the restored file cannot match
    stashed.unlink()
    stashed.write_text("tampered = True\n")

    done = _cli(live_demo, "rollback")

    assert done.returncode == 3, done.stdout + done.stderr
    assert "could not be verified" in done.stderr and "ziprow/__init__.py" in done.stderr


def test_a_package_changed_by_hand_after_the_checkpoint_is_put_back_or_the_rollback_refused(
    demo: Any,
) -> None:
    """humbleconf upgraded by oxwizard (its files stashed), then oxzep7 1.5.0 installed by hand: the
    stash cannot put oxzep7 1.4.2 back. Without a package source the rollback is refused before
    anything changes, naming what changed (before: the upgrade was undone, verification failed with
    exit 3 and the stash was spent). With one, the installer puts oxzep7 back and the checkpoint is
    restored exactly; recovery of a rollback cut short does the same with the command's sources."""
    sandbox = demo()
    start = env_state(sandbox.venv)
    where = ["--env", str(sandbox.venv), "--project", str(sandbox.project)]
    sources = ["--find-links", str(sandbox.wheelhouse), "--no-index"]

    def oxwizard(*argv: str, **environ: str) -> subprocess.CompletedProcess[str]:
        argv = (sys.executable, "-m", "oxwizard", *argv, *where)
        return subprocess.run(
            argv, capture_output=True, text=True, timeout=300, env={**os.environ, **environ}
        )

    assert oxwizard("upgrade", "humbleconf==1.3.0", *sources, "--yes").returncode == 0
    wheel_install(sandbox.venv, sandbox.wheelhouse, "oxzep7==1.5.0")
    changed = env_state(sandbox.venv)

    refused = oxwizard("rollback", "--isolated")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "refused, nothing was changed: oxzep7 1.4.2 -> 1.5.0 changed on live after the checkpoint" in (
        refused.stderr
    )
    assert env_state(sandbox.venv) == changed

    cut = oxwizard("rollback", *sources, OXWIZARD_TEST_KILL_AT="rollback:3")  # killed mid-restore
    assert cut.returncode < 0, cut.stdout + cut.stderr
    recovered = oxwizard("rollback", *sources)  # its recovery finishes the cut rollback, with its sources
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert "interrupted rollback" in recovered.stderr
    [ck] = {w.rstrip(":,") for w in recovered.stderr.split() if w.startswith("ck-")}
    assert_restored(sandbox.venv, ck)
    # every file as it was, but the bytecode the installer compiled again for the package it put back
    assert {p: h for p, h in env_state(sandbox.venv).items() if "oxzep7/__pycache__" not in p} == {
        p: h for p, h in start.items() if "oxzep7/__pycache__" not in p
    }


def test_a_package_whose_folder_spells_its_name_otherwise_is_said_replaced_not_removed(
    demo: Any, tmp_path: Path
) -> None:
    """tool-kit's .dist-info folder is tool_kit-…: rolled back from 2.0 to 1.0 by the rollback verb
    (which reads names from folders), it is one the checkpoint had, put back: "replaced"."""
    from oxwizard.demo.wheels import build_wheel

    sandbox = demo()
    house = tmp_path / "house"
    for version in ("1.0", "2.0"):
        build_wheel(house, "tool-kit", version, {"tool_kit/__init__.py": f"V = {version!r}\n"})
    wheel_install(sandbox.venv, house, "tool-kit==1.0")
    where = ["--env", str(sandbox.venv), "--project", str(sandbox.project)]
    sources = ["--find-links", str(house), "--find-links", str(sandbox.wheelhouse), "--no-index"]
    run = [sys.executable, "-m", "oxwizard"]
    upgrade = [*run, "upgrade", "tool-kit==2.0", *where, *sources, "--yes"]
    upgraded = subprocess.run(upgrade, capture_output=True, text=True, timeout=300)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr

    done = subprocess.run([*run, "rollback", *where], capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 distribution(s) removed or replaced (replaced: tool" in done.stdout, done.stdout
    assert "removed:" not in done.stdout


def test_a_rollback_whose_record_was_lost_is_recorded_by_the_next_one(demo: Any) -> None:
    """`oxwizard rollback` killed after its restore, before it wrote the runbook (here: the restore
    done by the engine alone): the runbook still says upgraded. The next rollback finds live already
    at the checkpoint, records the rollback, and the start and `resume` say it was rolled back."""
    from oxwizard.flow.upgrade import start_state, where_the_upgrade_is
    from oxwizard.runbook.model import load_runbook

    sandbox = demo()
    where = ["--env", str(sandbox.venv), "--project", str(sandbox.project)]
    run = [sys.executable, "-m", "oxwizard"]
    upgrade = [
        *run,
        "upgrade",
        "humbleconf==1.3.0",
        *where,
        "--find-links",
        str(sandbox.wheelhouse),
        "--no-index",
    ]
    assert subprocess.run([*upgrade, "--yes"], capture_output=True, timeout=300).returncode == 0
    [path] = (sandbox.project / ".oxwizard" / "runbooks").glob("*.json")
    assert rollback(Environment.open(sandbox.venv)).verified  # restored, never recorded
    assert where_the_upgrade_is(load_runbook(path)) == "on live"

    done = subprocess.run([*run, "rollback", *where], capture_output=True, text=True, timeout=300)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "nothing to roll back: already rolled back to checkpoint" in done.stdout
    assert f"recorded in runbook {path.stem}" in done.stdout
    assert where_the_upgrade_is(load_runbook(path)) == "was rolled back"
    resume, last = start_state(sandbox.project, Environment.open(sandbox.venv))
    assert resume is None and "rolled-back: by oxwizard rollback (recorded late" in last
    again = subprocess.run([*run, "rollback", *where], capture_output=True, text=True, timeout=300)
    assert "recorded in runbook" not in again.stdout  # once
