"""The pip-check check after the baseline: pip check's verdict read in-process from the metadata, held
equal to a real ``pip check`` child on real broken environments, and the child again whenever the
baseline's pip check saw something the metadata does not say (or the upgrade changes pip itself).

One sandbox (liba 1.0 + libb 1.0, then broken by libb 2.0, then a distribution only pip check sees)
serves every assertion, in order."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from oxwizard.checks.compat import pip_check
from oxwizard.checks.result import CheckResult, CheckSet
from oxwizard.checks.suite import run_checks
from oxwizard.core import proc
from oxwizard.core.config import load_project_config
from oxwizard.demo.sandbox import DemoSandbox
from oxwizard.env.environment import Environment
from tests.conftest import build_conflict_sandbox


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory, conflict_wheels: Path) -> DemoSandbox:
    return build_conflict_sandbox(tmp_path_factory.mktemp("pipcheck") / "sandbox", conflict_wheels)


def _install(sandbox: DemoSandbox, spec: str) -> None:
    done = proc.run(
        [sys.executable, "-m", "pip", "--python", str(sandbox.python), "install", "-q", "--no-index",
         "--find-links", str(sandbox.wheelhouse), spec],
        env=proc.pip_environment(),
        timeout=120,
    )  # fmt: skip
    assert done.ok, done.stderr


def _pip_check(cs: CheckSet) -> CheckResult:
    result = cs.get("pip-check")
    assert result is not None
    return result


def test_pip_check_from_metadata_after_an_agreeing_baseline(sandbox: DemoSandbox) -> None:
    env = Environment.open(sandbox.venv)
    config = load_project_config(sandbox.project)
    baseline = run_checks(env, sandbox.project, config, "baseline", upgraded=["libb"])
    checked = _pip_check(baseline)
    # the baseline runs the real pip check, and says the metadata gave the same verdict
    assert checked.status == "pass" and checked.details["checked_by"] == ["pip check", "metadata"]

    # the upgrade breaks liba's requirement: the staging phase reads it from the metadata, in pip's
    # words, exactly what a real pip check says
    _install(sandbox, "libb==2.0")
    env.refresh()
    staging = run_checks(env, sandbox.project, config, "staging", upgraded=["libb"], baseline=baseline)
    found = _pip_check(staging)
    real = env.pip_check()
    assert real == ["liba 1.0 has requirement libb<2, but you have libb 2.0."]
    assert found.status == "fail" and found.details["problems"] == real
    assert found.details["checked_by"] == ["metadata"] and not staging.ok
    # an upgrade of pip itself may change what pip check checks: the child runs again
    again = pip_check(env, baseline=checked, changed=["pip"])
    assert again.details["checked_by"][0] == "pip check" and again.details["problems"] == real

    # a distribution pip check sees (a folder a .pth file adds) and the metadata does not: the baseline
    # disagrees, so the later phases ask pip check itself and report what it reports
    _install(sandbox, "libb==1.0")
    extra = sandbox.root / "extra-site"
    ghost = extra / "ghost-1.0.dist-info"
    ghost.mkdir(parents=True)
    (ghost / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ghost\nVersion: 1.0\nRequires-Dist: nothing-here\n", encoding="utf-8"
    )
    (env.purelib / "extra-site.pth").write_text(f"{extra}\n", encoding="utf-8")
    env.refresh()
    told = "ghost 1.0 requires nothing-here, which is not installed."
    disagreeing = pip_check(env)
    assert disagreeing.details == {"problems": [told], "checked_by": ["pip check"]}
    later = pip_check(env, baseline=disagreeing, changed=["libb"])
    assert later.details["checked_by"] == ["pip check"] and later.details["problems"] == [told]
