"""The command line contract: --help everywhere, --version, one-line errors and exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from oxwizard import __version__
from oxwizard.cli import build_parser, command_modules, main

OXWIZARD = [sys.executable, "-m", "oxwizard"]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*OXWIZARD, *args], capture_output=True, text=True, cwd=cwd, timeout=120, check=False
    )


def assert_refused(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    """Exit 2, nothing on stdout, one line on stderr naming the problem, no traceback."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("oxwizard: error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.stderr


def subcommands() -> list[str]:
    import argparse

    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return sorted(action.choices)
    return []


def test_every_command_module_is_a_verb() -> None:
    names = subcommands()
    assert {"demo", "env", "plan", "outdated"} <= set(names)
    assert set(command_modules()) <= set(names)


@pytest.mark.parametrize("command", subcommands())
def test_help_on_every_command(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: oxwizard {command}")


def test_version_and_top_level_help() -> None:
    result = run_cli("--version")
    assert (result.returncode, result.stdout.strip()) == (0, f"oxwizard {__version__}")
    result = run_cli("--help")
    assert result.returncode == 0
    for verb in ("demo", "env", "plan", "outdated"):
        assert f"    {verb} " in result.stdout


@pytest.mark.parametrize("command", ["env", "outdated", "plan"])
def test_env_that_is_not_an_environment(command: str, tmp_path: Path) -> None:
    specs = ["oxzep7"] if command == "plan" else []
    assert_refused(
        run_cli(command, *specs, "--env", str(tmp_path)), "not a Python environment", str(tmp_path)
    )
    missing = tmp_path / "nope"
    assert_refused(run_cli(command, *specs, "--env", str(missing)), "environment not found", str(missing))


def test_default_env_is_dot_venv_of_the_working_directory(tmp_path: Path) -> None:
    import os

    result = subprocess.run(
        [*OXWIZARD, "env"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"},
        timeout=60,
        check=False,
    )
    assert_refused(result, "environment not found", str(tmp_path / ".venv"))


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["plan", "--", "--index-url=http://x"], ["'--index-url=http://x'", "looks like an option"]),
        (["plan", "oxzep7==notaversion"], ["'notaversion' is not a valid version"]),
        (["plan", "oxzep7;id"], ["character ';' is not allowed"]),
        (["plan", "--index-url=http://x"], ["required: SPEC"]),
        (["plan", "oxzep7", "--index-url", "ftp://alice:hunter2@h/simple"], ["ftp://****@h/simple"]),
        (["plan", "oxzep7", "--find-links", "/definitely/missing"], ["--find-links folder not found"]),
        (["outdated", "--target", "huge"], ["invalid choice: 'huge'"]),
        (["no-such-verb"], ["invalid choice: 'no-such-verb'"]),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], fragments: list[str], tmp_path: Path) -> None:
    # --env points at nothing: the spec and option checks come first, before any environment is read.
    result = (
        run_cli(*args, "--env", str(tmp_path / "no-env")) if args[0] != "no-such-verb" else run_cli(*args)
    )
    assert_refused(result, *fragments)
    assert "hunter2" not in result.stderr


def test_malformed_runbook_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 1,\n "id": 3', encoding="utf-8")
    assert_refused(run_cli("replay", str(bad), "--env", str(venv)), str(bad), "not valid JSON")
    bad.write_text('{"schema_version": 99}', encoding="utf-8")
    assert_refused(run_cli("replay", str(bad), "--env", str(venv)), str(bad), "schema_version")
    assert bad.read_text(encoding="utf-8") == '{"schema_version": 99}'
