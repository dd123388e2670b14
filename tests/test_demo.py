"""The demo sandbox: real wheels, a real venv, a project whose tests tell 1.4.2/1.5.0 from 2.0.0."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata as md
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from oxwizard import proc
from oxwizard.demo import DemoSandbox, build_demo
from oxwizard.errors import UsageError
from oxwizard.wheels import build_wheel

DemoFactory = Callable[[], DemoSandbox]


def _pip(demo: DemoSandbox, *args: str) -> proc.Completed:
    argv = [str(demo.python), "-m", "pip", *args]
    return proc.run(argv, env=proc.pip_environment(), timeout=300)


def _unittest(demo: DemoSandbox) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(demo.python), "-W", "default", "-m", "unittest", "discover", "-s", "tests", "-v"],
        cwd=demo.project, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_layout_is_the_documented_contract(demo_template: DemoSandbox) -> None:
    root = demo_template.root
    assert demo_template.wheelhouse == root / "wheelhouse"
    assert demo_template.project == root / "project"
    assert demo_template.venv == root / "project" / ".venv"
    wheels = sorted(p.name for p in demo_template.wheelhouse.iterdir())
    for name in ("oxzep7-1.4.2", "oxzep7-1.5.0", "oxzep7-2.0.0", "oxzep7_core-2.0.0", "oxzep7_plugin-1.0.0"):
        assert any(w.startswith(name + "-py3-none-any") for w in wheels), name
    for rel in ("tests/test_app.py", "demoapp/bench.py", "logs/app.log", "data/records.csv",
                "advisories.json", "pyproject.toml", ".git"):  # fmt: skip
        assert (demo_template.project / rel).exists(), rel


def test_env_has_oxzep7_142_with_matching_record(demo_template: DemoSandbox) -> None:
    site = next((demo_template.venv / "lib").glob("python3*/site-packages"))
    found = {d.metadata["Name"]: d for d in md.distributions(path=[str(site)])}
    oxzep7 = found["oxzep7"]
    assert oxzep7.version == "1.4.2"
    assert found["oxzep7-plugin"].requires == ["oxzep7>=1.4"]
    for entry in oxzep7.files or []:
        if entry.hash is None:
            continue
        data = Path(str(entry.locate())).read_bytes()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert digest == entry.hash.value, entry


def test_project_tests_pass_on_142(demo_template: DemoSandbox) -> None:
    done = _unittest(demo_template)
    assert done.returncode == 0, done.stderr
    assert "OK" in done.stderr


def test_150_warns_and_200_breaks_tests_and_a_dependent(demo: DemoFactory) -> None:
    sandbox = demo()
    assert _pip(sandbox, "install", "--no-index", "--find-links", str(sandbox.wheelhouse),
                "oxzep7==1.5.0").ok  # fmt: skip
    on_150 = _unittest(sandbox)
    assert on_150.returncode == 0
    assert "DeprecationWarning: oxzep7.legacy_parse is deprecated" in on_150.stderr
    assert _pip(sandbox, "install", "--no-index", "--find-links", str(sandbox.wheelhouse),
                "oxzep7==2.0.0").ok  # fmt: skip
    on_200 = _unittest(sandbox)
    assert on_200.returncode != 0
    assert "ERROR: test_legacy_parse" in on_200.stderr
    assert "ERROR: test_render" in on_200.stderr
    plugin = subprocess.run([str(sandbox.python), "-c", "import oxzep7_plugin"],
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert "No module named 'oxzep7.fmt'" in plugin.stderr
    assert "ERROR" in (sandbox.project / "logs" / "app.log").read_text()


def test_built_wheel_installs_with_real_pip(tmp_path: Path, demo_template: DemoSandbox) -> None:
    wheel = build_wheel(tmp_path / "wh", "My.Pkg", "0.1", {"my_pkg/__init__.py": "X = 1\n"},
                        requires=["oxzep7>=1"], requires_python=">=3.8")  # fmt: skip
    assert wheel.name == "my_pkg-0.1-py3-none-any.whl"
    target = tmp_path / "target"
    done = proc.run([str(demo_template.python), "-m", "pip", "install", "--no-deps", "--no-index",
                     "--target", str(target), str(wheel)], env=proc.pip_environment())  # fmt: skip
    assert done.ok, done.stderr
    dist = next(iter(md.distributions(path=[str(target)])))
    assert (dist.metadata["Name"], dist.version, dist.requires) == ("My.Pkg", "0.1", ["oxzep7>=1"])
    assert dist.metadata["Requires-Python"] == ">=3.8"


def test_demo_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(UsageError, match="not empty"):
        build_demo(tmp_path / "x")
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"
