"""Checkpoints: what they record and stash, privacy, disk space, pruning, and RECORD paths that escape."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import DemoFactory

from oxwizard.core.errors import CheckpointError, UnsafePath
from oxwizard.demo.sandbox import DemoSandbox
from oxwizard.env.environment import Environment
from oxwizard.env.plan import Plan, compute_plan
from oxwizard.env.specs import IndexOptions, parse_specs
from oxwizard.runbook.model import load_runbook
from oxwizard.safety import checkpoint as checkpoint_mod
from oxwizard.safety.apply import apply_plan
from oxwizard.safety.checkpoint import (
    checkpoints_dir,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    prune_checkpoints,
    take_checkpoint,
)
from oxwizard.safety.records import EnvPaths
from oxwizard.safety.rollback import rollback


def _plan(demo: DemoSandbox, *specs: str) -> tuple[Environment, Plan]:
    env = Environment.open(demo.venv)
    index = IndexOptions.build(find_links=[str(demo.wheelhouse)], no_index=True)
    return env, compute_plan(env, parse_specs(list(specs)), index)


def test_checkpoint_records_everything_and_stashes_only_what_the_plan_changes(live_demo: DemoSandbox) -> None:
    env, plan = _plan(live_demo, "oxzep7==2.0.0")
    ck = take_checkpoint(env, plan)

    assert re.fullmatch(r"ck-\d{8}T\d{6}-[0-9a-f]{12}", ck.id)
    assert ck.fingerprint == env.fingerprint()
    assert {d.pin for d in ck.distributions} >= {"oxzep7==1.4.2", "humbleconf==1.2.0", "ziprow==0.3.1"}
    assert ck.changed == ["oxzep7"]
    paths = {e.path for e in ck.manifest}
    assert "bin/oxzep7" in paths  # the console script
    assert any(p.endswith("oxzep7-1.4.2.dist-info/RECORD") for p in paths)
    assert not any("humbleconf" in p or "ziprow" in p or "/pip/" in p for p in paths)
    assert ck.files == len(ck.manifest) and ck.size == sum(e.size for e in ck.manifest)
    folder = checkpoints_dir(env) / ck.id
    for sub in (checkpoints_dir(env).parent, checkpoints_dir(env), folder, folder / "files"):
        assert sub.stat().st_mode & 0o777 == 0o700, sub
    assert load_checkpoint(env, ck.id) == ck == latest_checkpoint(env)
    # the manifest sits beside checkpoint.json, which stays small (rewritten when restored)
    assert "manifest" not in json.loads((folder / "checkpoint.json").read_text(encoding="utf-8"))
    triples = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert [tuple(t) for t in triples] == [tuple(e) for e in ck.manifest]
    second = take_checkpoint(env, plan)
    assert second.parent == ck.id and second.id != ck.id
    assert [c.id for c in list_checkpoints(env)][-2:] == [ck.id, second.id]


def test_low_disk_space_is_refused_before_anything_is_touched(
    live_demo: DemoSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    env, plan = _plan(live_demo, "oxzep7==1.5.0")
    before = sorted(os.listdir(checkpoints_dir(env))) if checkpoints_dir(env).exists() else []
    monkeypatch.setattr(checkpoint_mod, "free_bytes", lambda _path: 1024)  # a full disk cannot be made here
    with pytest.raises(CheckpointError, match="not enough disk space.*nothing was changed"):
        take_checkpoint(env, plan)
    assert (sorted(os.listdir(checkpoints_dir(env))) if checkpoints_dir(env).exists() else []) == before


def test_checkpoints_command_lists_and_prunes(live_demo: DemoSandbox) -> None:
    env, plan = _plan(live_demo, "ziprow==0.3.2")
    for _ in range(3):
        take_checkpoint(env, plan)
    found = [c.id for c in list_checkpoints(env)]
    run = [sys.executable, "-m", "oxwizard", "checkpoints", "--env", str(live_demo.venv)]
    listed = subprocess.run(run, capture_output=True, text=True)
    assert listed.returncode == 0 and all(i in listed.stdout for i in found)
    assert "before ziprow==0.3.2" in listed.stdout and "= current state" in listed.stdout
    pruned = subprocess.run([*run, "--prune", "2", "--json"], capture_output=True, text=True)
    assert pruned.returncode == 0, pruned.stderr
    assert [c.id for c in list_checkpoints(env)] == found[-2:]
    assert prune_checkpoints(env, 2) == []


def test_record_paths_escaping_the_env_are_refused(live_demo: DemoSandbox, tmp_path: Path) -> None:
    env, plan = _plan(live_demo, "ziprow==0.3.2")
    victim = live_demo.venv.parent / "victim.txt"
    victim.write_text("do not touch")
    record = Path(env.distributions["ziprow"].metadata_dir) / "RECORD"
    original = record.read_text()
    try:
        for bad in ("../../../../victim.txt", str(victim), "./../../../../victim.txt"):
            record.write_text(original + f"{bad},,\n")
            with pytest.raises(UnsafePath, match="refused"):
                take_checkpoint(env, plan)
        # the same from the new version's RECORD, met during rollback
        record.write_text(original)
        ck = take_checkpoint(env, plan)
        index = IndexOptions.build(find_links=[str(live_demo.wheelhouse)], no_index=True)
        assert apply_plan(env, plan, index, checkpoint=ck).ok
        new_record = Path(env.distributions["ziprow"].metadata_dir) / "RECORD"
        clean = new_record.read_text()
        new_record.write_text(clean + "../../../../victim.txt,,\n")
        with pytest.raises(UnsafePath):
            rollback(env)
        assert victim.read_text() == "do not touch"
        new_record.write_text(clean)
        assert rollback(env).verified
    finally:
        record.write_text(original) if record.exists() else None
    assert victim.read_text() == "do not touch"


def test_a_venv_kept_in_git_never_shows_the_state_folder_as_new_files(
    live_demo: DemoSandbox, tmp_path: Path
) -> None:
    # some projects commit their venv: the checkpoints, the lock and the trash stay out of git's sight
    git = ["git", f"--git-dir={tmp_path / 'git'}", f"--work-tree={live_demo.venv}"]
    subprocess.run([*git, "init", "-q"], check=True)
    env, plan = _plan(live_demo, "ziprow==0.3.2")
    ck = take_checkpoint(env, plan)
    status = subprocess.run([*git, "status", "--porcelain", "--untracked-files=all"], capture_output=True,
                            text=True, check=True).stdout  # fmt: skip
    assert status and ".oxwizard/" not in status, status  # the venv's own files are listed, no state
    assert (checkpoints_dir(env) / ck.id / "checkpoint.json").is_file()
    assert (checkpoints_dir(env).parent / ".gitignore").read_text() == "*\n"


def test_path_safety_compares_whole_segments_and_follows_symlinks(tmp_path: Path) -> None:
    root = tmp_path / "venv"
    (root / "lib").mkdir(parents=True)
    (tmp_path / "venv2").mkdir()
    (tmp_path / "outside").mkdir()
    (root / "lib" / "link").symlink_to(tmp_path / "outside")
    (root / "lib" / "file-link").symlink_to(tmp_path / "outside" / "x")
    paths = EnvPaths(root)
    assert paths.safe_path(root / "lib", "pkg/mod.py") == root / "lib" / "pkg" / "mod.py"
    assert paths.safe_path(root / "lib", "../bin/tool") == root / "bin" / "tool"
    for bad in ("../../venv2/x.py", "/etc/passwd", "link/evil.py", "file-link", "../../venv/../venv2/a"):
        with pytest.raises(UnsafePath):
            paths.safe_path(root / "lib", bad)


def test_checkpoint_heads_order_by_creation_and_skip_what_cannot_be_read(tmp_path: Path) -> None:
    """Rollback chooses among checkpoints by their heads (the manifest is not validated for that)."""
    from oxwizard.safety.checkpoint import checkpoint_heads, checkpoints_dir

    folder = checkpoints_dir(tmp_path)
    manifest = [{"path": f"lib/m{i}.py", "size": 1, "sha256": "0" * 64} for i in range(1000)]

    def write(name: str, body: str) -> None:
        (folder / name).mkdir(parents=True)
        (folder / name / "checkpoint.json").write_text(body, encoding="utf-8")

    # same second in the id, so only created_at orders them; the later one was restored already
    first = {"id": "ck-20260101T000000-bbbb", "created_at": "2026-01-01T00:00:00.000001+00:00"}
    second = {"id": "ck-20260101T000000-aaaa", "created_at": "2026-01-01T00:00:00.000002+00:00"}
    write(first["id"], json.dumps({**first, "manifest": manifest}))
    write(second["id"], json.dumps({**second, "restored_at": "2026-01-01T00:01:00+00:00"}))
    write("ck-broken", '{"id": "ck-broken", "created_at": ')
    write("ck-renamed", json.dumps({"id": "ck-other", "created_at": "2026-01-02T00:00:00+00:00"}))
    heads = checkpoint_heads(tmp_path)
    assert [h.id for h in heads] == ["ck-20260101T000000-bbbb", "ck-20260101T000000-aaaa"]
    assert heads[-1].restored_at is not None
    assert checkpoint_heads(tmp_path / "nowhere") == []


def test_a_checkpoint_taken_while_bytecode_is_written_beside_it(live_demo: DemoSandbox) -> None:
    """The checkpoint is taken while the baseline's tests and import smoke run on live, and Python
    writes bytecode there: under a temporary name, renamed into place. A file gone between the
    listing and the stash is not part of the state (it never fails the checkpoint), nor is a
    temporary name still being written, and each manifest entry describes the file stashed, not
    whatever holds its name since."""
    env, plan = _plan(live_demo, "oxzep7==1.5.0")
    dist = env.distributions["oxzep7"]
    assert dist.metadata_dir is not None
    cache = Path(dist.metadata_dir).parent / "oxzep7" / "__pycache__"
    cache.mkdir(exist_ok=True)
    stop = threading.Event()

    def write_bytecode() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            temporary = cache / f"busy.cpython-311.pyc.{n}"
            temporary.write_bytes(b"x" * (n % 97 + 1))
            os.replace(temporary, cache / "busy.cpython-311.pyc")

    writer = threading.Thread(target=write_bytecode)
    writer.start()
    try:
        taken = [take_checkpoint(env, plan) for _ in range(15)]
    finally:
        stop.set()
        writer.join()
    quiet = take_checkpoint(env, plan)
    steady = {e.path for e in quiet.manifest if "busy.cpython-311.pyc" not in e.path}
    for ck in taken:
        stash = checkpoints_dir(env) / ck.id / "files"
        # every file that stayed put is there (a name renamed onto meanwhile may or may not be:
        # a directory read while names change is allowed to miss them)
        assert steady <= {e.path for e in ck.manifest}, ck.id
        for entry in ck.manifest:
            assert (stash / entry.path).lstat().st_size == entry.size, entry
            assert not re.search(r"\.pyc\.\d+$", entry.path), "a bytecode file still being written"


def test_an_upgrade_short_of_disk_space_stops_before_any_check(
    demo: DemoFactory, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The checkpoint is taken beside the baseline checks, but what it stashes is read, and the
    space for it checked, before they start: a checkpoint that cannot be taken stops the upgrade
    at once, with one line, and nothing runs, changes or stays behind."""
    from oxwizard.cli import main

    sandbox = demo()
    monkeypatch.setattr(checkpoint_mod, "free_bytes", lambda _path: 1024)  # a full disk cannot be made here
    where = ["--env", str(sandbox.venv), "--project", str(sandbox.project)]
    offline = ["--find-links", str(sandbox.wheelhouse), "--no-index"]
    code = main(["upgrade", "oxzep7==1.5.0", "--yes", "-v", *where, *offline])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert "baseline checks on live" not in out and "── tests" not in out, out
    assert err.strip().splitlines()[-1].startswith("oxwizard: error: not enough disk space for a checkpoint")
    (path,) = (sandbox.project / ".oxwizard" / "runbooks").glob("*.json")
    steps = [d.step for d in load_runbook(path).decisions]
    assert "baseline" not in steps and "checkpoint" not in steps, steps
    assert not (sandbox.project / ".oxwizard" / "evidence").exists(), "no check ran"
    assert Environment.open(sandbox.venv).distributions["oxzep7"].version == "1.4.2"
    assert not list(checkpoints_dir(Environment.open(sandbox.venv)).glob("ck-*"))
    assert not (sandbox.project / ".venv-stage").exists(), "the staging clone was not left behind"
