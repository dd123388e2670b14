"""Issue 11: tests and warnings read from structured results, default discovery that works.

A venv with pytest is built once for this module without the network: pytest and its dependencies
are copied, file by file as their RECORDs list them, from this test session's own environment; the
library the project uses comes from wheels built here. The demo sandbox (no pytest) serves the
unittest case, through the real CLI.
"""

from __future__ import annotations

import importlib.metadata
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from oxwizard.checks.suite import run_checks
from oxwizard.checks.tests import run_tests
from oxwizard.core import proc
from oxwizard.core.config import ChecksConfig, load_project_config
from oxwizard.demo.sandbox import DemoSandbox, base_interpreter
from oxwizard.demo.wheels import build_wheel
from oxwizard.env.environment import Environment

_OXLIB_1 = "def fetch(url):\n    return url.upper()\n"
_OXLIB_2 = '''import warnings


class OxlibDeprecationWarning(DeprecationWarning):
    """oxlib's own category: a subclass, as many libraries have."""


def get(url):
    return url.upper()


def fetch(url):
    warnings.warn("oxlib.fetch(url) is deprecated; use oxlib.get(url)", OxlibDeprecationWarning, stacklevel=2)
    return get(url)
'''
_APP_TESTS = "import oxlib\n\n\ndef test_fetch():\n    assert oxlib.fetch('a') == 'A'\n"


def _copy_distribution(name: str, site: Path) -> None:
    """Copy one installed distribution's files (as its RECORD lists them) into ``site``."""
    dist = importlib.metadata.distribution(name)
    for entry in dist.files or []:
        if entry.parts[0] == ".." or "__pycache__" in entry.parts:  # console scripts, bytecode
            continue
        source = Path(str(dist.locate_file(entry)))
        if source.is_file():
            target = site / entry
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _closure(name: str) -> set[str]:
    """``name`` and every distribution it requires here (markers evaluated, extras left out)."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        dist = importlib.metadata.distribution(todo.pop())
        key = canonicalize_name(dist.metadata["Name"])
        if key in seen:
            continue
        seen.add(key)
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def _pip(venv: Path, *args: str) -> None:
    """pip (this session's) installing into ``venv``, which has none of its own."""
    done = proc.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", *args],
        env=proc.pip_environment(),
        timeout=300,
    )
    assert done.ok, done.stderr


@pytest.fixture(scope="module")
def pytest_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A venv with pytest (no pip, no network) and a wheelhouse with oxlib 1.0 and 2.0."""
    root = tmp_path_factory.mktemp("verdict")
    venv = root / "venv"
    made = proc.run([base_interpreter(), "-m", "venv", "--without-pip", str(venv)], timeout=300)
    assert made.ok, made.stderr
    site = Environment.open(venv).purelib
    for name in _closure("pytest"):
        _copy_distribution(name, site)
    wheelhouse = root / "wheelhouse"
    build_wheel(wheelhouse, "oxlib", "1.0", {"oxlib/__init__.py": _OXLIB_1})
    build_wheel(wheelhouse, "oxlib", "2.0", {"oxlib/__init__.py": _OXLIB_2})
    return venv, wheelhouse


def test_a_deprecation_subclass_under_pytest_is_a_new_warning(
    pytest_env: tuple[Path, Path], tmp_path: Path
) -> None:
    venv, wheelhouse = pytest_env
    project = tmp_path / "app"
    (project / "tests").mkdir(parents=True)  # no __init__.py: pytest's rootdir import mode
    (project / "tests" / "test_app.py").write_text(_APP_TESTS)
    (project / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    _pip(venv, "--no-index", "--find-links", str(wheelhouse), "oxlib==1.0")
    env = Environment.open(venv)
    config = load_project_config(project)
    lines: list[str] = []
    baseline = run_checks(env, project, config, "baseline", on_line=lines.append)
    tests = baseline.get("tests")
    assert tests is not None and tests.status == "pass", tests
    assert tests.details["passing"] == ["tests/test_app.py::test_fetch"]
    assert tests.details["command"] == ["python", "-m", "pytest", "-p", "oxwizard_pytest_report"]
    why = "pytest is installed in the env (configured in pyproject.toml [tool.pytest.ini_options])"
    assert tests.details["why"] == [why]
    assert f"tests: python -m pytest -p oxwizard_pytest_report ({why})" in lines, "the choice is streamed"
    assert baseline.new_warnings == []

    _pip(venv, "--no-index", "--find-links", str(wheelhouse), "oxlib==2.0")
    env.refresh()
    after = run_checks(env, project, config, "staging", upgraded=["oxlib"], baseline=baseline)
    assert after.ok, [r.summary for r in after.failed]
    assert after.new_warnings == [
        "oxlib.OxlibDeprecationWarning (DeprecationWarning): oxlib.fetch(url) is deprecated; "
        "use oxlib.get(url) (tests/test_app.py:5)"
    ]
    warnings = after.get("warnings")
    assert warnings is not None and warnings.status == "warn"
    assert warnings.summary.startswith("1 new: oxlib.OxlibDeprecationWarning (DeprecationWarning)")


_COUNTED = """import warnings


class OldStyle(FutureWarning):
    pass


def test_one():
    warnings.warn("spelling x is going away", OldStyle)


def test_two():
    pass


def test_three():
    assert 1 == 2
"""


def test_a_custom_pytest_command_with_p_no_warnings_is_counted(
    pytest_env: tuple[Path, Path], tmp_path: Path
) -> None:
    venv, _ = pytest_env
    project = tmp_path / "app"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_counted.py").write_text(_COUNTED)
    env = Environment.open(venv)
    config = ChecksConfig(test_command=shlex.split("python -m pytest -q -p no:warnings"))
    tests, warnings = run_tests(env, project, config)
    assert "2 passed" in tests.output and "1 failed" in tests.output, "pytest ran with the user's options"
    assert tests.numbers == {"passed": 2.0, "failed": 1.0, "errors": 0.0, "skipped": 0.0}
    assert tests.status == "fail" and tests.details["failing"] == ["tests/test_counted.py::test_three"]
    assert tests.summary == "2 passed · 1 failed · 0 errors · failing: test_three"
    error, frames = tests.failures["tests/test_counted.py::test_three"]  # for the plan's predictions
    assert error.startswith("AssertionError") and (str(project / "tests" / "test_counted.py"), 17) in frames
    assert tests.details["why"] == ["configured test-command"]
    # pytest's warnings plugin is off: ours records them (the FutureWarning subclass counts)
    assert warnings.details["groups"] == [
        "test_counted.OldStyle (FutureWarning): spelling x is going away (tests/test_counted.py:9)"
    ]

    only = ChecksConfig(test_command=["python", "-m", "pytest", "-q", "-p", "no:warnings", "-k", "two"])
    tests, _ = run_tests(env, project, only)  # prints "1 passed, 2 deselected in 0.01s"
    assert (tests.status, tests.summary) == ("pass", "1 passed · 0 failed · 0 errors")


def test_tests_without_init_under_unittest_pass_a_good_upgrade(demo: object) -> None:
    sandbox: DemoSandbox = demo()  # type: ignore[operator]
    (sandbox.project / "tests" / "__init__.py").unlink()
    pyproject = sandbox.project / "pyproject.toml"
    text = pyproject.read_text("utf-8")
    text, count = re.subn(r"(?m)^test-command = .*\n", "", text)  # the default discovery, then
    assert count == 1
    text = re.sub(r"(?m)^benchmark-threshold = .*$", "benchmark-threshold = 5.0", text)  # a busy machine
    pyproject.write_text(text, "utf-8")
    argv = [sys.executable, "-m", "oxwizard", "upgrade", "oxzep7==1.5.0", "--yes", "-v"]
    argv += ["--env", str(sandbox.venv), "--project", str(sandbox.project)]
    argv += ["--find-links", str(sandbox.wheelhouse), "--no-index"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "Start directory is not importable" not in out
    assert "pass tests: 8 passed · 0 failed · 0 errors" in out, out
    assert (
        "tests: python -m oxwizard_unittest_report discover -v -s tests (pytest is not installed in the "
        "env: unittest discovery in tests/ (no __init__.py: the folder itself is the top level))"
    ) in out, out
    assert Environment.open(sandbox.venv).distributions["oxzep7"].version == "1.5.0"


def test_default_discovery_on_common_layouts(
    demo_template: DemoSandbox, pytest_env: tuple[Path, Path], tmp_path: Path
) -> None:
    plain = Environment.open(demo_template.venv)  # no pytest: unittest discovery
    checks = "import unittest\n\nfrom {mod} import VALUE\n\n\nclass T(unittest.TestCase):\n"
    checks += "    def test_value(self):\n        self.assertEqual(VALUE, 42)\n"

    # a src layout, not installed in the env, tests/ without __init__.py
    src = tmp_path / "srclayout"
    (src / "src" / "mypkg").mkdir(parents=True)
    (src / "src" / "mypkg" / "__init__.py").write_text("VALUE = 42\n")
    (src / "tests").mkdir()
    (src / "tests" / "test_pkg.py").write_text(checks.format(mod="mypkg"))
    tests, _ = run_tests(plain, src, ChecksConfig())
    assert (tests.status, tests.details["passing"]) == ("pass", ["test_pkg.T.test_value"]), tests.output
    assert tests.details["why"][0].endswith(
        "; src/ on PYTHONPATH (its packages are not installed in the env)"
    )

    # test_*.py beside the code, in the package
    beside = tmp_path / "beside"
    (beside / "app").mkdir(parents=True)
    (beside / "app" / "__init__.py").write_text("VALUE = 42\n")
    (beside / "app" / "test_app.py").write_text(checks.format(mod="app"))
    tests, _ = run_tests(plain, beside, ChecksConfig())
    assert (tests.status, tests.details["passing"]) == ("pass", ["app.test_app.T.test_value"]), tests.output
    assert tests.details["command"] == ["python", "-m", "oxwizard_unittest_report", "discover", "-v"]

    # pytest is chosen where it is installed and configured, wherever its configuration lives
    with_pytest = Environment.open(pytest_env[0])
    for name, text, where in (
        ("pytest.ini", "[pytest]\n", "pytest.ini"),
        ("tox.ini", "[tox]\n[pytest]\naddopts = -q\n", "tox.ini [pytest]"),
        ("setup.cfg", "[metadata]\nname = x\n[tool:pytest]\n", "setup.cfg [tool:pytest]"),
    ):
        project = tmp_path / name.replace(".", "-")
        project.mkdir()
        (project / "check_me.py").write_text("def test_one():\n    pass\n")  # collected via config
        (project / name).write_text(text + "python_files = check_*.py\n")
        tests, _ = run_tests(with_pytest, project, ChecksConfig())
        assert tests.details["why"] == [f"pytest is installed in the env (configured in {where})"]
        assert (tests.status, tests.details["passing"]) == ("pass", ["check_me.py::test_one"]), tests.output


def test_a_library_deprecation_is_the_same_warning_when_its_line_moves(demo_template: DemoSandbox) -> None:
    # the upgraded library's own lines move between its versions: the same deprecation raised from
    # the same file is not "new"; in the project's own code the line is part of the key
    from oxwizard.checks.tests import warning_key

    env = Environment.open(demo_template.venv)
    project = demo_template.project
    lib = str(env.purelib / "oxzep7" / "core.py")
    mine = str(project / "demoapp" / "app.py")

    def key(filename: str, lineno: int) -> str | None:
        warning = {"mro": ["DeprecationWarning", "Warning"], "category": "DeprecationWarning",
                   "message": "fmt is deprecated", "filename": filename, "lineno": lineno}  # fmt: skip
        return warning_key(warning, env, project)

    assert key(lib, 10) == key(lib, 42) == "DeprecationWarning: fmt is deprecated (oxzep7/core.py)"
    assert key(mine, 3) == "DeprecationWarning: fmt is deprecated (demoapp/app.py:3)"
    assert key(mine, 3) != key(mine, 4)


def test_a_test_file_that_cannot_be_collected_is_named_by_its_path() -> None:
    # seen with werkzeug 3.0 (a removed name imported at the top of a test module): pytest reports
    # the file itself as the error, and "newly failing: py" named nothing
    from oxwizard.checks.tests import short_name

    assert short_name("tests/test_urlutil.py") == "tests/test_urlutil.py"
    assert short_name("tests/test_x.py::T::test_a[1.5]") == "test_a[1.5]"
    assert short_name("tests.test_x.T.test_a") == "test_a"


def test_a_module_that_cannot_be_collected_is_recorded_with_the_import_that_broke(
    pytest_env: tuple[Path, Path], tmp_path: Path
) -> None:
    """An upgrade that removes a name breaks the test module importing it: pytest reports a
    collection error (its CollectError, raised from the ImportError). What is recorded for the
    plan's predictions is the ImportError, and the frames down to the import line."""
    venv, _ = pytest_env
    project = tmp_path / "app"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_broken.py").write_text(
        "from json import gone_name\n\n\ndef test_x():\n    pass\n"
    )
    tests, _ = run_tests(Environment.open(venv), project, ChecksConfig())
    assert tests.status == "fail" and tests.details["failing"] == ["tests/test_broken.py"]
    error, frames = tests.failures["tests/test_broken.py"]
    assert error.startswith("ImportError: cannot import name 'gone_name' from 'json'"), error
    assert frames[-1] == (str(project / "tests" / "test_broken.py"), 1)
