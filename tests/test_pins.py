"""Pins in the project's own files that an upgrade would contradict (the reasons now come from
env/project_files.py, carried by the plan: issue 13 replaced stale_pins)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import make_plan

from oxwizard.checks.risk import assess
from oxwizard.env.project_files import plan_project_files


def stale_pins(project: Path, plan: Any) -> list[str]:
    return plan_project_files(project, plan.changes).undone


def test_requirement_files_and_pyproject_that_exclude_the_new_version_are_named(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(
        "# app\n--no-binary :none:\nOxzep7==1.4.2 --hash=sha256:" + "0" * 64 + "\n-r requirements/base.txt\n",
        encoding="utf-8",
    )
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "base.txt").write_text("oxzep7-core<2\nziprow\n", encoding="utf-8")
    (tmp_path / "constraints.txt").write_text("oxzep7>=1,<3\n", encoding="utf-8")  # allows 2.0.0
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\ndependencies = ["oxzep7~=1.4"]\n'
        '[project.optional-dependencies]\nfast = ["oxzep7-core>=2"]\n',
        encoding="utf-8",
    )
    plan = make_plan()  # oxzep7 1.4.2 -> 2.0.0, oxzep7-core new 2.0.0

    found = stale_pins(tmp_path, plan)

    assert len(found) == 3, found  # requirements/base.txt once (it was named twice: directly and via -r)
    assert (
        found[0]
        == "requirements.txt pins Oxzep7==1.4.2: the next `pip install -r requirements.txt` brings 1.4.2 back"
    )
    assert any(
        f.startswith("requirements/base.txt pins oxzep7-core<2") and "refuses 2.0.0" in f for f in found
    )
    assert any(f.startswith("pyproject.toml [project] requires oxzep7~=1.4") for f in found)
    assert not any("constraints.txt" in f for f in found)
    plan.project_files = plan_project_files(tmp_path, plan.changes)
    risk = assess(plan, tests_found=True)
    assert found[0] in risk.reasons


def test_nothing_to_say_without_files_or_with_broken_ones(tmp_path: Path) -> None:
    plan = make_plan()
    assert stale_pins(tmp_path, plan) == []
    (tmp_path / "requirements.txt").write_text("oxzep7 (==1.4.2\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text("[project\n", encoding="utf-8")
    assert stale_pins(tmp_path, plan) == []  # unreadable files are no pins, and no crash


def test_the_upgrade_command_shows_the_stale_pin_before_anything_changes(demo: Any) -> None:
    sandbox = demo()
    (sandbox.project / "requirements.txt").write_text("oxzep7==1.4.2\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "oxwizard", "upgrade", "oxzep7==1.5.0", "--env", str(sandbox.venv),
         "--project", str(sandbox.project), "--find-links", str(sandbox.wheelhouse), "--no-index"],
        capture_output=True, text=True, timeout=300, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr  # no --yes and no terminal: declined
    said = done.stdout + done.stderr
    assert (
        "requirements.txt pins oxzep7==1.4.2: the next `pip install -r requirements.txt` brings 1.4.2 back"
        in said
    )


def test_a_version_installed_by_hand_that_the_files_undo_is_named_when_there_is_nothing_to_change(
    demo: Any,
) -> None:
    """The drift case: oxzep7 1.5.0 installed by hand while requirements.txt pins 1.4.2. Asking for
    1.5.0 has nothing to change, yet the next `pip install -r` puts 1.4.2 back: the plan, the
    wizard's plan panel and the upgrade's outcome say so, and nothing is written."""
    from oxwizard.env.plan import Plan
    from oxwizard.tui.widgets.plan_view import render_plan

    sandbox = demo()
    subprocess.run(
        [str(sandbox.venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-index", "--find-links",
         str(sandbox.wheelhouse), "oxzep7==1.5.0"],
        check=True, capture_output=True, env={"PIP_CONFIG_FILE": "/dev/null", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    files = sandbox.project / "requirements.txt"
    before = files.read_text(encoding="utf-8")
    where = ["--env", str(sandbox.venv), "--project", str(sandbox.project), "--find-links",
             str(sandbox.wheelhouse), "--no-index"]  # fmt: skip

    def oxwizard(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "oxwizard", *argv, *where], capture_output=True,
                              text=True, timeout=300, check=False, stdin=subprocess.DEVNULL)  # fmt: skip

    undone = "requirements.txt pins oxzep7==1.4.2: the next `pip install -r requirements.txt` installs 1.4.2"
    planned = oxwizard("plan", "oxzep7==1.5.0")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "nothing to change: the targets are already satisfied" in planned.stdout
    assert "project files that do not hold what is installed" in planned.stdout
    assert "requirements.txt:2  oxzep7==1.4.2" in planned.stdout and "->  oxzep7==1.5.0" in planned.stdout
    assert f"as they are: {undone}" in planned.stdout

    as_json = Plan.model_validate_json(oxwizard("plan", "oxzep7==1.5.0", "--json").stdout)
    assert as_json.is_empty and as_json.project_files is not None
    assert as_json.project_files.undone == [undone]
    assert f"⚠ but {undone}" in render_plan(as_json, width=78).plain

    upgraded = oxwizard("upgrade", "oxzep7==1.5.0", "--yes")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert f"nothing-to-do: nothing to change: already satisfied; but {undone}" in upgraded.stdout
    assert files.read_text(encoding="utf-8") == before
