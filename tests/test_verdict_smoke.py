"""Import smoke judged against the baseline (issue 11): old failures are not blamed, each module is
imported in an interpreter of its own, and the submodules the project imports are smoked too.

One venv (made without pip, driven by this interpreter's pip) holds the three scenarios' packages at
their old versions; the baseline checks run, every package is upgraded at once, and the checks run
again. Each scenario has its own project folder and upgraded distribution, so their results are
independent. One end-to-end ``oxwizard upgrade --yes`` shows an old failure does not stop promotion.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import wheel_install, wheel_venv

from oxwizard.checks.compat import import_smoke
from oxwizard.checks.result import CheckResult, CheckSet, load_checkset
from oxwizard.checks.suite import run_checks
from oxwizard.core import proc
from oxwizard.core.config import ChecksConfig
from oxwizard.demo.wheels import build_wheel
from oxwizard.env.environment import Environment
from oxwizard.runbook.model import load_runbook

# oxwx ships a second top-level package, oxwx_cli, that needs the `cli` extra (oxwclick), which is
# not installed: it fails to import before and after the upgrade.
_CLI = "import oxwclick\n\n\ndef main():\n    return oxwclick.run()\n"
# oxwpa, imported first in a shared interpreter, leaves a stale stand-in for oxwpb._impl in
# sys.modules (as setuptools' distutils shim did to a later module); oxwpb then cannot import.
_POISON_A = 'import sys\nimport types\n\nsys.modules["oxwpb._impl"] = types.ModuleType("oxwpb._impl")\n'
_POISON_B = "from oxwpb._impl import VALUE\n"
# the project's own file, as a user writes it: it uses submodules of oxwlib
# (oxwns is a namespace package shared by oxwlib and oxwns-other; oxwns.other is not oxwlib's)
_USES_LIB = (
    "import oxwns.part\nfrom oxwlib.sub import x\nfrom oxwlib import gone, helper\n"
    "from oxwns import other\n\n\n"
    "def total():\n    return x + gone.y + oxwns.part.z + other.w + helper()\n"
)

SCENARIOS = {"extra": "oxwx", "poison": "oxw-poison", "submodule": "oxwlib"}
CONFIG = ChecksConfig(test_command=["python", "-c", "print('1 passed, 0 failed')"])


def _wheels(folder: Path) -> Path:
    for version in ("1.0", "1.1"):
        build_wheel(
            folder, "oxwx", version,
            {"oxwx/__init__.py": f'__version__ = "{version}"\n', "oxwx_cli/__init__.py": _CLI},
            requires=['oxwclick; extra == "cli"'],
        )  # fmt: skip
        build_wheel(
            folder, "oxw-poison", version,
            {"oxwpa/__init__.py": _POISON_A, "oxwpb/__init__.py": _POISON_B, "oxwpb/_impl.py": "VALUE = 1\n"},
        )  # fmt: skip
    build_wheel(
        folder, "oxwlib", "1.0",
        {"oxwlib/__init__.py": "def helper():\n    return 5\n", "oxwlib/sub.py": "x = 1\n",
         "oxwlib/gone.py": "y = 2\n", "oxwns/part.py": "z = 3\n"},
    )  # fmt: skip
    build_wheel(folder, "oxwns-other", "1.0", {"oxwns/other.py": "w = 4\n"})
    # 2.0 drops both submodules and the function helper (`import oxwlib` still works) and adds a
    # package that cannot import
    build_wheel(
        folder, "oxwlib", "2.0",
        {"oxwlib/__init__.py": "", "oxwlib_extra/__init__.py": "import oxwmissing\n",
         "oxwns/part.py": "z = 3\n"},
    )  # fmt: skip
    return folder


@dataclass
class Scenario:
    project: Path
    before: CheckSet
    after: CheckSet

    @property
    def smoke_before(self) -> CheckResult:
        result = self.before.get("import-smoke")
        assert result is not None, [r.name for r in self.before.results]
        return result

    @property
    def smoke(self) -> CheckResult:
        result = self.after.get("import-smoke")
        assert result is not None
        return result


@pytest.fixture(scope="module")
def smoke_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _wheels(tmp_path_factory.mktemp("smoke-wheels"))


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory, smoke_wheels: Path) -> dict[str, Scenario]:
    root = tmp_path_factory.mktemp("verdict-smoke")
    old = ("oxwx==1.0", "oxw-poison==1.0", "oxwlib==1.0", "oxwns-other==1.0")
    venv = wheel_venv(root / "venv", smoke_wheels, *old)
    env = Environment.open(venv)
    projects = {}
    for key in SCENARIOS:
        projects[key] = root / key
        projects[key].mkdir()
    (projects["submodule"] / "app.py").write_text(_USES_LIB, encoding="utf-8")
    # not the project's code: hidden folders (its runbook repo, a venv) and build output; nor a
    # relative import (the project's own module)
    for folder in (".oxwizard", ".venv/lib", "build/lib"):
        (projects["submodule"] / folder).mkdir(parents=True)
        (projects["submodule"] / folder / "other.py").write_text("import oxwlib.elsewhere\n", "utf-8")
    (projects["submodule"] / "rel.py").write_text("from .oxwlib.mine import relative\n", "utf-8")
    before = {
        key: run_checks(env, projects[key], CONFIG, "baseline", upgraded=[dist])
        for key, dist in SCENARIOS.items()
    }
    wheel_install(venv, smoke_wheels, "oxwx==1.1", "oxw-poison==1.1", "oxwlib==2.0")
    env.refresh()
    return {
        key: Scenario(
            projects[key],
            before[key],
            run_checks(env, projects[key], CONFIG, "staging", upgraded=[dist], baseline=before[key]),
        )
        for key, dist in SCENARIOS.items()
    }


def test_a_module_failing_before_too_is_not_blamed(scenarios: dict[str, Scenario]) -> None:
    s = scenarios["extra"]
    smoke = s.smoke
    assert smoke.status == "warn" and s.after.ok, smoke
    assert smoke.details["failed"] == [], "an import that failed before is not the upgrade's fault"
    assert smoke.summary == (
        "1 of 2 modules import (1 upgraded, 0 dependents); 1 failing before too: "
        "oxwx_cli (oxwx): ModuleNotFoundError: No module named 'oxwclick'"
    )
    before = s.smoke_before
    assert before.status == "warn", before
    assert (
        before.details["failing_before"]
        == smoke.details["failing_before"]
        == ["oxwx_cli (oxwx): ModuleNotFoundError: No module named 'oxwclick'"]
    )
    assert before.summary.startswith("1 of 2 imports fail before the upgrade: oxwx_cli (oxwx)")


def test_modules_that_poison_each_other_are_imported_apart(scenarios: dict[str, Scenario]) -> None:
    s = scenarios["poison"]
    assert s.smoke.status == "pass", s.smoke
    assert s.smoke_before.status == "pass", s.smoke_before
    for smoke in (s.smoke, s.smoke_before):
        assert smoke.details["modules"] == ["oxwpa", "oxwpb"] and smoke.details["failing"] == []
    # in one shared interpreter, oxwpa would have broken oxwpb: the scenario is a real poisoning
    python = str(s.project.parent / "venv" / "bin" / "python")
    shared = proc.run([python, "-I", "-c", "import oxwpa, oxwpb"], timeout=60)
    assert not shared.ok and "cannot import name 'VALUE'" in shared.stderr, shared.stderr


def test_a_submodule_the_project_uses_is_smoked(scenarios: dict[str, Scenario]) -> None:
    s = scenarios["submodule"]
    smoke = s.smoke
    assert smoke.status == "fail" and not s.after.ok
    assert smoke.details["failed"] == [
        "oxwlib.gone (oxwlib): ModuleNotFoundError: No module named 'oxwlib.gone'",
        "oxwlib.sub (oxwlib): ModuleNotFoundError: No module named 'oxwlib.sub'",
        # a name the project imports from a module that still imports (from oxwlib import helper)
        "oxwlib:helper (oxwlib): ImportError: cannot import name 'helper' from 'oxwlib'",
        # new in 2.0 and failing: it never imported before, so it counts
        "oxwlib_extra (oxwlib): ModuleNotFoundError: No module named 'oxwmissing'",
    ], smoke.details
    assert "oxwlib" not in smoke.details["failing"], "`import oxwlib` still works"
    assert smoke.summary.startswith("4 of 8 imports fail: oxwlib.gone (oxwlib)"), smoke.details["modules"]
    before = s.smoke_before
    assert before.status == "pass", before
    # oxwns.part is oxwlib's (and oxwns one of its top-level names); oxwns-other's module is not smoked
    assert before.details["modules"] == [
        "oxwlib", "oxwlib.gone", "oxwlib.sub", "oxwlib.sub:x", "oxwlib:helper", "oxwns", "oxwns.part"
    ]  # fmt: skip


def _upgrade_yes(
    tmp_path: Path, venv: Path, wheels: Path, spec: str, files: dict[str, str] | None = None
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """``oxwizard upgrade SPEC --yes`` from ``wheels`` (no index) for a project of ``files`` whose
    tests always pass: the project and the finished process."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[tool.oxwizard]\ntest-command = ["python", "-c", "print(\'1 passed, 0 failed\')"]\n',
        encoding="utf-8",
    )
    for rel, text in (files or {}).items():
        (project / rel).write_text(text)
    argv = [sys.executable, "-m", "oxwizard", "upgrade", spec, "--yes", "--env", str(venv),
            "--project", str(project), "--find-links", str(wheels), "--no-index"]  # fmt: skip
    return project, subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)


def test_upgrade_is_promoted_despite_an_import_failing_before_too(tmp_path: Path, smoke_wheels: Path) -> None:
    venv = wheel_venv(tmp_path / "venv", smoke_wheels, "oxwx==1.0")
    _, done = _upgrade_yes(tmp_path, venv, smoke_wheels, "oxwx==1.1")
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert Environment.open(venv).distributions["oxwx"].version == "1.1", "promoted to live"
    line = "warn import-smoke: 1 of 2 modules import (1 upgraded, 0 dependents); 1 failing before too: "
    assert line + "oxwx_cli (oxwx): ModuleNotFoundError: No module named 'oxwclick'" in out, out
    assert "checks failed" not in out


def test_after_the_baseline_the_slowest_import_starts_first(tmp_path: Path) -> None:
    """Each interpreter's time is recorded; the next phase (and the next run's baseline) starts the
    longest first, so that a slow module named last does not start alone at the end (one core
    here: the order is exact)."""
    log = tmp_path / "imported.log"
    note = f"with open({str(log)!r}, 'a') as f:\n    f.write(__name__ + '\\n')\n"
    modules = {f"{name}/__init__.py": note for name in ("oxwta", "oxwtb", "oxwtc")}
    modules["oxwtz/__init__.py"] = note + "import time\ntime.sleep(0.5)\n"  # the slow one, named last
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "oxw-timed", "1.0", modules)
    env = Environment.open(wheel_venv(tmp_path / "venv", wheels, "oxw-timed==1.0"))
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})  # one interpreter at a time
    try:
        before = import_smoke(env, ["oxw-timed"], at_baseline=True)
        first = log.read_text().split()
        log.unlink()
        after = import_smoke(env, ["oxw-timed"], baseline=before)
        second = log.read_text().split()
        log.unlink()
        again = import_smoke(env, ["oxw-timed"], at_baseline=True)  # the next run's baseline
        third = log.read_text().split()
    finally:
        os.sched_setaffinity(0, cores)
    assert first == ["oxwta", "oxwtb", "oxwtc", "oxwtz"], "nothing timed yet: by name"
    seconds = dict(line.split() for line in before.details["seconds"])
    assert sorted(seconds) == ["oxwta", "oxwtb", "oxwtc", "oxwtz"]
    assert float(seconds["oxwtz"]) >= 0.5
    assert second[0] == "oxwtz" and sorted(second) == first
    assert after.status == "pass" and after.details["seconds"]
    # the times are kept with the environment's: the next run's baseline starts it first too
    assert third[0] == "oxwtz" and sorted(third) == first and again.status == "pass"


def test_an_import_failure_the_plan_named_says_so(tmp_path: Path) -> None:
    """flask 2.1.3 under werkzeug 3.0's kind of break: an installed dependent imports a name the
    upgrade removes. The plan names that line before anything is installed; the staging import smoke
    fails there, and says the plan predicted it, with the line, in ``upgrade``'s output and in the
    evidence. So does the project's own import of a removed module or name (the smoke imports it as
    the project spells it). A module failing for another reason is not matched."""
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "oxwbase", "1.0", {
        "oxwbase/__init__.py": "def quote(s):\n    return s\n", "oxwbase/old.py": "X = 1\n",
    })  # fmt: skip
    build_wheel(wheels, "oxwbase", "2.0", {"oxwbase/__init__.py": "def unquote(s):\n    return s\n"})
    uses = '"""Uses oxwbase."""\nfrom oxwbase import quote\n\n\ndef go(s):\n    return quote(s)\n'
    build_wheel(wheels, "oxwdep", "1.0", {"oxwdep/__init__.py": uses}, requires=["oxwbase"])
    other = "import oxwbase\n\nif not hasattr(oxwbase, 'q' + 'uote'):\n    raise RuntimeError('no quote')\n"
    build_wheel(wheels, "oxwother", "1.0", {"oxwother/__init__.py": other}, requires=["oxwbase"])
    venv = wheel_venv(tmp_path / "venv", wheels, "oxwbase==1.0", "oxwdep==1.0", "oxwother==1.0")
    app = "import oxwbase.old\nfrom oxwbase import quote\n\nquote(oxwbase.old.X)\n"
    project, done = _upgrade_yes(tmp_path, venv, wheels, "oxwbase==2.0", {"app.py": app})
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert Environment.open(venv).distributions["oxwbase"].version == "1.0", "live untouched"
    assert "(+3 more: oxwbase:quote, oxwdep, oxwother) · the plan predicted 3 of 4" in out, out
    assert (
        "oxwdep: ImportError: cannot import name 'quote' from 'oxwbase'" in out
        and "— oxwdep/__init__.py:2 (installed oxwdep 1.0) uses oxwbase.quote — function oxwbase.quote "
        "removed in 2.0"
        in out
    ), out
    assert "oxwother: RuntimeError" not in out
    [runbook_path] = (project / ".oxwizard" / "runbooks").glob("*.json")
    evidence = runbook_path.parent.parent / "evidence" / load_runbook(runbook_path).id / "checks-staging.json"
    smoke = load_checkset(evidence).get("import-smoke")
    assert smoke is not None and smoke.status == "fail"
    assert "oxwother (oxwother): RuntimeError: no quote" in smoke.details["failed"]
    assert [line.split(": ")[0] + " — " + line.split(" — ", 1)[1] for line in smoke.details["predicted"]] == [
        "oxwbase.old — app.py:1 uses oxwbase.old — module oxwbase.old removed in 2.0",
        "oxwbase:quote — app.py:2 uses oxwbase.quote — function oxwbase.quote removed in 2.0",
        "oxwdep — oxwdep/__init__.py:2 (installed oxwdep 1.0) uses oxwbase.quote — function oxwbase.quote "
        "removed in 2.0",
    ]
