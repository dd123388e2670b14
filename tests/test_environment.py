"""The environment model on real virtual environments: location, facts, distributions, installers."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from oxwizard.core import proc
from oxwizard.core.errors import EnvironmentNotFound, InstallerError
from oxwizard.env import environment as environment_module
from oxwizard.env.environment import Environment, locate_python


def tiny_wheel(folder: Path, name: str, version: str, requires: list[str] | None = None) -> Path:
    """A minimal valid pure-Python wheel (METADATA, WHEEL, RECORD with hashes)."""
    folder.mkdir(parents=True, exist_ok=True)
    dist = f"{name.replace('-', '_')}-{version}"
    files = {
        f"{name.replace('-', '_')}/__init__.py": f"__version__ = {version!r}\n",
        f"{dist}.dist-info/METADATA": "Metadata-Version: 2.1\n"
        f"Name: {name}\nVersion: {version}\nRequires-Python: >=3.8\n"
        + "".join(f"Requires-Dist: {r}\n" for r in requires or []),
        f"{dist}.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{dist}.dist-info/RECORD,,")
    files[f"{dist}.dist-info/RECORD"] = "\n".join(record) + "\n"
    out = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(out, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return out


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv made without pip (like ``uv venv``), with two tiny wheels installed from outside."""
    root = tmp_path_factory.mktemp("bare")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    house = root / "wheels"
    tiny_wheel(house, "alpha-pkg", "1.0.0", ["beta>=2"])
    tiny_wheel(house, "beta", "2.1.0")
    installed = proc.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--no-index",
            "--find-links",
            str(house),
            "alpha-pkg",
        ],
        env=proc.pip_environment(),
        timeout=120,
    )
    assert installed.ok, installed.stderr
    return venv


def test_venv_without_pip_is_usable_via_pip_from_outside(bare_venv: Path) -> None:
    env = Environment.open(bare_venv)
    assert env.installer_kind() == "pip-outside"
    assert env.pip_argv()[:4] == [sys.executable, "-m", "pip", "--python"]
    assert set(env.distributions) == {"alpha-pkg", "beta"}
    alpha = env.distributions["alpha-pkg"]
    assert (alpha.version, alpha.installer, alpha.requested) == ("1.0.0", "pip", True)
    assert alpha.requires == ["beta>=2"]
    assert alpha.requires_python == ">=3.8"
    assert not env.distributions["beta"].requested  # pulled in as a dependency
    assert env.pip_check() == []


def test_facts_describe_the_interpreter(bare_venv: Path) -> None:
    env = Environment.open(bare_venv / "bin" / "python")
    facts = env.facts()
    assert facts.interpreter == str(bare_venv / "bin" / "python")
    assert facts.version == ".".join(map(str, sys.version_info[:3]))
    assert facts.implementation == "CPython"
    assert facts.is_venv and not facts.externally_managed
    assert (
        Path(facts.purelib)
        == bare_venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
    )
    assert facts.tags[-1] == f"py{sys.version_info[0]}-none-any"
    assert facts.tags[0].startswith(f"cp{sys.version_info[0]}{sys.version_info[1]}-")
    assert facts.installer == "pip-outside"


def test_fingerprint_identifies_the_installed_set(bare_venv: Path, tmp_path: Path) -> None:
    env = Environment.open(bare_venv)
    first = env.fingerprint()
    assert Environment.open(bare_venv).fingerprint() == first  # stable across opens
    assert len(first) == 16
    tiny_wheel(tmp_path, "beta", "2.2.0")
    argv = [*env.pip_argv(), "install", "--no-index", "--find-links", str(tmp_path), "beta==2.2.0"]
    try:
        assert proc.run(argv, env=proc.pip_environment(), timeout=120).ok
        env.refresh()
        assert env.distributions["beta"].version == "2.2.0"
        assert env.fingerprint() != first
    finally:
        back = [
            *env.pip_argv(),
            "install",
            "--no-index",
            "--find-links",
            str(bare_venv.parent / "wheels"),
            "beta==2.1.0",
        ]
        assert proc.run(back, env=proc.pip_environment(), timeout=120).ok
    env.refresh()
    assert env.fingerprint() == first


def test_broken_requirement_shows_in_pip_check(bare_venv: Path, tmp_path: Path) -> None:
    venv = tmp_path / "v"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    house = bare_venv.parent / "wheels"
    env = Environment.open(venv)
    argv = [*env.pip_argv(), "install", "--no-index", "--no-deps", "--find-links", str(house), "alpha-pkg"]
    assert proc.run(argv, env=proc.pip_environment(), timeout=120).ok
    env.refresh()
    assert env.pip_check() == ["alpha-pkg 1.0.0 requires beta, which is not installed."]


def test_env_resolution_default_is_virtual_env_then_dot_venv(
    bare_venv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VIRTUAL_ENV", str(bare_venv))
    assert locate_python(None) == bare_venv / "bin" / "python"
    monkeypatch.delenv("VIRTUAL_ENV")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EnvironmentNotFound, match=r"environment not found: .*/\.venv"):
        locate_python(None)
    os.symlink(bare_venv, tmp_path / ".venv")
    assert locate_python(None) == tmp_path / ".venv" / "bin" / "python"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p, "not a Python environment (no bin/python)"),
        (lambda p: p / "missing", "environment not found"),
        (
            lambda p: (p / "notes.txt", (p / "notes.txt").write_text("x"))[0],
            "not a Python environment or interpreter",
        ),
    ],
)
def test_not_an_environment_is_a_one_line_error(tmp_path: Path, make: object, reason: str) -> None:
    target = make(tmp_path)  # type: ignore[operator]
    with pytest.raises(EnvironmentNotFound) as info:
        Environment.open(target)
    assert reason in str(info.value) and str(tmp_path) in str(info.value)
    assert info.value.exit_code == 2


def test_broken_interpreter_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "bin" / "python"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(EnvironmentNotFound, match="not a working Python environment"):
        Environment.open(tmp_path)


@pytest.mark.parametrize(
    ("make", "detail"),
    [
        (lambda exe: exe.write_text(""), ""),  # not executable
        (lambda exe: exe.mkdir(), ""),  # a folder
        (lambda exe: exe.symlink_to("/gone/python3.11"), " links to /gone/python3.11, not found"),
    ],
    ids=["not-executable", "a-folder", "dangling-link"],
)
def test_an_interpreter_that_cannot_run_is_a_one_line_error(
    tmp_path: Path, make: object, detail: str
) -> None:
    """A venv whose bin/python cannot be started (its base Python removed, a bad copy): every command
    says so in one line, exit 2, no traceback."""
    exe = tmp_path / "venv" / "bin" / "python"
    exe.parent.mkdir(parents=True)
    make(exe)  # type: ignore[operator]
    for command in (["env"], ["plan", "oxzep7==2.0.0"], ["rollback"]):
        done = subprocess.run(
            [sys.executable, "-m", "oxwizard", *command, "--env", str(exe.parent.parent)],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip() == f"oxwizard: error: not a working Python environment: {exe}{detail}"


def test_no_installer_is_a_clear_error(bare_venv: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # pip_argv is the pip that plans and checks (also for an env uv installs into): no pip inside
    # the env and none usable outside it is a clear error.
    import oxwizard.env.environment

    env = Environment.open(bare_venv)
    monkeypatch.setattr(oxwizard.env.environment, "_outside_pip_usable", lambda: False)
    with pytest.raises(InstallerError, match="no pip usable"):
        env.pip_argv()


def test_probe_is_cached_per_interpreter_and_redone_when_the_venv_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oxwizard.env.environment import clear_probe_cache, probe_cache_dir

    monkeypatch.setenv("OXWIZARD_CACHE_DIR", str(tmp_path / "cache"))
    clear_probe_cache()
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    real_version = Environment.open(venv).version
    [entry] = list(probe_cache_dir().glob("*.json"))
    # A second process reads the answer from disk instead of running the interpreter again.
    entry.write_text(entry.read_text().replace(f'"{real_version}"', '"0.0.1"'), encoding="utf-8")
    environment_module._PROBES.clear()  # as in a new process
    assert Environment.open(venv).version == "0.0.1"
    # Rebuilding the venv in place (new pyvenv.cfg) makes the cached answer stale: probed again.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", "--clear", str(venv)], check=True)
    assert Environment.open(venv).version == real_version
    clear_probe_cache()
    assert list(probe_cache_dir().glob("*.json")) == []


def test_a_base_interpreter_is_described_as_not_a_venv() -> None:
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    env = Environment.open(base)
    facts = env.facts()
    assert not facts.is_venv
    assert facts.prefix == str(Path(sys.base_prefix))
    assert facts.interpreter == str(base)


def test_distributions_read_once_each_say_what_importlib_metadata_says(tmp_path: Path) -> None:
    """Each distribution's metadata is parsed once; names, versions, Requires-Python and requirements
    are still exactly importlib.metadata's, for a dist-info with and without Requires-Dist and an
    egg-info whose requires.txt has an extra's section (which importlib turns into markers)."""
    import importlib.metadata as md

    from oxwizard.env.environment import read_distributions

    site = tmp_path / "site"
    (site / "alpha-1.0.dist-info").mkdir(parents=True)
    (site / "alpha-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: Alpha\nVersion: 1.0\nRequires-Python: >=3.8\n"
        "Requires-Dist: beta>=2\nRequires-Dist: gamma; extra == 'x'\n"
    )
    (site / "beta-2.0.dist-info").mkdir()
    (site / "beta-2.0.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: beta\nVersion: 2.0\n")
    (site / "old.egg-info").mkdir()
    (site / "old.egg-info" / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: old\nVersion: 0.5\n")
    (site / "old.egg-info" / "requires.txt").write_text("six\n\n[fast]\nujson\n")

    found = read_distributions([site])

    expected = {
        d.metadata["Name"].lower(): (d.version, d.metadata["Requires-Python"], list(d.requires or []))
        for d in md.distributions(path=[str(site)])
    }
    assert {n: (d.version, d.requires_python, d.requires) for n, d in found.items()} == expected
    assert found["old"].requires == ["six", 'ujson; extra == "fast"']
    assert found["alpha"].display_name == "Alpha" and found["beta"].requires == []
