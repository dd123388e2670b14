"""The staging clone: isolated from live (no shared inode), same pip freeze, its own paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from oxwizard.core.errors import UsageError
from oxwizard.demo.sandbox import DemoSandbox
from oxwizard.env.environment import Environment
from oxwizard.safety.stage import create_stage, remove_stage


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


def test_installing_into_the_stage_leaves_live_alone(demo_template: DemoSandbox, tmp_path: Path) -> None:
    live = Environment.open(demo_template.venv)
    before = live.fingerprint()
    stage = create_stage(live, tmp_path / "stage")
    subprocess.run(
        [str(stage.python), "-m", "pip", "install", "-q", "--no-index", "--find-links",
         str(demo_template.wheelhouse), "--", "oxzep7==1.5.0"],
        check=True, env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )  # fmt: skip
    stage.refresh()
    live.refresh()
    assert stage.distributions["oxzep7"].version == "1.5.0"
    assert live.fingerprint() == before and live.distributions["oxzep7"].version == "1.4.2"
    remove_stage(stage.root)
    assert not stage.root.exists()


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
