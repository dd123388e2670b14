"""The wheel builder: its wheels install with real pip and say what they were built to say."""

from __future__ import annotations

import base64
import csv
import hashlib
import importlib.metadata as md
import io
import os
import zipfile
from pathlib import Path

import pytest
from packaging.utils import parse_wheel_filename

from oxwizard.core import proc
from oxwizard.core.errors import UsageError
from oxwizard.demo.sandbox import DemoSandbox, base_interpreter
from oxwizard.demo.wheels import build_wheel, record_hash

FILES: dict[str, str | bytes] = {
    "my_pkg/__init__.py": '__version__ = "0.1"\n',
    "my_pkg/cli.py": "def main():\n    print('my-pkg says hi')\n",
    "my_pkg/data.bin": bytes(range(256)),
}


def _build(folder: Path) -> Path:
    return build_wheel(
        folder, "My.Pkg", "0.1", FILES,
        requires=["oxzep7>=1.4", 'humbleconf; python_version >= "3"'], requires_python=">=3.8",
        console_scripts={"my-pkg": "my_pkg.cli:main"}, summary="A test package",
    )  # fmt: skip


def _venv_with(wheel: Path, folder: Path, pip_python: Path) -> Path:
    """A fresh venv of the base Python with ``wheel`` installed by real pip; returns its python."""
    made = proc.run([base_interpreter(), "-m", "venv", "--without-pip", str(folder)], timeout=300)
    assert made.ok, made.stderr
    python = folder / "bin" / "python"
    argv = [str(pip_python), "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index"]
    done = proc.run([*argv, str(wheel)], env=proc.pip_environment(), timeout=300)
    assert done.ok, done.stderr
    return python


def test_file_name_is_escaped_and_tagged_as_packaging_reads_it(tmp_path: Path) -> None:
    wheel = _build(tmp_path)
    assert wheel.name == "my_pkg-0.1-py3-none-any.whl"
    name, version, build, tags = parse_wheel_filename(wheel.name)
    assert (name, str(version), build) == ("my-pkg", "0.1", ())
    assert {str(tag) for tag in tags} == {"py3-none-any"}
    normalised = build_wheel(tmp_path, "Ox_Zep7", "1.04.0", {"oxzep7/__init__.py": ""})
    assert normalised.name == "ox_zep7-1.4.0-py3-none-any.whl"


def test_same_input_gives_the_same_bytes(tmp_path: Path) -> None:
    first = _build(tmp_path / "a").read_bytes()
    second = _build(tmp_path / "b").read_bytes()
    assert first == second


def test_record_lists_every_file_with_its_hash_and_size(tmp_path: Path) -> None:
    with zipfile.ZipFile(_build(tmp_path)) as archive:
        names = set(archive.namelist())
        rows = list(csv.reader(io.StringIO(archive.read("my_pkg-0.1.dist-info/RECORD").decode())))
        assert {row[0] for row in rows} == names
        for path, digest, size in rows:
            if path.endswith("/RECORD"):
                assert (digest, size) == ("", "")
                continue
            data = archive.read(path)
            assert (digest, int(size)) == (record_hash(data), len(data)), path
        wheel_meta = archive.read("my_pkg-0.1.dist-info/WHEEL").decode()
        assert "Root-Is-Purelib: true" in wheel_meta and "Tag: py3-none-any" in wheel_meta
        assert archive.read("my_pkg-0.1.dist-info/top_level.txt").decode() == "my_pkg\n"


def test_installs_with_real_pip_and_metadata_reads_back(tmp_path: Path, demo_template: DemoSandbox) -> None:
    venv = tmp_path / "venv"
    _venv_with(_build(tmp_path / "wh"), venv, pip_python=demo_template.python)

    dist = md.Distribution.at(next(venv.glob("lib/python3*/site-packages/my_pkg-0.1.dist-info")))
    assert dist.metadata["Name"] == "My.Pkg" and dist.version == "0.1"
    assert dist.metadata["Metadata-Version"] == "2.1"
    assert dist.metadata["Summary"] == "A test package"
    assert dist.metadata["Requires-Python"] == ">=3.8"
    assert dist.requires == ["oxzep7>=1.4", 'humbleconf; python_version >= "3"']
    [script] = dist.entry_points.select(group="console_scripts")
    assert (script.name, script.value) == ("my-pkg", "my_pkg.cli:main")
    assert Path(str(dist.locate_file("my_pkg/data.bin"))).read_bytes() == bytes(range(256))

    checked = 0
    for entry in dist.files or []:
        if entry.hash is None:  # RECORD itself and INSTALLER (pip writes them without a hash)
            continue
        data = Path(str(entry.locate())).read_bytes()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert (entry.hash.mode, digest, entry.size) == ("sha256", entry.hash.value, len(data)), entry
        checked += 1
    assert checked >= len(FILES) + 4  # package files, METADATA, WHEEL, top_level.txt, entry points, script

    ran = proc.run([str(venv / "bin" / "my-pkg")], timeout=60)
    assert ran.ok and ran.stdout == "my-pkg says hi\n", ran.stderr


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "not a name!"}, "not a valid distribution name"),
        ({"version": "one"}, "not a valid version"),
        ({"files": {"../evil.py": ""}}, "not a relative file path"),
        ({"files": {"/abs.py": ""}}, "not a relative file path"),
        ({"files": {"x-1.0.dist-info/METADATA": ""}}, "written by the wheel builder"),
        ({"requires": ["oxzep7 >>> 1"]}, "not a valid requirement"),
        ({"requires_python": "three"}, "not a valid Requires-Python"),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(
    tmp_path: Path, kwargs: dict[str, object], message: str
) -> None:
    args: dict[str, object] = {"name": "x", "version": "1.0", "files": {"x/__init__.py": ""}, **kwargs}
    with pytest.raises(UsageError, match=message):
        build_wheel(tmp_path / "out", **args)  # type: ignore[arg-type]
    assert not os.path.exists(tmp_path / "out")
