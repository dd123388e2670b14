"""Issue 11, "the user's own configuration": sources come from where pip would take them, and an
environment made by uv is driven with uv.

- A pip configuration file (``PIP_CONFIG_FILE``, written here) with ``no-index`` and ``find-links``:
  ``oxwizard upgrade`` without any source option uses it, shows and records it with where it came
  from; an ``extra-index-url`` with a password in it is never printed nor recorded. ``--isolated``
  ignores the file (the version is not found: one clear line, nothing changed).
- pip's own precedence: ``PIP_*`` over files, the site file inside the venv, flags over (or added
  to) the configuration, as ``pip install`` in that environment would.
- A venv made by ``uv venv`` + ``uv pip install`` is upgraded with uv: INSTALLER stays ``uv``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import copy_demo

from oxwizard.core import proc
from oxwizard.demo.sandbox import INSTALLED, DemoSandbox, base_interpreter
from oxwizard.env.environment import Environment, find_uv
from oxwizard.env.pipconfig import effective_index
from oxwizard.env.specs import IndexOptions
from oxwizard.runbook.model import load_runbook

SECRET = "s3cret-token-9f2c"
PRIVATE = f"https://ci-user:{SECRET}@private.example.invalid/simple"


def _child_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The test's environment (hermetic: no PIP_*) with the given pip settings, and no
    machine-wide XDG pip configuration (PIP_CONFIG_FILE pointing at a file still lets pip read the
    global files)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    (tmp / "no-xdg").mkdir(exist_ok=True)
    env["XDG_CONFIG_DIRS"] = str(tmp / "no-xdg")
    env.update(extra)
    return env


def _oxwizard(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oxwizard", *args], capture_output=True, text=True, timeout=900,
        check=False, stdin=subprocess.DEVNULL, env=env,
    )  # fmt: skip


@dataclass
class Configured:
    sandbox: DemoSandbox
    conf: Path
    isolated: subprocess.CompletedProcess[str]
    isolated_fingerprint: tuple[str, str]
    upgrade: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def configured(tmp_path_factory: pytest.TempPathFactory, demo_seed: DemoSandbox) -> Configured:
    """One sandbox whose only package source is a pip configuration file: first an --isolated
    upgrade (must find nothing and change nothing), then a plain upgrade (must use the file)."""
    root = tmp_path_factory.mktemp("pipconf")
    sandbox = copy_demo(demo_seed, root / "demo")
    conf = root / "pip.conf"
    conf.write_text(
        f"[global]\nno-index = true\nfind-links = {sandbox.wheelhouse}\nextra-index-url = {PRIVATE}\n",
        encoding="utf-8",
    )
    env = _child_env(root, PIP_CONFIG_FILE=str(conf))
    where = ["--env", str(sandbox.venv), "--project", str(sandbox.project)]
    before = Environment.open(sandbox.venv).fingerprint()
    isolated = _oxwizard("upgrade", "oxzep7==1.5.0", "--yes", "--isolated", "--no-index", *where, env=env)
    after_isolated = Environment.open(sandbox.venv).fingerprint()
    upgrade = _oxwizard("upgrade", "oxzep7==1.5.0", "--yes", *where, env=env)
    return Configured(sandbox, conf, isolated, (before, after_isolated), upgrade)


def test_upgrade_takes_its_sources_from_the_pip_configuration_file(configured: Configured) -> None:
    done, sandbox = configured.upgrade, configured.sandbox
    assert done.returncode == 0, done.stdout + done.stderr
    assert Environment.open(sandbox.venv).distributions["oxzep7"].version == "1.5.0"
    # shown, with where it came from
    assert f"find-links {sandbox.wheelhouse} (from {configured.conf} [global])" in done.stdout
    assert f"no-index true (from {configured.conf} [global])" in done.stdout
    # recorded: the source used, its origin, and the plan's artefact from that wheelhouse
    runbook = load_runbook(sorted((sandbox.project / ".oxwizard" / "runbooks").glob("*.json"))[-1])
    assert runbook.index.find_links == [str(sandbox.wheelhouse)]
    assert runbook.index.no_index and not runbook.index.isolated
    origins = {(o.option, o.origin) for o in runbook.index.origins}
    assert ("find-links", f"{configured.conf} [global]") in origins
    assert runbook.plan is not None
    assert runbook.plan.change_for("oxzep7").index == f"find-links {sandbox.wheelhouse}"  # type: ignore[union-attr]


def test_a_password_in_the_configuration_is_never_printed_nor_recorded(configured: Configured) -> None:
    done, repo = configured.upgrade, configured.sandbox.project / ".oxwizard"
    assert done.returncode == 0, done.stdout + done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert "extra-index-url https://****@private.example.invalid/simple" in done.stdout
    runbook = load_runbook(sorted((repo / "runbooks").glob("*.json"))[-1])
    assert runbook.index.extra_index_urls == ["https://****@private.example.invalid/simple"]
    for path in repo.rglob("*"):
        if path.is_file() and ".git" not in path.relative_to(repo).parts:
            assert SECRET not in path.read_text("utf-8", errors="replace"), path
    history = subprocess.run(
        ["git", "-C", str(repo), "log", "-p", "--all"], capture_output=True, text=True, check=True
    )
    assert "private.example.invalid" in history.stdout and SECRET not in history.stdout


def test_isolated_ignores_the_configuration_file(configured: Configured) -> None:
    done = configured.isolated
    assert done.returncode == 2, done.stdout + done.stderr
    errors = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert len(errors) == 1 and errors[0].startswith("oxwizard: error: cannot resolve:"), done.stderr
    assert "oxzep7==1.5.0" in errors[0]
    assert "--isolated: pip's configuration files and PIP_* not read" in done.stdout
    assert str(configured.sandbox.wheelhouse) not in done.stdout + done.stderr
    before, after = configured.isolated_fingerprint
    assert before == after  # nothing changed


def test_pip_precedence_variables_site_file_and_flags(
    tmp_path: Path, wheelhouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As pip: PIP_* beats the files, the venv's own pip.conf is read, --index-url on the command
    line replaces the configured one and --find-links adds to the configured ones."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    other = tmp_path / "other-wheels"
    other.mkdir()
    (venv / "pip.conf").write_text(
        f"[global]\nindex-url = https://mirror.example.invalid/simple\nfind-links = {other}\n"
        "[install]\npre = true\n",
        encoding="utf-8",
    )
    user_conf = tmp_path / "user.conf"
    user_conf.write_text("[global]\nextra-index-url = https://extra.example.invalid/simple\n", "utf-8")
    for key, value in _child_env(tmp_path, PIP_CONFIG_FILE=str(user_conf), PIP_PRE="0").items():
        monkeypatch.setenv(key, value)
    env = Environment.open(venv)
    assert not env.has_pip  # read with oxwizard's pip, as `pip --python` would: the site file counts

    found = effective_index(env, IndexOptions())
    assert found.index_url == "https://mirror.example.invalid/simple"
    assert found.extra_index_urls == ["https://extra.example.invalid/simple"]
    assert found.find_links == [str(other)]
    assert not found.pre  # PIP_PRE=0 beats [install] pre = true
    where = {o.option: o.origin for o in found.origins}
    assert where["index-url"] == f"{venv / 'pip.conf'} [global]"
    assert where["extra-index-url"] == f"{user_conf} [global]"
    assert "pre" not in where

    flags = IndexOptions.build(index_url="https://flag.example.invalid/simple", find_links=[str(wheelhouse)])
    given = effective_index(env, flags)
    assert given.index_url == "https://flag.example.invalid/simple"
    assert given.find_links == [str(other), str(wheelhouse)]
    where = {(o.option, o.value): o.origin for o in given.origins}
    assert where[("index-url", "https://flag.example.invalid/simple")] == "--index-url"
    assert where[("find-links", str(wheelhouse))] == "--find-links"
    assert where[("find-links", str(other))] == f"{venv / 'pip.conf'} [global]"

    isolated = effective_index(env, flags, isolated=True)
    assert isolated.find_links == [str(wheelhouse)] and isolated.isolated
    assert isolated.extra_index_urls == []


# -- an environment made by uv ------------------------------------------------------------------------
UV = find_uv()


@pytest.mark.skipif(UV is None, reason="uv is not installed (it is a dev dependency: pip install -e .[dev])")
def test_uv_made_env_is_upgraded_with_uv_and_installer_stays_uv(
    tmp_path_factory: pytest.TempPathFactory, demo_seed: DemoSandbox
) -> None:
    assert UV is not None
    root = tmp_path_factory.mktemp("uvenv")
    sandbox = copy_demo(demo_seed, root / "demo")
    shutil.rmtree(sandbox.venv)
    uv_env = {**proc.uv_environment(), "UV_CACHE_DIR": str(root / "uv-cache")}
    made = proc.run([UV, "venv", "--python", base_interpreter(), str(sandbox.venv)], env=uv_env, timeout=120)
    assert made.ok, made.stderr
    installed = proc.run(
        [UV, "pip", "install", "--python", str(sandbox.python), "--no-index", "--find-links",
         str(sandbox.wheelhouse), *INSTALLED],
        env=uv_env, timeout=300,
    )  # fmt: skip
    assert installed.ok, installed.stderr
    env = Environment.open(sandbox.venv)
    assert not env.has_pip and {d.installer for d in env.distributions.values()} == {"uv"}

    child = _child_env(root, PIP_CONFIG_FILE=os.devnull, UV_CACHE_DIR=str(root / "uv-cache"))
    child["PATH"] = os.pathsep.join([str(Path(UV).parent), child.get("PATH", "")])
    done = _oxwizard(
        "upgrade", "oxzep7==1.5.0", "--yes", "--env", str(sandbox.venv), "--project", str(sandbox.project),
        "--find-links", str(sandbox.wheelhouse), "--no-index", env=child,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "installer: uv (the environment was made by uv)" in done.stdout
    env = Environment.open(sandbox.venv)
    assert env.distributions["oxzep7"].version == "1.5.0"
    assert {d.name: d.installer for d in env.distributions.values()} == dict.fromkeys(env.distributions, "uv")
    assert "pip" not in env.distributions  # nothing pulled pip in
    runbook = load_runbook(sorted((sandbox.project / ".oxwizard" / "runbooks").glob("*.json"))[-1])
    assert runbook.environment.installer == "uv"
    assert runbook.plan is not None and runbook.plan.installer == "uv"


# -- replay compares the recorded sources with the effective ones here ---------------------------------
def test_replay_compares_recorded_and_configured_sources(
    recorded_15: tuple[DemoSandbox, Path], recorded_20: tuple[DemoSandbox, Path], tmp_path: Path
) -> None:
    import json

    from oxwizard.runbook.model import document_digest

    _, runbook = recorded_15
    target, _ = recorded_20  # at oxzep7 1.4.2: the 1.5.0 runbook applies to it (dry runs change nothing)
    recorded_links = load_runbook(runbook).index.find_links
    where = ["--env", str(target.venv), "--project", str(target.project), "--trust", "--dry-run"]
    elsewhere = tmp_path / "mirror-wheels"
    shutil.copytree(recorded_links[0], elsewhere)

    # pip's configuration here names another wheelhouse: said, and the recorded sources are used
    conf = tmp_path / "other.conf"
    conf.write_text(f"[global]\nno-index = true\nfind-links = {elsewhere}\n", encoding="utf-8")
    done = _oxwizard("replay", str(runbook), *where, env=_child_env(tmp_path, PIP_CONFIG_FILE=str(conf)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (
        f"note: package sources differ from the recorded ones: recorded no index, wheelhouse "
        f"{recorded_links[0]}; pip's configuration here: no index, wheelhouse {elsewhere}: the recorded "
        "ones are used" in done.stdout
    )

    # recorded with a password (masked in the runbook): pip's configuration here supplies it
    masked = tmp_path / "masked.json"
    data = json.loads(runbook.read_text(encoding="utf-8"))
    data["index"]["extra_index_urls"] = ["https://****@private.example.invalid/simple"]
    data["runbook_digest"] = document_digest(data)  # as recorded so: a hand edit would be refused
    masked.write_text(json.dumps(data, indent=2), encoding="utf-8")
    same = tmp_path / "same.conf"
    same.write_text(
        f"[global]\nno-index = true\nfind-links = {recorded_links[0]}\nextra-index-url = {PRIVATE}\n", "utf-8"
    )
    done = _oxwizard("replay", str(masked), *where, env=_child_env(tmp_path, PIP_CONFIG_FILE=str(same)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "note: package sources differ" not in done.stdout and SECRET not in done.stdout + done.stderr
    # ... and when nothing here supplies it, the replay is refused before any change (exit 2)
    done = _oxwizard("replay", str(masked), *where, env=_child_env(tmp_path, PIP_CONFIG_FILE=str(conf)))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "recorded ones hold redacted credentials" in done.stderr
