"""How the project is managed, and the planned edits to its files that make an upgrade last (issue 13)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import make_plan

from oxwizard.checks.risk import assess
from oxwizard.env.plan import Change
from oxwizard.env.project_files import detect, plan_project_files, reinstall_command

HASHES = "    --hash=sha256:" + "a" * 64 + " \\\n    --hash=sha256:" + "b" * 64 + "\n"


def rich(to: str = "13.9.4", old: str | None = "13.7.0") -> list[Change]:
    return [
        Change(name="rich", from_version=old, to_version=to, kind="upgrade", impact="minor", requested=True)
    ]


def test_requirements_txt_only_the_pin_changes_byte_for_byte(tmp_path: Path) -> None:
    text = (
        "# app deps\n--index-url https://example.invalid/simple\n"
        'Rich[jupyter] == 13.7.0 ; python_version >= "3.8"  # ui\r\n'
        "click==8.1.7 \\\n" + HASHES + "-r requirements/base.txt\n"
    )
    (tmp_path / "requirements.txt").write_bytes(text.encode())
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "base.txt").write_text("rich>=13,<14  # floor stays\nziprow\n")
    changes = [
        *rich("14.1.0"),
        Change(name="click", from_version="8.1.7", to_version="8.2.0", kind="upgrade", impact="minor"),
    ]

    files = plan_project_files(tmp_path, changes)

    assert [m.label() for m in files.managers] == ["requirements (requirements.txt, requirements/base.txt)"]
    by = {(e.path, e.line): e for e in files.edits}
    assert set(by) == {("requirements.txt", 3), ("requirements.txt", 4), ("requirements/base.txt", 1)}
    assert by["requirements.txt", 3].new == 'Rich[jupyter] == 14.1.0 ; python_version >= "3.8"  # ui'
    assert by["requirements.txt", 3].rule == "pin" and not by["requirements.txt", 3].hashes
    assert by["requirements.txt", 4].new == "click==8.2.0 \\" and by["requirements.txt", 4].hashes
    assert by["requirements/base.txt", 1].new == "rich>=13,<15  # floor stays"  # widened in style
    assert by["requirements/base.txt", 1].rule == "widen"
    # applying the edits line by line changes those lines only: everything else is byte-identical
    lines = text.encode().splitlines(keepends=True)
    for e in files.edits:
        if e.path == "requirements.txt":
            assert lines[e.line - 1].rstrip(b"\r\n") == e.old.encode()
            lines[e.line - 1] = e.new.encode() + lines[e.line - 1][len(e.old.encode()) :]
    assert b"".join(lines) == text.replace("13.7.0", "14.1.0").replace("8.1.7", "8.2.0").encode()
    assert "requirements.txt:3  Rich[jupyter] == 13.7.0" in files.preview()[0]
    assert (
        "requirements.txt pins Rich==13.7.0: the next `pip install -r requirements.txt` brings 13.7.0 back"
        in files.undone
    )


def test_pyproject_ranges_widened_in_style_admitting_and_floors_stay(tmp_path: Path) -> None:
    text = (
        '[project]\nname = "app"\ndependencies = [\n    "rich>=13.7.0",  # floor\n'
        '    \'click <8,>=7\',\n    "urllib3 ~= 1.26",\n    "idna<4",\n]\n'
        '[project.optional-dependencies]\nfast = ["urllib3==1.26.18"]\n'
    )
    (tmp_path / "pyproject.toml").write_text(text)
    changes = [
        *rich(),
        Change(name="click", from_version="7.1", to_version="8.1.7", kind="upgrade", impact="major"),
        Change(name="urllib3", from_version="1.26.18", to_version="2.2.1", kind="upgrade", impact="major"),
        Change(name="idna", from_version="3.4", to_version="3.7", kind="upgrade", impact="minor"),
    ]
    files = plan_project_files(tmp_path, changes)
    assert [m.label() for m in files.managers] == ["pyproject [project] dependencies, optional-dependencies"]
    got = {e.line: (e.old, e.new) for e in files.edits}
    assert got == {
        5: ("    'click <8,>=7',", "    'click <9,>=7',"),
        6: ('    "urllib3 ~= 1.26",', '    "urllib3 ~= 2.2",'),
        10: ('fast = ["urllib3==1.26.18"]', 'fast = ["urllib3==2.2.1"]'),
    }  # rich>=13.7.0 (a floor) and idna<4 (admits 3.7) stay
    raised = plan_project_files(tmp_path, changes, raise_floors=True)
    assert any(e.new == '    "rich>=13.9.4",  # floor' and e.rule == "floor" for e in raised.edits)
    assert any("pyproject.toml [project] requires click<8,>=7" in u for u in files.undone)


def test_poetry_caret_widened_and_named_in_the_risk(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.poetry]\nname = "app"\n\n[tool.poetry.dependencies]\npython = "^3.11"\n'
        'oxzep7 = "^1.4"\noxzep7-core = { version = "~1.4", extras = ["x"] }\n'
    )
    plan = make_plan()  # oxzep7 1.4.2 -> 2.0.0
    plan.project_files = plan_project_files(tmp_path, plan.changes)
    assert [m.label() for m in plan.project_files.managers] == ["Poetry ([tool.poetry])"]
    assert [(e.line, e.new) for e in plan.project_files.edits] == [
        (6, 'oxzep7 = "^2.0"'),
        (7, 'oxzep7-core = { version = "~2.0", extras = ["x"] }'),
    ]
    risk = assess(plan, tests_found=True)
    assert any("Poetry" in r or "poetry install" in r for r in risk.reasons), risk.reasons
    assert any(
        r.startswith('pyproject.toml [tool.poetry.dependencies] has oxzep7 = "^1.4"') for r in risk.reasons
    )


def test_uv_lock_planned_regeneration_and_the_risk_says_uv_sync_undoes_it(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\ndependencies = ["rich>=13.7.0"]\n')
    (tmp_path / "uv.lock").write_text('version = 1\n\n[[package]]\nname = "rich"\nversion = "13.7.0"\n')
    plan = make_plan()
    plan.changes = rich()
    before = plan.digest()
    plan.project_files = plan_project_files(tmp_path, plan.changes)
    assert plan.project_files.managed_by() == "uv (uv.lock), pyproject [project] dependencies"
    assert plan.project_files.edits == []  # the floor admits 13.9.4
    assert plan.project_files.preview() == [
        "uv.lock  regenerated by `uv lock --upgrade-package rich==13.9.4`"
    ]
    risk = assess(plan, tests_found=True)
    assert "uv.lock pins rich 13.7.0: `uv sync` would undo this upgrade" in risk.reasons
    assert risk.recommendation != "upgrade now"
    assert plan.digest() != before
    plan.project_files = None
    assert plan.digest() == before  # plans recorded before the field existed keep their digest


def test_pip_tools_pair_edits_the_in_and_regenerates_the_txt(tmp_path: Path) -> None:
    (tmp_path / "requirements.in").write_text("rich<13.8\n")
    (tmp_path / "requirements.txt").write_text(
        "#\n# This file is autogenerated by pip-compile with Python 3.11\n# by the following command:\n#\n"
        "#    pip-compile --output-file=requirements.txt requirements.in\n#\nrich==13.7.0\n"
        "    # via -r requirements.in\n"
    )
    files = plan_project_files(tmp_path, rich())
    assert [m.label() for m in files.managers] == ["pip-tools (requirements.in -> requirements.txt)"]
    assert [(e.path, e.new) for e in files.edits] == [("requirements.in", "rich<13.10")]
    assert [r.command for r in files.regenerate] == [
        [
            "pip-compile",
            "--output-file=requirements.txt",
            "requirements.in",
            "--upgrade-package",
            "rich==13.9.4",
        ]
    ]
    assert any(u.startswith("requirements.txt (compiled) pins rich==13.7.0") for u in files.undone)
    assert detect(tmp_path / "nowhere") == []


def test_plan_json_and_env_show_the_project_files(demo: Any) -> None:
    sandbox = demo()
    (sandbox.project / "requirements.txt").write_text("# pinned\noxzep7==1.4.2  # keep\n")
    base = ["--env", str(sandbox.venv), "--project", str(sandbox.project)]
    done = subprocess.run(
        [sys.executable, "-m", "oxwizard", "plan", "oxzep7==1.5.0", *base, "--json",
         "--find-links", str(sandbox.wheelhouse), "--no-index"],
        capture_output=True, text=True, timeout=300, check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    files = json.loads(done.stdout)["project_files"]
    assert files["edits"][0]["old"] == "oxzep7==1.4.2  # keep"
    assert files["edits"][0]["new"] == "oxzep7==1.5.0  # keep"
    env = subprocess.run(
        [sys.executable, "-m", "oxwizard", "env", *base],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert "project       requirements (requirements.txt)" in env.stdout, env.stdout


def test_the_command_that_installs_the_project_again_is_its_managers(tmp_path: Path) -> None:
    """The note after a written upgrade names what reinstalls the project from the merged files."""

    class Own:
        def __init__(self, editable: bool) -> None:
            self.direct_url = {"url": tmp_path.as_uri(), "dir_info": {"editable": editable}}

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0.1"\n')
    assert reinstall_command(tmp_path, Own(editable=True)) == "pip install -e ."
    assert reinstall_command(tmp_path, Own(editable=False)) == "pip install ."
    (tmp_path / "poetry.lock").write_text("# poetry\n")
    assert reinstall_command(tmp_path, Own(editable=False)) == "poetry install"
    (tmp_path / "uv.lock").write_text("version = 1\n")
    assert reinstall_command(tmp_path, Own(editable=False)) == "uv sync"


def test_a_failed_plan_names_the_projects_own_uv_index_that_pips_sources_lack(
    demo_template: Any, tmp_path: Path
) -> None:
    """uv sync reads the project's [[tool.uv.index]]; oxwizard plans with pip's sources. A plan that
    cannot resolve says which of the project's indexes they lack, and how to add it."""
    import shutil

    from simple_index import SimpleIndex, serve

    project = tmp_path / "project"
    shutil.copytree(demo_template.project, project, symlinks=True)
    pyproject = (project / "pyproject.toml").read_text()

    def uses_index(url: str) -> None:
        (project / "pyproject.toml").write_text(
            f'{pyproject}\n[[tool.uv.index]]\nname = "corp"\nurl = "{url}"\n'
        )

    with serve(SimpleIndex(demo_template.wheelhouse)) as index:
        common = ["oxzep7==9.9", "--env", str(project / ".venv"), "--project", str(project), "--isolated",
                  "--index-url", index.url]  # fmt: skip

        def oxwizard(*argv: str) -> subprocess.CompletedProcess[str]:
            command = [sys.executable, "-m", "oxwizard", *argv]
            return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)

        uses_index("https://ann:t0ken@corp.example.invalid/simple")
        for done in (oxwizard("plan", *common), oxwizard("upgrade", *common, "--yes")):
            assert done.returncode == 2, done.stdout + done.stderr
            assert "cannot resolve" in done.stderr
            assert (
                "(the project's uv configuration names an index that pip's sources lack: "
                "https://****@corp.example.invalid/simple; oxwizard uses pip's: pass --extra-index-url "
                "https://****@corp.example.invalid/simple)"
            ) in done.stderr
            assert "t0ken" not in done.stderr
        uses_index(index.url + "/")  # among pip's sources: nothing to say
        done = oxwizard("plan", *common)
        assert done.returncode == 2 and "cannot resolve" in done.stderr
        assert "pip's sources lack" not in done.stderr


def test_what_the_next_install_brings_back_is_what_the_file_admits(tmp_path: Path) -> None:
    """urllib3 2.2.1 installed, 2.2.2 planned: a file that excludes 2.2.2 is said to bring back the
    version it pins, or the installed one where it admits it, else a version in its range — never
    one it excludes; each with the command that installs from it."""
    (tmp_path / "constraints.txt").write_text("urllib3<2.1,>=1.26\n")
    (tmp_path / "requirements.txt").write_text("urllib3==2.0.7\n")
    (tmp_path / "requirements-dev.txt").write_text("urllib3<2.2.2\n")  # admits the installed 2.2.1
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "app"\ndependencies = ["urllib3<2.1"]\n'
        '[project.optional-dependencies]\nfast = ["urllib3==2.2.1"]\n'
        '[dependency-groups]\ndev = ["urllib3<2.1"]\nlint = ["urllib3<2.1"]\n'
    )
    plan = make_plan()
    plan.changes = [
        Change(name="urllib3", from_version="2.2.1", to_version="2.2.2", kind="upgrade", impact="patch",
               requested=True)
    ]  # fmt: skip

    plan.project_files = plan_project_files(tmp_path, plan.changes)

    assert plan.project_files.undone == [
        "requirements-dev.txt pins urllib3<2.2.2: the next `pip install -r requirements-dev.txt` brings "
        "2.2.1 back",
        "requirements.txt pins urllib3==2.0.7: the next `pip install -r requirements.txt` installs 2.0.7",
        "constraints.txt pins urllib3<2.1,>=1.26: the next install constrained by constraints.txt installs a "
        "version in <2.1,>=1.26",
        "pyproject.toml [project] requires urllib3<2.1: the next `pip install .` installs a version in <2.1",
        "pyproject.toml [project.optional-dependencies] fast requires urllib3==2.2.1: the next "
        "`pip install '.[fast]'` brings 2.2.1 back",
        # `pip install .` installs no dependency group: `pip install --group NAME` does
        "pyproject.toml [dependency-groups] dev requires urllib3<2.1: the next `pip install --group dev` "
        "installs a version in <2.1",
        "pyproject.toml [dependency-groups] lint requires urllib3<2.1: the next `pip install --group lint` "
        "installs a version in <2.1",
    ]
    # the risk summary gives the same reasons
    risk = assess(plan, tests_found=True)
    assert set(plan.project_files.undone) <= set(risk.reasons)

    # a uv project: `uv sync` installs the dev group (or those of default-groups) and no extra
    (tmp_path / "uv.lock").write_text('version = 1\n\n[[package]]\nname = "urllib3"\nversion = "2.2.1"\n')
    undone = plan_project_files(tmp_path, plan.changes).undone
    assert [u for u in undone if u.startswith("pyproject.toml")] == [
        "pyproject.toml [project] requires urllib3<2.1: `uv sync` installs a version in <2.1",
        "pyproject.toml [project.optional-dependencies] fast requires urllib3==2.2.1: "
        "`uv sync --extra fast` brings 2.2.1 back",
        "pyproject.toml [dependency-groups] dev requires urllib3<2.1: `uv sync` installs a version in <2.1",
        "pyproject.toml [dependency-groups] lint requires urllib3<2.1: `uv sync --group lint` installs a "
        "version in <2.1",
    ]
    with (tmp_path / "pyproject.toml").open("a") as f:
        f.write('[tool.uv]\ndefault-groups = ["Lint"]\n')
    undone = plan_project_files(tmp_path, plan.changes).undone
    assert [u.split(": ", 1)[1] for u in undone if "[dependency-groups]" in u] == [
        "`uv sync --group dev` installs a version in <2.1",
        "`uv sync` installs a version in <2.1",
    ]
