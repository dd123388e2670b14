"""Plans from the real resolver on real venvs: every change, its impact, and nothing changed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_environment import tiny_wheel

from oxwizard.core import proc
from oxwizard.core.errors import ResolutionError
from oxwizard.env.environment import Environment
from oxwizard.env.pipconfig import effective_index
from oxwizard.env.plan import compute_plan, impact_of
from oxwizard.env.specs import IndexOptions, parse_specs


@pytest.fixture(scope="module")
def plan_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """alpha 1.0.0 / 1.1.0 / 2.0.0 (2.0.0 needs the new gamma), and dep, which needs alpha<2."""
    house = tmp_path_factory.mktemp("plan-wheels")
    tiny_wheel(house, "alpha", "1.0.0")
    tiny_wheel(house, "alpha", "1.1.0")
    tiny_wheel(house, "alpha", "2.0.0", ["gamma>=2"])
    tiny_wheel(house, "gamma", "2.0.0")
    tiny_wheel(house, "dep", "1.0.0", ["alpha<2"])
    tiny_wheel(house, "solo", "1.0.0")
    return house


def make_venv(root: Path, house: Path, *reqs: str) -> Path:
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    argv = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-index"]
    result = proc.run([*argv, "--find-links", str(house), *reqs], env=proc.pip_environment(), timeout=120)
    assert result.ok, result.stderr
    return venv


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory, plan_wheels: Path) -> Path:
    return make_venv(tmp_path_factory.mktemp("plan-env"), plan_wheels, "alpha==1.0.0", "dep")


def offline(house: Path) -> IndexOptions:
    return IndexOptions.build(find_links=[str(house)], no_index=True)


def test_major_upgrade_with_a_new_dependency_changes_nothing(venv: Path, plan_wheels: Path) -> None:
    env = Environment.open(venv)
    before = env.fingerprint()
    plan = compute_plan(env, parse_specs(["alpha==2.0.0"]), offline(plan_wheels))
    assert [(c.name, c.from_version, c.to_version, c.kind, c.impact, c.requested) for c in plan.changes] == [
        ("alpha", "1.0.0", "2.0.0", "upgrade", "major", True),
        ("gamma", None, "2.0.0", "new", "new", False),
    ]
    assert plan.pinned == ["alpha==2.0.0", "gamma==2.0.0"]
    assert plan.summary() == "alpha 1.0.0 -> 2.0.0 (major), 2 changes"
    assert plan.env_fingerprint == before
    assert plan.pip_check_before == []
    assert plan.pip_check_after == ["dep 1.0.0 has requirement alpha<2, but you have alpha 2.0.0."]
    alpha = plan.changes[0]
    wheel = plan_wheels / "alpha-2.0.0-py3-none-any.whl"
    assert alpha.sha256 == hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert alpha.index == f"find-links {plan_wheels.resolve()}"
    assert alpha.requires == ["gamma>=2"]
    assert alpha.requires_python == ">=3.8" and alpha.requires_python_ok
    assert plan.problems() == []
    # Nothing was installed: the environment reads exactly as before.
    assert Environment.open(venv).fingerprint() == before
    assert Environment.open(venv).distributions["alpha"].version == "1.0.0"


def test_predicted_pip_check_equals_the_real_one_after_installing_the_pins(
    tmp_path: Path, plan_wheels: Path
) -> None:
    venv = make_venv(tmp_path, plan_wheels, "alpha==1.0.0", "dep")
    env = Environment.open(venv)
    plan = compute_plan(env, parse_specs(["alpha==2.0.0"]), offline(plan_wheels))
    argv = [*env.pip_argv(), "install", "--no-deps", *offline(plan_wheels).pip_args(), *plan.pinned]
    assert proc.run(argv, env=proc.pip_environment(), timeout=120).ok
    env.refresh()
    assert {f"{d.name}=={d.version}" for d in env.distributions.values()} >= set(plan.pinned)
    assert env.pip_check() == plan.pip_check_after != []
    # on the environment that now fails pip check, the plan's "pip check now" (computed from the
    # metadata, no pip check child) says what pip check says
    again = compute_plan(env, parse_specs(["solo"]), offline(plan_wheels))
    assert again.pip_check_before == env.pip_check() == again.pip_check_after


def test_minor_range_and_already_satisfied(
    venv: Path, plan_wheels: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = Environment.open(venv)
    children: list[list[str]] = []
    run = proc.run

    def counting(argv: list[str], **kwargs: Any) -> proc.Completed:
        children.append(argv)
        return run(argv, **kwargs)

    monkeypatch.setattr(proc, "run", counting)
    plan = compute_plan(env, parse_specs(["alpha>=1.0,<2"]), offline(plan_wheels))
    assert len(children) == 1 and "--dry-run" in children[0]  # pip's dry run is the only child
    assert [(c.name, c.arrow, c.impact) for c in plan.changes] == [("alpha", "1.0.0 -> 1.1.0", "minor")]
    assert plan.pip_check_after == []
    empty = compute_plan(env, parse_specs(["alpha==1.0.0"]), offline(plan_wheels))
    assert empty.is_empty
    assert empty.summary() == "alpha==1.0.0: nothing to change"


def test_version_that_does_not_exist_names_requirement_and_available_versions(
    venv: Path, plan_wheels: Path
) -> None:
    with pytest.raises(ResolutionError) as info:
        compute_plan(Environment.open(venv), parse_specs(["alpha==9.9"]), offline(plan_wheels))
    message = str(info.value)
    assert "alpha==9.9" in message
    assert "(from versions: 1.0.0, 1.1.0, 2.0.0)" in message
    assert "\n" not in message and info.value.exit_code == 2


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_an_index_that_refuses_the_password_is_named_not_taken_for_a_missing_package(
    venv: Path, plan_wheels: Path, installer: str
) -> None:
    """pip, asked for no input, says only "(from versions: none)" when the index answers 401: the
    error then names the source that refused (its password masked), and only then."""
    from simple_index import SimpleIndex, serve

    from oxwizard.env.environment import find_uv

    if installer == "uv" and find_uv() is None:
        pytest.skip("uv is not installed (a dev dependency)")
    env = Environment.open(venv)
    if installer == "uv":
        env.use_installer("uv", "--installer uv")
    with serve(SimpleIndex(plan_wheels, auth=("user", "secret"))) as index:
        wrong = index.url.replace("http://", "http://user:WRONG@")
        with pytest.raises(ResolutionError) as info:
            compute_plan(env, parse_specs(["alpha==2.0.0"]), IndexOptions.build(index_url=wrong))
        message = str(info.value)
        where = index.url.replace("http://", "http://****@")
        assert message.endswith(f" ({where}: HTTP 401)"), message
        assert "WRONG" not in message and "\n" not in message

        right = index.url.replace("http://", "http://user:secret@")
        with pytest.raises(ResolutionError) as info:
            compute_plan(env, parse_specs(["alpha==9.9"]), IndexOptions.build(index_url=right))
        assert "HTTP" not in str(info.value)


def test_conflict_names_the_conflicting_requirements(venv: Path, plan_wheels: Path) -> None:
    with pytest.raises(ResolutionError) as info:
        compute_plan(Environment.open(venv), parse_specs(["alpha==2.0.0", "dep"]), offline(plan_wheels))
    message = str(info.value)
    assert "The user requested alpha==2.0.0" in message
    assert "dep 1.0.0 depends on alpha<2" in message


@pytest.mark.parametrize(
    ("old", "new", "impact"),
    [
        ("1.4.2", "2.0.0", "major"),
        ("1.4.2", "1.5.0", "minor"),
        ("0.3.1", "0.3.2", "patch"),
        ("1.4.2", "2.0.0rc1", "pre-release"),
        ("1.4.2", "1.4.3.dev1", "pre-release"),
        ("2.0.0", "1.5.0", "downgrade"),
        ("1.0", "1.0.0", "none"),
        (None, "2.0.0", "new"),
        ("1.0.0", None, "removed"),
    ],
)
def test_impact_classes(old: str | None, new: str | None, impact: str) -> None:
    assert impact_of(old, new) == impact


def test_demo_predicted_pip_check_equals_real_after_install(demo: Any) -> None:
    """In a fresh demo sandbox: install exactly the plan's pins; pip check is what the plan said."""
    sandbox = demo()
    env = Environment.open(sandbox.venv)
    index = offline(sandbox.wheelhouse)
    plan = compute_plan(env, parse_specs(["oxzep7==2.0.0"]), index)
    assert plan.pinned == ["oxzep7==2.0.0", "oxzep7-core==2.0.0"]
    argv = [*env.pip_argv(), "install", "--no-deps", *index.pip_args(), *plan.pinned]
    assert proc.run(argv, env=proc.pip_environment(), timeout=300).ok
    env.refresh()
    assert env.distributions["oxzep7"].version == "2.0.0"
    assert env.fingerprint() != plan.env_fingerprint
    assert env.pip_check() == plan.pip_check_after


def test_pip_configuration_is_read_again_only_when_a_file_or_variable_changes(
    venv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plan's sources come from pip's own parser in a child interpreter: that child starts once,
    then again only after a configuration file pip reads is edited, appears, or a PIP_* changes."""
    from oxwizard.env import pipconfig

    probes: list[list[str]] = []
    run = proc.run

    def counting(argv: list[str], **kwargs: Any) -> proc.Completed:
        if pipconfig._PROBE in argv:
            probes.append(argv)
        return run(argv, **kwargs)

    monkeypatch.setattr(proc, "run", counting)
    monkeypatch.setenv("OXWIZARD_CACHE_DIR", str(tmp_path / "cache"))
    user = tmp_path / "pip.conf"
    user.write_text("[global]\nextra-index-url = https://a.example.invalid/simple\n", encoding="utf-8")
    xdg = tmp_path / "xdg"  # where pip looks for the global file: empty for now
    environ = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PIP_CONFIG_FILE": str(user)}
    environ["XDG_CONFIG_DIRS"] = str(xdg)
    env = Environment.open(venv)

    def sources(**more: str) -> list[str | None]:
        found = effective_index(env, IndexOptions(), environ={**environ, **more})
        return [found.index_url, *found.extra_index_urls]

    a, b = "https://a.example.invalid/simple", "https://b.example.invalid/simple"
    assert sources() == [None, a] and len(probes) == 1
    assert sources() == [None, a] and len(probes) == 1
    pipconfig._CACHE.clear()  # a new process: the answer comes from the cache on disk
    assert sources() == [None, a] and len(probes) == 1

    user.write_text(f"[global]\nextra-index-url = {b}\n", encoding="utf-8")
    assert sources() == [None, b] and len(probes) == 2
    (xdg / "pip").mkdir(parents=True)
    (xdg / "pip" / "pip.conf").write_text("[global]\nindex-url = https://c.example.invalid/s\n", "utf-8")
    assert sources() == ["https://c.example.invalid/s", b] and len(probes) == 3
    d = "https://d.example.invalid/simple"
    assert sources(PIP_EXTRA_INDEX_URL=d) == ["https://c.example.invalid/s", d] and len(probes) == 4
    assert sources() == ["https://c.example.invalid/s", b] and len(probes) == 4

    # an answer holding credentials is never written to the cache on disk
    user.write_text("[global]\nextra-index-url = https://me:secret@e.example.invalid/simple\n", "utf-8")
    assert sources()[1] == "https://me:secret@e.example.invalid/simple" and len(probes) == 5
    assert not any("secret" in p.read_text() for p in (tmp_path / "cache").rglob("*.json"))


def test_a_pip_too_old_to_plan_is_said_so_with_the_way_out(venv: Path) -> None:
    """pip 20.0.2 (seen in a real environment) answers the dry run with its usage and 'no such
    option: --dry-run': not a package that cannot be resolved, an installer too old (exit 2)."""
    from oxwizard.core.errors import InstallerError
    from oxwizard.env.plan import _refuse_old_pip

    env = Environment.open(venv)
    usage = "Usage:\n  /x/bin/python -m pip install [options] <requirement specifier> ...\n"
    pip20 = f"\n{usage}\nno such option: --dry-run\n"
    with pytest.raises(InstallerError) as info:
        _refuse_old_pip(env, pip20)
    assert str(info.value) == (
        f"the pip of {env.root} is too old to plan an upgrade (a dry run with a report needs pip 22.2 or "
        f"newer): upgrade it first ({env.python} -m pip install --upgrade pip), or plan with uv "
        "(oxwizard plan/upgrade --installer uv)"
    )
    assert info.value.exit_code == 2
    _refuse_old_pip(env, "ERROR: No matching distribution found for alpha==9.9\n")  # a real one: left
