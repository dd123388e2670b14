"""The staging clone: isolated from live (a full copy, or links to what the upgrade leaves alone),
same pip freeze, its own paths."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from oxwizard.core.errors import StageError, UsageError
from oxwizard.demo.sandbox import DemoSandbox
from oxwizard.env.environment import Environment
from oxwizard.safety.stage import CloneStats, copy_changing, create_stage, remove_stage


def _inodes(root: Path) -> set[tuple[int, int]]:
    out = set()
    for folder, _dirs, names in os.walk(root):
        for name in names:
            st = os.lstat(Path(folder) / name)
            if not os.path.islink(Path(folder) / name):
                out.add((st.st_dev, st.st_ino))
    return out


def _freeze(python: Path) -> str:
    return subprocess.run(
        [str(python), "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True
    ).stdout


def test_stage_shares_no_file_with_live_and_freezes_the_same(
    demo_template: DemoSandbox, tmp_path: Path
) -> None:
    live = Environment.open(demo_template.venv)
    stage = create_stage(live, tmp_path / "stage")

    assert stage.root == tmp_path / "stage" and stage.python == tmp_path / "stage" / "bin" / "python"
    assert not (_inodes(demo_template.venv) & _inodes(stage.root))
    assert _freeze(stage.python) == _freeze(live.python)
    assert stage.fingerprint() == live.fingerprint()
    probe = "import sys, oxzep7; print(sys.prefix); print(oxzep7.__file__)"
    prefix, module = subprocess.run(
        [str(stage.python), "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert prefix == str(stage.root) and module.startswith(str(stage.root))
    script = (stage.root / "bin" / "oxzep7").read_text()
    assert script.startswith(f"#!{stage.root}/bin/python") and str(demo_template.venv) not in script
    assert str(demo_template.venv) not in (stage.root / "bin" / "activate").read_text()
    assert str(demo_template.venv) not in (stage.root / "pyvenv.cfg").read_text()
    ran = subprocess.run([str(stage.root / "bin" / "oxzep7")], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "oxzep7 1.4.2"
    assert not (stage.root / ".oxwizard").exists()


def _files(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every regular file under ``root``: relative path -> (inode, bytes)."""
    out = {}
    for folder, _dirs, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            if not path.is_symlink():
                out[str(path.relative_to(root))] = (path.stat().st_ino, path.read_bytes())
    return out


def test_stage_links_what_the_upgrade_leaves_and_installing_into_it_leaves_live_alone(
    demo_template: DemoSandbox, tmp_path: Path
) -> None:
    live = Environment.open(demo_template.venv)
    before = live.fingerprint()
    files_before = _files(demo_template.venv)
    stats = CloneStats()
    stage = create_stage(live, tmp_path / "stage", changing={"oxzep7"}, stats=stats)

    # site-packages files of the distributions the upgrade leaves alone are live's own inodes; of the
    # upgraded one, the files the installer removes first are left out, its dist-info (whose RECORD
    # the installer reads) is a copy, like everything outside site-packages
    site = live.purelib.relative_to(live.root)
    dist = next(md.distributions(name="oxzep7", path=[str(live.purelib)]))
    oxzep7 = {os.path.normpath(site / f) for f in dist.files or []}
    info = {rel for rel in oxzep7 if ".dist-info" in rel}
    package = {rel for rel in oxzep7 if rel.startswith(str(site)) and rel not in info}
    shared = _inodes(demo_template.venv) & _inodes(stage.root)
    linked = {rel for rel in _files(stage.root) if (stage.root / rel).stat().st_ino in {i for _, i in shared}}
    assert linked and all(rel.startswith(str(site)) for rel in linked)
    assert not linked & oxzep7 and package <= set(files_before) and package
    assert not package & set(_files(stage.root))  # left out: no byte of them read or written
    assert info & set(files_before) <= set(_files(stage.root)) - linked
    assert str(site / "pip" / "__init__.py") in linked
    assert (demo_template.venv / site / "pip" / "__init__.py").stat().st_nlink >= 2
    assert stats.linked == len(linked) and stats.omitted >= len(package)
    assert stage.fingerprint() == before

    subprocess.run(
        [str(stage.python), "-m", "pip", "install", "-q", "--no-index", "--find-links",
         str(demo_template.wheelhouse), "--", "oxzep7==1.5.0"],
        check=True, env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )  # fmt: skip
    imported = subprocess.run(
        [str(stage.python), "-c", "import oxzep7, pip; print(oxzep7.__file__)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert imported.stdout.startswith(str(stage.root))
    stage.refresh()
    live.refresh()
    assert stage.distributions["oxzep7"].version == "1.5.0"
    assert live.fingerprint() == before and live.distributions["oxzep7"].version == "1.4.2"
    # not one byte, not one inode of live changed (the linked files included), nothing added
    assert _files(demo_template.venv) == files_before
    remove_stage(stage.root)
    assert not stage.root.exists()
    assert _files(demo_template.venv) == files_before


def test_a_clone_made_by_a_child_process_is_the_same_clone(
    demo_template: DemoSandbox, tmp_path: Path
) -> None:
    """The flow has its clone made by a child process (beside the baseline checks, off its GIL): the
    same files, the same ones linked to live's, the same counts as one made in-process; a clone the
    child cannot make is a one-line error naming the clone, and no partial folder is left."""
    live = Environment.open(demo_template.venv)
    made: dict[bool, tuple[Environment, CloneStats]] = {}
    for child in (False, True):
        stats = CloneStats()
        where = tmp_path / f"stage-{'child' if child else 'inproc'}"
        made[child] = create_stage(live, where, changing={"oxzep7"}, stats=stats, own_process=child), stats

    def contents(root: Path) -> dict[str, bytes]:
        return {rel: data.replace(str(root).encode(), b"STAGE") for rel, (_, data) in _files(root).items()}

    (ours, ours_stats), (theirs, theirs_stats) = made[False], made[True]
    assert contents(theirs.root) == contents(ours.root)
    assert theirs_stats == ours_stats and theirs_stats.linked > 0
    live_inodes = {i for _, i in _inodes(demo_template.venv)}

    def linked(root: Path) -> set[str]:
        return {rel for rel in _files(root) if (root / rel).stat().st_ino in live_inodes}

    assert linked(theirs.root) == linked(ours.root) != set()
    assert theirs.fingerprint() == live.fingerprint()

    (tmp_path / "a-file").write_text("not a folder\n", encoding="utf-8")
    with pytest.raises(StageError) as failed:
        create_stage(live, tmp_path / "a-file" / "stage", changing={"oxzep7"}, own_process=True)
    assert str(failed.value).startswith(f"staging clone {tmp_path / 'a-file' / 'stage'}: ")
    assert "\n" not in str(failed.value) and "Not a directory" in str(failed.value)
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "not a folder\n"


def test_a_clone_made_before_the_plan_becomes_the_planned_clone(
    demo_template: DemoSandbox, tmp_path: Path
) -> None:
    """The flow clones while the plan is computed, every file of site-packages linked; once the plan
    names what changes, copy_changing copies those files (and removes those the installer removes
    first): the clone is then the one create_stage
    makes for that plan (the same files, the same ones linked to live's, the same counts)."""
    live = Environment.open(demo_template.venv)
    planned, early = CloneStats(), CloneStats()
    want = create_stage(live, tmp_path / "stage-planned", changing={"oxzep7"}, stats=planned)
    made = create_stage(live, tmp_path / "stage-early", changing=(), stats=early, own_process=True)
    live_inodes = {i for _, i in _inodes(demo_template.venv)}

    def linked(root: Path) -> set[str]:
        return {rel for rel in _files(root) if (root / rel).stat().st_ino in live_inodes}

    assert linked(made.root) > linked(want.root)  # before: oxzep7's files are links too
    copy_changing(live, made, {"oxzep7"}, early)
    assert linked(made.root) == linked(want.root) != set()
    assert (early.linked, early.copied, early.omitted) == (planned.linked, planned.copied, planned.omitted)
    assert set(_files(made.root)) == set(_files(want.root))


def test_a_clone_that_fails_half_way_leaves_nothing_beside_the_environment(tmp_path: Path) -> None:
    """A copy that fails part way (here a socket file, which cannot be copied) raises, in a child
    process as one line, and removes the half-made clone instead of leaving it beside the venv."""
    import socket

    venv = tmp_path / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    listening = socket.socket(socket.AF_UNIX)
    listening.bind(str(venv / "sock"))
    try:
        env = Environment.open(venv)
        with pytest.raises(StageError, match="^staging clone "):
            create_stage(env, tmp_path / "stage", changing=(), own_process=True)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["v"]
        with pytest.raises(OSError):
            create_stage(env, tmp_path / "stage", changing=())
        assert sorted(p.name for p in tmp_path.iterdir()) == ["v"]
    finally:
        listening.close()


def test_remove_stage_refuses_a_folder_that_is_not_a_stage(tmp_path: Path) -> None:
    (tmp_path / "precious").mkdir()
    with pytest.raises(UsageError, match="not an oxwizard staging clone"):
        remove_stage(tmp_path / "precious")
    assert (tmp_path / "precious").exists()


def test_stage_command_json(demo_template: DemoSandbox, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "oxwizard", "stage", "--env", str(demo_template.venv), "--dest",
         str(tmp_path / "s"), "--json"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["stage"] == str(tmp_path / "s") and data["same_as_live"] is True


@pytest.mark.parametrize("how", ["linked", "in a child", "before the plan"])
def test_a_package_the_upgrade_removes_is_gone_from_the_clone_as_from_live(tmp_path: Path, how: str) -> None:
    """setuptools 84 no longer ships pkg_resources. The clone leaves out the files the installer
    removes; their folders must go too: pip never sees a folder whose files are all missing, and an
    empty one imports as a namespace package. The import smoke then passed in staging and failed
    on live (a tester's real environment: setuptools 65.5.0 -> 84.2.1)."""
    from conftest import wheel_install, wheel_venv

    from oxwizard.demo.wheels import build_wheel

    wheels = tmp_path / "wheels"
    legacy = {"oxwrm_legacy/__init__.py": "X = 1\n", "oxwrm_legacy/sub/__init__.py": ""}
    build_wheel(wheels, "oxw-rm", "1.0", {"oxwrm/__init__.py": "", **legacy})
    build_wheel(wheels, "oxw-rm", "2.0", {"oxwrm/__init__.py": ""})
    live = Environment.open(wheel_venv(tmp_path / "live", wheels, "oxw-rm==1.0"))
    if how == "before the plan":
        stage = create_stage(live, tmp_path / "stage", changing=(), own_process=True)
        copy_changing(live, stage, {"oxw-rm"}, CloneStats())
    else:
        stage = create_stage(live, tmp_path / "stage", changing={"oxw-rm"}, own_process=how == "in a child")
    wheel_install(stage.root, wheels, "oxw-rm==2.0")
    probe = [str(stage.python), "-c", "import oxwrm, oxwrm_legacy"]
    done = subprocess.run(probe, capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "No module named 'oxwrm_legacy'" in done.stderr, done.stderr
    assert not list(stage.root.glob("lib/python*/site-packages/oxwrm_legacy"))
    assert list(live.root.glob("lib/python*/site-packages/oxwrm_legacy/sub/__init__.py")), "live untouched"
