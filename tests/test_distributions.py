"""The reading of installed distributions kept between runs (oxwizard.env.distributions): used again
while a folder is unchanged, read again as soon as pip changes it, never wrong after a bad cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_environment import tiny_wheel

from oxwizard.core import proc
from oxwizard.env.distributions import read_distributions
from oxwizard.env.environment import Environment
from oxwizard.env.plan import predict_conflicts, requirers, unparsable_requirements


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("OXWIZARD_CACHE_DIR", str(folder))
    return folder / "reading"


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """A venv (no pip of its own) with alpha-pkg 1.0.0 (needs beta>=2) and beta 2.1.0, by real pip."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    house = tmp_path / "wheels"
    tiny_wheel(house, "alpha-pkg", "1.0.0", ["beta>=2", "gamma; extra == 'x'", "delta; python_version < '3'"])
    tiny_wheel(house, "beta", "2.1.0")
    _pip(venv, "install", "--no-index", "--find-links", str(house), "alpha-pkg")
    return venv


def _pip(venv: Path, *args: str) -> None:
    done = proc.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), *args],
        env=proc.pip_environment(),
        timeout=120,
    )
    assert done.ok, done.stderr


def _site(venv: Path) -> Path:
    return next((venv / "lib").glob("python3*/site-packages"))


def test_a_second_reading_comes_from_the_cache_until_a_file_changes(cache: Path, venv: Path) -> None:
    first = Environment.open(venv).reading
    (kept,) = cache.iterdir()  # one reading kept, for this environment, private to the user
    assert kept.suffix == ".json" and kept.stat().st_mode & 0o777 == 0o600
    assert cache.stat().st_mode & 0o777 == 0o700
    again = Environment.open(venv)
    assert again.reading == first
    assert again.distributions == read_distributions(again.site_paths)  # exactly a fresh reading
    assert again.distributions["beta"].version == "2.1.0"

    # beta's METADATA rewritten in place, same size and mtime: only the cache can still say 2.1.0
    meta = _site(venv) / "beta-2.1.0.dist-info" / "METADATA"
    st = meta.stat()
    meta.write_text(meta.read_text().replace("Version: 2.1.0", "Version: 2.9.0"))
    os.utime(meta, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert Environment.open(venv).distributions["beta"].version == "2.1.0"
    os.utime(meta)  # a new mtime: read again
    assert Environment.open(venv).distributions["beta"].version == "2.9.0"


def test_what_pip_installs_reinstalls_and_removes_is_seen(cache: Path, venv: Path, tmp_path: Path) -> None:
    env = Environment.open(venv)
    assert predict_conflicts(env, []) == []
    newer = tmp_path / "newer"
    tiny_wheel(newer, "beta", "2.2.0", ["epsilon>=1"])
    _pip(venv, "install", "--no-index", "--no-deps", "--find-links", str(newer), "beta==2.2.0")
    env.refresh()
    assert env.distributions["beta"].version == "2.2.0"
    assert predict_conflicts(env, []) == ["beta 2.2.0 requires epsilon, which is not installed."]

    # the same name and version again, from another wheel: the same folder name, new files
    same = tmp_path / "same"
    tiny_wheel(same, "beta", "2.2.0")
    _pip(venv, "install", "--no-index", "--find-links", str(same), "--force-reinstall", "beta==2.2.0")
    env = Environment.open(venv)
    assert env.distributions["beta"].requires == []
    assert predict_conflicts(env, []) == []

    _pip(venv, "uninstall", "--yes", "alpha-pkg")
    env.refresh()
    assert set(env.distributions) == {"beta"}
    assert env.reading == Environment.open(venv).reading


def test_a_cache_file_that_cannot_be_read_is_ignored_and_written_anew(cache: Path, venv: Path) -> None:
    expected = Environment.open(venv).reading
    (kept,) = cache.iterdir()
    for garbage in ("{not json", json.dumps({"format": 1, "entries": {"x": {"stamp": 1}}}), json.dumps([1])):
        kept.write_text(garbage)
        assert Environment.open(venv).reading == expected
    assert json.loads(kept.read_text())["format"] == 1

    # an entry whose stamp still holds but whose reading is malformed is read again from the folder
    data = json.loads(kept.read_text())
    for entry in data["entries"].values():
        entry["dist"] = {"name": 3}
    kept.write_text(json.dumps(data))
    assert Environment.open(venv).reading == expected


def test_markers_extras_and_bad_requirements_read_alike_from_the_cache(cache: Path, venv: Path) -> None:
    folder = _site(venv) / "odd-1.0.dist-info"
    folder.mkdir()
    (folder / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: odd\nVersion: 1.0\nRequires-Dist: beta<2\n"
        "Requires-Dist: not a requirement !!\nRequires-Dist: zeta; sys_platform == 'nowhere'\n"
    )
    for _ in range(2):  # read from the folders, then from the cache
        env = Environment.open(venv)
        assert unparsable_requirements(env) == [("odd", "not a requirement !!")]
        # alpha-pkg's gamma (an extra) and delta (Python 2 only) apply nowhere here; odd's zeta neither
        assert predict_conflicts(env, []) == ["odd 1.0 has requirement beta<2, but you have beta 2.1.0."]
        # but any named requirement is a use: alpha-pkg names gamma, odd names zeta
        assert requirers(env, {"gamma", "zeta"}) == ["alpha-pkg", "odd"]


def test_only_the_readings_used_last_are_kept(cache: Path, venv: Path) -> None:
    cache.mkdir(parents=True)
    for i in range(40):
        old = cache / f"{i:032x}.json"
        old.write_text("{}")
        os.utime(old, (1_000_000 + i, 1_000_000 + i))
    assert Environment.open(venv).distributions  # a reading new to this cache: written, the oldest go
    left = sorted(p.name for p in cache.iterdir())
    assert len(left) == 32
    assert f"{39:032x}.json" in left and f"{0:032x}.json" not in left  # the oldest went first


def test_a_cache_folder_that_cannot_be_written_costs_only_time(
    venv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    monkeypatch.setenv("OXWIZARD_CACHE_DIR", str(blocked))
    env = Environment.open(venv)
    assert env.distributions == read_distributions(env.site_paths)
    assert predict_conflicts(env, []) == []
