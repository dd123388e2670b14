"""``outdated`` against a real venv and a local wheelhouse (no pip call, no network)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_environment import tiny_wheel
from test_plan import make_venv

from oxwizard.env.environment import Environment
from oxwizard.env.outdated import available_versions, find_outdated
from oxwizard.env.specs import IndexOptions


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A venv with big 1.4.2, mid 1.2.0, tiny 0.3.1 and fresh 1.0.0, and a wheelhouse with newer ones."""
    root = tmp_path_factory.mktemp("outdated")
    house = root / "wheels"
    for name, version in [
        ("big", "1.4.2"), ("big", "1.5.0"), ("big", "2.0.0"), ("big", "2.1.0rc1"),
        ("mid", "1.2.0"), ("mid", "1.3.0"),
        ("tiny", "0.3.1"), ("tiny", "0.3.2"),
        ("fresh", "1.0.0"),
    ]:  # fmt: skip
        tiny_wheel(house, name, version)
    (house / "big-9.0.0-cp27-cp27m-win32.whl").write_bytes(b"")  # wheels this Python cannot use
    (house / "big-8.0.0-py2-none-any.whl").write_bytes(b"")
    (house / "not-a-wheel.txt").write_text("x")
    venv = make_venv(root, house, "big==1.4.2", "mid==1.2.0", "tiny==0.3.1", "fresh")
    return venv, house


def rows(world: tuple[Path, Path], **kwargs: object) -> dict[str, tuple[str, str | None, str, str]]:
    venv, house = world
    index = IndexOptions.build(find_links=[str(house)], no_index=True)
    found = find_outdated(Environment.open(venv), index, **kwargs)  # type: ignore[arg-type]
    return {r.name: (r.current, r.latest_in_target, r.latest, r.impact) for r in found}


def test_every_outdated_distribution_with_its_impact(world: tuple[Path, Path]) -> None:
    assert rows(world) == {
        "big": ("1.4.2", "2.0.0", "2.0.0", "major"),
        "mid": ("1.2.0", "1.3.0", "1.3.0", "minor"),
        "tiny": ("0.3.1", "0.3.2", "0.3.2", "patch"),
    }


def test_target_limits_the_bump(world: tuple[Path, Path]) -> None:
    minor = rows(world, target="minor")
    assert minor["big"] == ("1.4.2", "1.5.0", "2.0.0", "minor")
    patch = rows(world, target="patch")
    assert patch["big"] == ("1.4.2", None, "2.0.0", "major")
    assert patch["tiny"] == ("0.3.1", "0.3.2", "0.3.2", "patch")


def test_only_and_skip(world: tuple[Path, Path]) -> None:
    assert set(rows(world, only=["BIG", "tiny"])) == {"big", "tiny"}
    assert set(rows(world, skip=["big"])) == {"mid", "tiny"}


def test_wheelhouse_scan_ignores_unusable_files(world: tuple[Path, Path]) -> None:
    venv, house = world
    index = IndexOptions.build(find_links=[str(house)], no_index=True)
    versions = available_versions(Environment.open(venv), ["big"], index)
    assert [str(v) for v in versions["big"]] == ["1.4.2", "1.5.0", "2.0.0", "2.1.0rc1"]


def test_cli_json_and_text(world: tuple[Path, Path]) -> None:
    venv, house = world
    base = [sys.executable, "-m", "oxwizard", "outdated", "--env", str(venv), "--find-links", str(house)]
    out = subprocess.run([*base, "--no-index", "--json", "--target", "minor"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {d["name"]: d["latest_in_target"] for d in data} == {
        "big": "1.5.0",
        "mid": "1.3.0",
        "tiny": "0.3.2",
    }
    assert set(data[0]) == {"name", "current", "latest_in_target", "latest", "impact"}
    text = subprocess.run([*base, "--no-index", "--only", "tiny"], capture_output=True, text=True)
    assert text.returncode == 0
    assert text.stdout.splitlines()[1].split() == ["tiny", "0.3.1", "0.3.2", "0.3.2", "patch"]


def test_the_text_table_keeps_its_columns_with_long_versions(tmp_path: Path) -> None:
    """A calendar version (certifi 2022.12.7 -> 2026.10.19.post1) is wider than the columns were:
    every column stays in line, the header's too."""
    house = tmp_path / "wheels"
    for name, version in [
        ("certi", "2022.12.7"),
        ("certi", "2026.10.19.post1"),
        ("mid", "1.2.0"),
        ("mid", "1.3.0"),
    ]:
        tiny_wheel(house, name, version)
    venv = make_venv(tmp_path, house, "certi==2022.12.7", "mid==1.2.0")
    where = ["--env", str(venv), "--find-links", str(house), "--no-index"]
    argv = [sys.executable, "-m", "oxwizard", "outdated", *where]
    lines = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.splitlines()
    assert [line.split() for line in lines] == [
        ["name", "current", "target", "latest", "impact"],
        ["certi", "2022.12.7", "2026.10.19.post1", "2026.10.19.post1", "major"],
        ["mid", "1.2.0", "1.3.0", "1.3.0", "minor"],
    ]
    # the right-aligned columns end at one place in every line, and the impact column starts at one
    ends = [[m.end() for m in re.finditer(r"\S+", line)] for line in lines]
    assert ends[0][1:4] == ends[1][1:4] == ends[2][1:4]
    assert len({line.rindex(" ") for line in lines}) == 1
