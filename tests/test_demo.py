"""The demo sandbox: real wheels, a real venv, a project whose checks tell 1.4.2/1.5.0 from 2.0.0."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from oxwizard.core import proc
from oxwizard.core.errors import InstallerError, UsageError
from oxwizard.demo.sandbox import INSTALLED, DemoSandbox, base_interpreter, build_demo

DemoFactory = Callable[[], DemoSandbox]


def _tool(demo: DemoSandbox) -> dict[str, object]:
    pyproject = tomllib.loads((demo.project / "pyproject.toml").read_text())
    table: dict[str, object] = pyproject["tool"]["oxwizard"]
    return table


def _command(demo: DemoSandbox, key: str) -> proc.Completed:
    """Run a configured ``[tool.oxwizard]`` command the way oxwizard does: in the project, venv python."""
    argv = _tool(demo)[key]
    assert isinstance(argv, list) and argv[0] == "python"
    return proc.run([str(demo.python), *argv[1:]], cwd=demo.project, env=proc.pip_environment(), timeout=300)


def _pip_install(demo: DemoSandbox, spec: str) -> None:
    argv = [str(demo.python), "-m", "pip", "install", "-q", "--no-index", "--find-links"]
    done = proc.run([*argv, str(demo.wheelhouse), spec], env=proc.pip_environment(), timeout=300)
    assert done.ok, done.stderr


def _git(demo: DemoSandbox, *args: str) -> str:
    done = proc.run(["git", *args], cwd=demo.project, timeout=60)
    assert done.ok, done.stderr
    return done.stdout


def test_layout_is_the_documented_contract(demo_seed: DemoSandbox) -> None:
    root = demo_seed.root
    assert (demo_seed.wheelhouse, demo_seed.project) == (root / "wheelhouse", root / "project")
    assert demo_seed.venv == root / "project" / ".venv"
    assert demo_seed.python == demo_seed.venv / "bin" / "python"
    wheels = """alpha-1.0.0 alpha-2.0.0 beta-1.0.0 beta-2.0.0 delta-1.0.0 delta-2.0.0 gamma-1.0.0
        gamma-2.0.0 humbleconf-1.2.0 humbleconf-1.3.0 oxzep7-1.4.2 oxzep7-1.5.0 oxzep7-2.0.0
        oxzep7_core-2.0.0 oxzep7_plugin-1.0.0 quillpen-0.9.0 quillpen-0.9.1 ziprow-0.3.1
        ziprow-0.3.2""".split()
    assert sorted(p.name for p in demo_seed.wheelhouse.iterdir()) == [
        f"{name}-py3-none-any.whl" for name in wheels
    ]
    for rel in ("README.md", ".gitignore", "pyproject.toml", "requirements.txt", "advisories.json",
                "tests/test_app.py",
                "demoapp/app.py", "demoapp/bench.py", "demoapp/validate.py", "logs/app.log",
                "data/records.csv", "data/records.schema.json"):  # fmt: skip
        assert (demo_seed.project / rel).is_file(), rel
    assert (demo_seed.project / ".gitignore").read_text().splitlines()[:2] == [".venv/", ".oxwizard/"]


def test_venv_is_a_real_venv_of_the_base_python_with_the_demo_packages(demo_seed: DemoSandbox) -> None:
    cfg = (demo_seed.venv / "pyvenv.cfg").read_text()
    assert f"home = {Path(base_interpreter()).parent}\n" in cfg  # not a venv of the test venv
    probe = (
        "import importlib.metadata as m, sys;"
        "print(sys.prefix != sys.base_prefix, *(m.version(n) for n in sys.argv[1:]))"
    )
    done = proc.run([str(demo_seed.python), "-c", probe, "oxzep7", "oxzep7-plugin", "humbleconf",
                     "ziprow", "pip"], timeout=60)  # fmt: skip
    assert done.ok, done.stderr
    in_venv, *versions = done.stdout.split()
    assert in_venv == "True" and versions[:4] == ["1.4.2", "1.0.0", "1.2.0", "0.3.1"]
    assert not proc.run([str(demo_seed.python), "-c", "import oxzep7_core"], timeout=60).ok
    script = proc.run([str(demo_seed.venv / "bin" / "oxzep7")], timeout=60)
    assert script.stdout.strip() == "oxzep7 1.4.2"


def test_project_is_a_git_repo_with_one_clean_commit(demo_seed: DemoSandbox) -> None:
    """These three read what ``build_demo`` made (the seed the other tests' sandboxes are copied from)."""
    assert _git(demo_seed, "log", "--format=%an <%ae>|%s").splitlines() == [
        "oxwizard demo <demo@oxwizard.invalid>|demo project"
    ]
    assert _git(demo_seed, "status", "--porcelain") == ""
    tracked = _git(demo_seed, "ls-files").split()
    assert "logs/app.log" in tracked and not [t for t in tracked if t.startswith(".venv")]


def test_requirements_txt_pins_what_the_venv_has_so_an_upgrade_plans_a_file_edit(
    demo_template: DemoSandbox,
) -> None:
    """The demo is managed by a pinned requirements.txt beside its pyproject: an upgrade of oxzep7
    plans the pin's edit (comment kept), the pyproject's ``oxzep7>=1.4`` stays, and the risk says
    what the next ``pip install -r`` would do."""
    from oxwizard.env.environment import Environment
    from oxwizard.env.plan import compute_plan
    from oxwizard.env.project_files import plan_project_files
    from oxwizard.env.specs import IndexOptions, parse_specs

    env = Environment.open(demo_template.venv)
    pinned = [
        line.split("#")[0].strip()
        for line in (demo_template.project / "requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    assert pinned == [f"{name}=={env.distributions[name].version}" for name in
                      (spec.split("==")[0] for spec in INSTALLED)]  # fmt: skip
    index = IndexOptions.build(find_links=[str(demo_template.wheelhouse)], no_index=True)
    plan = compute_plan(env, parse_specs(["oxzep7==2.0.0"]), index)
    files = plan_project_files(demo_template.project, plan.changes)
    assert files.managed_by() == "requirements (requirements.txt), pyproject [project] dependencies"
    [edit] = files.edits
    assert (edit.path, edit.line, edit.rule) == ("requirements.txt", 2, "pin")
    assert edit.new.startswith("oxzep7==2.0.0  # record parsing")
    assert files.undone == [
        "requirements.txt pins oxzep7==1.4.2: the next `pip install -r requirements.txt` brings 1.4.2 back"
    ]


def test_tool_table_advisories_and_log_are_what_other_modules_read(demo_template: DemoSandbox) -> None:
    tool = _tool(demo_template)
    assert set(tool) == {
        "test-command", "benchmark-command", "benchmark-runs", "benchmark-threshold", "log-files",
        "log-pattern", "data-command", "data-schemas", "advisories",
    }  # fmt: skip
    assert tool["data-schemas"] == [{"file": "data/records.csv", "schema": "data/records.schema.json"}]
    [advisory] = json.loads((demo_template.project / "advisories.json").read_text())
    assert (advisory["id"], advisory["package"], advisory["fixed_in"]) == ("OXZ-2026-0001", "oxzep7", "1.5.0")
    affected = SpecifierSet(advisory["affected"])
    assert "1.4.2" in affected and "1.5.0" not in affected
    log = (demo_template.project / "logs" / "app.log").read_text().splitlines()
    assert log and all(" INFO " in line for line in log)


def test_data_validation_passes_and_catches_bad_data(demo_template: DemoSandbox, tmp_path: Path) -> None:
    copy = DemoSandbox.at(tmp_path)  # a copy of the project; the template stays untouched
    shutil.copytree(demo_template.project, copy.project, ignore=shutil.ignore_patterns(".venv", ".git"))
    copy = DemoSandbox(copy.root, copy.wheelhouse, copy.project, demo_template.venv, demo_template.python)
    good = _command(copy, "data-command")
    assert (good.returncode, good.stdout.count("\n")) == (0, 1), good.stderr
    with (copy.project / "data" / "records.csv").open("a") as fh:
        fh.write("eta,red,many\n")
    bad = _command(copy, "data-command")
    assert bad.returncode == 1
    assert bad.stdout == "invalid: 1 problem(s), first: line 8: count is not an integer: 'many'\n"


def test_142_passes_150_warns_200_breaks_tests_a_dependent_speed_and_the_log(demo: DemoFactory) -> None:
    sandbox = demo()
    on_142 = _command(sandbox, "test-command")
    assert on_142.returncode == 0 and "\nOK\n" in on_142.stderr, on_142.stderr
    assert "DeprecationWarning" not in on_142.stderr
    bench_142 = float(_command(sandbox, "benchmark-command").stdout.splitlines()[-1])

    _pip_install(sandbox, "oxzep7==1.5.0")
    on_150 = _command(sandbox, "test-command")
    assert on_150.returncode == 0, on_150.stderr
    assert (
        "DeprecationWarning: oxzep7.legacy_parse is deprecated and will be removed in oxzep7 2.0; "
        "use oxzep7.parse"
    ) in on_150.stderr
    assert "tests/test_app.py" in on_150.stderr  # stacklevel=2: the warning points at the caller
    assert "ERROR" not in (sandbox.project / "logs" / "app.log").read_text()

    _pip_install(sandbox, "oxzep7==2.0.0")
    on_200 = _command(sandbox, "test-command")
    assert on_200.returncode == 1
    assert "ERROR: test_legacy_parse (test_app.ParseTest.test_legacy_parse)" in on_200.stderr
    assert "AttributeError: module 'oxzep7' has no attribute 'legacy_parse'" in on_200.stderr
    assert "ERROR: test_render (test_app.RenderTest.test_render)" in on_200.stderr
    assert "ModuleNotFoundError: No module named 'oxzep7.fmt'" in on_200.stderr
    assert "test_parse_splits_and_strips (test_app.ParseTest.test_parse_splits_and_strips) ... ok" in (
        on_200.stderr
    )
    plugin = proc.run([str(sandbox.python), "-c", "import oxzep7_plugin"], timeout=60)
    assert not plugin.ok and "No module named 'oxzep7.fmt'" in plugin.stderr
    assert "ERROR oxzep7.fmt is unavailable" in (sandbox.project / "logs" / "app.log").read_text()
    bench_200 = float(_command(sandbox, "benchmark-command").stdout.splitlines()[-1])
    threshold = _tool(sandbox)["benchmark-threshold"]
    assert isinstance(threshold, float) and bench_200 / bench_142 > threshold, (bench_142, bench_200)


def _files(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file and link under ``root`` (mode, bytes or link target), compiled modules and the
    git objects (dated commits) aside."""
    out: dict[str, tuple[int, bytes]] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if "__pycache__" in rel.parts or rel.parts[:2] == ("project", ".git"):
            continue
        if path.is_symlink():
            out[str(rel)] = (0, os.readlink(path).encode())
        elif path.is_file():
            out[str(rel)] = (path.stat().st_mode, path.read_bytes())
    return out


def test_the_tests_copy_of_the_sandbox_is_the_one_build_demo_makes_there(
    demo_seed: DemoSandbox, tmp_path: Path, wheelhouse: Path
) -> None:
    """The tests' sandboxes are copies of one built sandbox (tests/conftest.py ``copy_demo``): in the
    same folder, a copy has the same files, bytes and links as a sandbox built there, its RECORDs
    match its files, and its project is a clean git checkout with the same commit."""
    from conftest import copy_demo

    from oxwizard.safety.records import verify_record

    root = tmp_path / "demo"
    built = build_demo(root, wheelhouse=wheelhouse)
    files, commit = _files(root), _git(built, "ls-files", "-s")
    shutil.rmtree(root)
    copy = copy_demo(demo_seed, root)
    assert copy == built
    assert _files(root) == files
    assert (_git(copy, "ls-files", "-s"), _git(copy, "status", "--porcelain")) == (commit, "")
    records = list(copy.venv.glob("lib/python*/site-packages/*.dist-info"))
    assert len(records) >= len(INSTALLED) and {r.name: verify_record(r) for r in records} == {
        r.name: [] for r in records
    }
    script = proc.run([str(copy.venv / "bin" / "oxzep7")], timeout=60)
    assert script.stdout.strip() == "oxzep7 1.4.2"


def test_demo_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty") as caught:
        build_demo(tmp_path / "x")
    assert str(tmp_path / "x") in str(caught.value) and "\n" not in str(caught.value)
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["keep.txt"]
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"


def test_a_failed_build_leaves_nothing_behind(tmp_path: Path, wheelhouse: Path) -> None:
    with pytest.raises(InstallerError, match="cannot create the demo environment"):
        build_demo(tmp_path / "new", python=str(tmp_path / "no-such-python"), wheelhouse=wheelhouse)
    assert not (tmp_path / "new").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(InstallerError):
        build_demo(tmp_path / "empty", python=str(tmp_path / "no-such-python"), wheelhouse=wheelhouse)
    assert list((tmp_path / "empty").iterdir()) == []


# -- `oxwizard demo DIR` on a folder that exists (the real CLI) ------------------------------------------
def _oxwizard_demo(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "oxwizard", "demo", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and modification time: what "changes nothing" compares."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        out[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return out


def test_a_sandbox_built_earlier_is_known_by_its_layout(demo_template: DemoSandbox, tmp_path: Path) -> None:
    assert DemoSandbox.existing(demo_template.root) == demo_template
    assert DemoSandbox.existing(demo_template.project) is None
    look_alike = tmp_path / "look-alike"  # the folder names alone are not a sandbox
    for folder in ("wheelhouse", "project/.venv"):
        (look_alike / folder).mkdir(parents=True)
    assert DemoSandbox.existing(look_alike) is None
    assert DemoSandbox.existing(tmp_path / "absent") is None


def test_demo_no_launch_on_a_sandbox_built_earlier_says_how_to_open_it_and_changes_nothing(
    demo_template: DemoSandbox,
) -> None:
    root = demo_template.root
    before = _tree(root)
    done = _oxwizard_demo(str(root), "--no-launch")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"the demo sandbox in {root} exists (built earlier)"
    assert f"open it:    {shlex.quote(sys.executable)} -m oxwizard demo {root}" in lines
    assert f"project     {demo_template.project}" in lines
    assert "building" not in done.stdout and done.stderr == ""
    assert _tree(root) == before


def test_demo_refuses_a_folder_that_is_neither_empty_nor_a_sandbox_in_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    (folder / "wheelhouse").mkdir(parents=True)  # looks a little like one, is not one
    (folder / "project").mkdir()
    (folder / "project" / "notes.txt").write_text("mine")
    before = _tree(folder)
    for args in ([str(folder)], [str(folder), "--no-launch"]):
        done = _oxwizard_demo(*args)
        assert done.returncode == 2
        assert done.stdout == ""  # nothing is built, and nothing opens
        assert done.stderr == (
            f"oxwizard: error: demo folder exists and is not empty, and it is not a demo sandbox: {folder} "
            "(give a new or empty folder, or one built by `oxwizard demo`)\n"
        )
        assert _tree(folder) == before
    file = tmp_path / "file"
    file.write_text("mine")
    done = _oxwizard_demo(str(file))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"oxwizard: error: demo folder is a file: {file} (give a new or empty folder)\n"
    assert file.read_text() == "mine"
