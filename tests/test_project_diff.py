"""The planned edits of the project's files as one unified diff (what the wizard shows before writing)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from oxwizard.env.plan import Change
from oxwizard.env.project_files import plan_project_files, unified_diff


def _changes() -> list[Change]:
    return [
        Change(name="oxzep7", from_version="1.4.2", to_version="2.0.0", kind="upgrade", impact="major"),
        Change(name="ziprow", from_version="0.3.1", to_version="0.3.2", kind="upgrade", impact="patch"),
    ]


def test_the_diff_applies_with_git_apply_and_gives_the_planned_files_byte_for_byte(tmp_path: Path) -> None:
    requirements = (
        b"# deps\r\noxzep7==1.4.2  # parse\r\n-r more.txt\r\nziprow==0.3.1"  # CRLF, no last newline
    )
    pyproject = b'[project]\nname = "x"\ndependencies = [\n  "oxzep7<2",  # kept\n  "ziprow",\n]\n'
    (tmp_path / "requirements.txt").write_bytes(requirements)
    (tmp_path / "more.txt").write_bytes(b"humbleconf\n")
    (tmp_path / "pyproject.toml").write_bytes(pyproject)
    files = plan_project_files(tmp_path, _changes())
    assert len(files.edits) == 3

    diff = unified_diff(tmp_path, files)

    assert diff.startswith("--- a/requirements.txt\n+++ b/requirements.txt\n@@ ")
    assert "--- a/pyproject.toml\n+++ b/pyproject.toml\n" in diff and "a/more.txt" not in diff
    assert "-oxzep7==1.4.2  # parse\r\n+oxzep7==2.0.0  # parse\r\n" in diff
    assert "+ziprow==0.3.2\n\\ No newline at end of file\n" in diff
    assert '-  "oxzep7<2",  # kept\n+  "oxzep7<3",  # kept\n' in diff
    done = subprocess.run(["git", "apply", "-"], input=diff.encode(), cwd=tmp_path, capture_output=True,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        tmp_path / "requirements.txt"
    ).read_bytes() == b"# deps\r\noxzep7==2.0.0  # parse\r\n-r more.txt\r\nziprow==0.3.2"
    assert (tmp_path / "pyproject.toml").read_bytes() == pyproject.replace(b"<2", b"<3")
    assert (tmp_path / "more.txt").read_bytes() == b"humbleconf\n"


def test_a_line_changed_since_the_plan_is_left_out_and_no_edit_is_no_diff(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("oxzep7==1.4.2\nziprow==0.3.1\n")
    files = plan_project_files(tmp_path, _changes())
    (tmp_path / "requirements.txt").write_text("oxzep7==1.4.2\nziprow==0.3.1  # edited since\n")

    diff = unified_diff(tmp_path, files)

    assert "+oxzep7==2.0.0\n" in diff and "ziprow==0.3.2" not in diff
    assert unified_diff(tmp_path, plan_project_files(tmp_path, [])) == ""
