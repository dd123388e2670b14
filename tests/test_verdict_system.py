"""System interpreters (issue 11): every site directory read, PEP 668 said and honoured, staging in a
temporary folder.

These tests READ the machine's system Python (``/usr/bin/python3``, on Debian externally managed with
``dist-packages``); they never install into it: the refusals run no installer, the plan is pip's dry
run, the staging clone goes to the temporary folder, and the install command lines are only built.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from oxwizard.cli import main
from oxwizard.core import proc
from oxwizard.demo.sandbox import DemoSandbox
from oxwizard.demo.wheels import build_wheel
from oxwizard.env.environment import Environment
from oxwizard.env.plan import Change, predict_conflicts
from oxwizard.env.specs import IndexOptions, parse_specs
from oxwizard.safety.installer import installer_argv
from oxwizard.safety.stage import create_stage, default_stage_path, retire_stage, spares

SYSTEM = Path("/usr/bin/python3")
FLAG = "--break-system-packages"


@pytest.fixture(scope="module")
def system_env() -> Environment:
    """The system Python, if this machine has an externally-managed one with a ``dist-packages``."""
    if not SYSTEM.is_file():
        pytest.skip(f"{SYSTEM} does not exist on this machine")
    where = subprocess.run(
        [str(SYSTEM), "-I", "-c", "import site, sys; print(sys.prefix != sys.base_prefix); "
         "print(*site.getsitepackages(), sep='\\n')"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if where.returncode != 0:
        pytest.skip(f"{SYSTEM} does not run: {where.stderr.strip()[-200:]}")
    is_venv, *site_dirs = where.stdout.split("\n")
    if is_venv == "True":
        pytest.skip(f"{SYSTEM} is a virtual environment, not a system Python")
    env = Environment.open(SYSTEM)
    if not env.externally_managed:
        pytest.skip(
            f"{SYSTEM} is not marked EXTERNALLY-MANAGED (PEP 668): no {env.stdlib}/EXTERNALLY-MANAGED"
        )
    if not any("dist-packages" in d and Path(d).is_dir() and os.listdir(d) for d in site_dirs):
        pytest.skip(f"{SYSTEM} has no non-empty dist-packages folder (not a Debian-style system Python)")
    return env


def _system_dists_seen_by_python() -> set[str]:
    """What the interpreter itself imports metadata for (a normal start: user site included)."""
    code = "import importlib.metadata as m\nfor d in m.distributions():\n    print(d.metadata['Name'] or '')"
    out = subprocess.run([str(SYSTEM), "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return {canonicalize_name(n) for n in out.stdout.split("\n") if n.strip()}


def _cli(argv: Sequence[str]) -> tuple[int, str, str, list[list[str]]]:
    """``oxwizard ARGV`` in this process; (exit code, stdout, stderr, every child's argv)."""
    children: list[list[str]] = []
    real_run, real_stream = proc.run, proc.stream

    def run(args: Sequence[str], **kw: object) -> proc.Completed:
        children.append(list(args))
        return real_run(args, **kw)  # type: ignore[arg-type]

    def stream(args: Sequence[str], **kw: object) -> proc.Completed:
        children.append(list(args))
        return real_stream(args, **kw)  # type: ignore[arg-type]

    out, err = io.StringIO(), io.StringIO()
    mp = pytest.MonkeyPatch()
    mp.setattr(proc, "run", run)
    mp.setattr(proc, "stream", stream)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv))
    finally:
        mp.undo()
    return code, out.getvalue(), err.getvalue(), children


def test_env_of_the_system_python_lists_dist_packages_and_says_pep_668(system_env: Environment) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "oxwizard", "env", "--env", str(SYSTEM)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    count = int(re.search(r"(?m)^distributions (\d+)$", done.stdout).group(1))  # type: ignore[union-attr]
    assert count > 0, done.stdout
    assert "externally managed (PEP 668)" in done.stdout
    assert "/usr/lib/python3/dist-packages" in done.stdout  # said where they were read from
    # exactly what the interpreter itself sees: nothing missed, nothing invented
    assert set(system_env.distributions) == _system_dists_seen_by_python()
    assert count == len(system_env.distributions)


def test_plan_predicts_pip_check_from_every_site_dir(system_env: Environment) -> None:
    # nothing changed: the prediction is what pip check says today, no false "not installed"
    assert predict_conflicts(system_env, []) == system_env.pip_check()
    # a new distribution needing one that lives in dist-packages: satisfied, not "not installed"
    dep = next(
        d for d in system_env.distributions.values() if "/usr/lib/python3/dist-packages" in d.metadata_dir
    )
    new = Change(name="sysprobe", to_version="1.0", kind="new", impact="new", requires=[dep.display_name])
    assert [p for p in predict_conflicts(system_env, [new]) if p.startswith("sysprobe")] == []


@pytest.mark.parametrize("verb", ["plan", "upgrade"])
def test_a_pep_668_python_is_refused_before_resolving(
    system_env: Environment, wheelhouse: Path, tmp_path: Path, verb: str
) -> None:
    before = system_env.fingerprint()
    argv = [verb, "oxzep7==1.5.0", "--env", str(SYSTEM), "--no-index", "--find-links", str(wheelhouse)]
    if verb == "upgrade":
        argv += ["--project", str(tmp_path), "--yes"]
    code, out, err, children = _cli(argv)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("oxwizard: error: "), err
    assert str(SYSTEM) in lines[0] and FLAG in lines[0] and "PEP 668" in lines[0]
    assert not [c for c in children if "pip" in c], children  # no dry run, nothing resolved
    assert not (tmp_path / ".oxwizard").exists()  # nothing recorded either
    assert Environment.open(SYSTEM).fingerprint() == before


def test_plan_with_the_flag_says_pep_668_and_predicts_no_false_conflict(
    system_env: Environment, tmp_path: Path
) -> None:
    dep = next(
        d for d in system_env.distributions.values() if "/usr/lib/python3/dist-packages" in d.metadata_dir
    )
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "sysprobe", "1.0", {"sysprobe/__init__.py": ""}, requires=[dep.display_name])
    argv = ["plan", "sysprobe==1.0", "--env", str(SYSTEM), "--no-index", "--find-links", str(wheels), FLAG]
    code, out, err, children = _cli(argv)  # pip's dry run only: nothing is installed
    assert code == 0, err
    assert "externally managed (PEP 668)" in out
    after = re.search(r"(?m)^pip check after: (.*)$", out).group(1)  # type: ignore[union-attr]
    now = re.search(r"(?m)^pip check now: +(.*)$", out).group(1)  # type: ignore[union-attr]
    assert "sysprobe" not in after and after == now, out
    assert "install exactly: sysprobe==1.0" in out
    dry_runs = [c for c in children if "--dry-run" in c]
    assert dry_runs and all(FLAG in c for c in dry_runs)


def test_every_install_into_a_system_prefix_passes_the_flag(system_env: Environment, tmp_path: Path) -> None:
    from oxwizard.env.plan import dry_run_argv
    from oxwizard.safety.installer import uninstaller_argv
    from oxwizard.safety.rollback import reinstall_argv, remove_argv

    index = IndexOptions.build(find_links=[str(tmp_path)], no_index=True)
    argvs = {
        "apply install": installer_argv(system_env)[1],
        "apply uninstall": uninstaller_argv(system_env, system_env.installer_kind(), ["sysprobe"]),
        "rollback reinstall": reinstall_argv(system_env, index, ["sysprobe==1.0"]),
        "rollback remove": remove_argv(system_env, ["sysprobe"]),
        "plan dry run": dry_run_argv(system_env, parse_specs(["sysprobe"]), index, tmp_path / "r.json"),
    }
    for what, argv in argvs.items():
        assert FLAG in argv, f"{what}: {argv}"
        assert argv.index(FLAG) < argv.index("--") if "--" in argv else True, f"{what}: {argv}"


def test_the_staging_clone_of_a_system_prefix_goes_to_the_temp_dir(system_env: Environment) -> None:
    dest = default_stage_path(system_env)
    temp = Path(tempfile.gettempdir()).resolve()
    try:
        assert dest.resolve().is_relative_to(temp), dest  # checked before anything is copied
        assert not dest.resolve().is_relative_to(system_env.root.parent) or temp.is_relative_to(
            system_env.root.parent
        )
        stage = create_stage(system_env, dest)
        assert stage.root == dest and stage.is_venv and not stage.externally_managed
        assert stage.fingerprint() == system_env.fingerprint()  # the same distributions, importable
        assert not list(system_env.root.parent.glob(f".{system_env.root.name}-stage*"))
    finally:
        retire_stage(dest, system_env)  # what the flow's cleanup calls: a system Python's is removed
    assert not dest.exists() and not dest.with_name(dest.name + ".partial").exists()
    assert not spares(system_env) and not list(system_env.root.parent.glob(f".{system_env.root.name}-spare*"))


# --- end to end on a hermetic "system" Python: a prefix of its own, marked EXTERNALLY-MANAGED ---
@pytest.fixture(scope="module")
def fake_system_python(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    """A copy of the base interpreter's binary in a prefix whose stdlib is linked to the real one and
    carries an EXTERNALLY-MANAGED marker: to Python and to pip, a system Python (not a venv)."""
    from oxwizard.demo.sandbox import INSTALLED, base_interpreter

    base = Path(os.path.realpath(base_interpreter()))
    where = subprocess.run(
        [str(base), "-I", "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    stdlib = Path(where.stdout.strip())
    prefix = tmp_path_factory.mktemp("fake-system") / "usr"
    lib = prefix / "lib" / stdlib.name
    (lib / "site-packages").mkdir(parents=True)
    (prefix / "bin").mkdir()
    python = prefix / "bin" / base.name
    shutil.copy2(base, python)
    for entry in stdlib.iterdir():
        if entry.name not in ("site-packages", "EXTERNALLY-MANAGED"):
            os.symlink(entry, lib / entry.name)
    (lib / "EXTERNALLY-MANAGED").write_text("[externally-managed]\nError=a test system Python\n")
    check = "import sys; print(sys.prefix == sys.base_prefix == sys.argv[1])"
    ran = subprocess.run(
        [str(python), "-I", "-c", check, str(prefix)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if ran.stdout.strip() != "True":
        pytest.skip(f"a copy of {base} does not run as its own prefix here: {ran.stderr.strip()[-200:]}")
    setup = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-index"]
    setup += ["--find-links", str(wheelhouse), FLAG, *INSTALLED]
    subprocess.run(setup, capture_output=True, text=True, timeout=300, check=True, env=proc.pip_environment())
    return python


def test_upgrade_of_an_externally_managed_python_with_the_flag(
    fake_system_python: Path, demo_template: DemoSandbox, wheelhouse: Path, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    shutil.copytree(demo_template.project, project, symlinks=True)
    assert Environment.open(fake_system_python).externally_managed
    argv = [sys.executable, "-m", "oxwizard", "upgrade", "oxzep7==1.5.0", "--env", str(fake_system_python)]
    argv += ["--project", str(project), "--no-index", "--find-links", str(wheelhouse), "--yes"]
    refused = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert refused.returncode == 2 and FLAG in refused.stderr and not refused.stdout
    done = subprocess.run([*argv, FLAG], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "externally managed (PEP 668)" in done.stdout
    assert "upgraded: oxzep7 1.4.2 -> 1.5.0" in done.stdout
    # made while planning (upgrade holds the lock from the plan on), which the line says
    stage = Path(re.search(r"(?m)\bstage: (\S+) \(cloned while planning\)$", done.stdout).group(1))  # type: ignore[union-attr]
    assert stage.is_relative_to(Path(tempfile.gettempdir())), stage  # never beside the prefix
    assert not stage.exists()  # removed when the flow ended
    prefix = fake_system_python.parent.parent
    assert sorted(p.name for p in prefix.parent.iterdir()) == ["usr"]
    # installed on live through pip with --break-system-packages (pip refuses it otherwise); the
    # checks on live ran the prefix's own interpreter (its bin has no `python`)
    assert Environment.open(fake_system_python).distributions["oxzep7"].version == "1.5.0"
