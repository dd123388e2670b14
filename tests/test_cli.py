"""The command line contract: --help everywhere, --version, one-line errors and exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

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


def test_the_verb_table_shows_what_the_verbs_say() -> None:
    """`oxwizard --help` is built from the table without importing a verb: it must read exactly as
    the one built from every verb's own parser (same verbs, order and one-line help)."""
    import argparse

    from oxwizard.cli import VERBS

    full = build_parser()
    assert build_parser(()).format_help() == full.format_help()
    choices = next(a for a in full._actions if isinstance(a, argparse._SubParsersAction))
    assert [(c.dest, c.help) for c in choices._choices_actions] == [(n, h) for n, h, _ in VERBS]
    for name, _, load in VERBS:
        assert load().__module__ == f"oxwizard.commands.{name}"


def test_top_level_help_is_what_argparse_prints_at_every_width(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`oxwizard --help` is formatted from the verb table without argparse (which alone costs more
    than Python's start-up): byte for byte what argparse prints for the same parser, at every
    terminal width (below the usage line's width, argparse itself prints it)."""
    for columns in range(20, 201):
        monkeypatch.setenv("COLUMNS", str(columns))
        want = build_parser(()).format_help()
        for argv in (["--help"], ["-h"]):
            try:
                assert main(argv) == 0
            except SystemExit as exc:  # argparse's own help, on a terminal too narrow for ours
                assert exc.code == 0
            assert capsys.readouterr().out == want, f"COLUMNS={columns} {argv}"


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_top_level_help_as_users_run_it(columns: int) -> None:
    """The same, from the command as users run it: a new process, the width from $COLUMNS."""
    import os

    env = {**os.environ, "COLUMNS": str(columns)}
    done = subprocess.run([*OXWIZARD, "--help"], capture_output=True, text=True, env=env, timeout=60)
    assert (done.returncode, done.stderr) == (0, "")
    code = "from oxwizard.cli import build_parser; print(build_parser(()).format_help(), end='')"
    parser = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    assert done.stdout == parser.stdout
    assert done.stdout.startswith("usage: oxwizard [-h] [--version] COMMAND ...\n")
    assert max(len(line) for line in done.stdout.splitlines()) <= columns - 2


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


def test_wizard_refuses_a_missing_env_or_bad_option_before_opening_the_screen(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    assert_refused(run_cli("wizard", "--env", str(missing)), "--env", str(missing))
    assert_refused(run_cli("wizard", "--project", str(missing)), "--project", str(missing))
    assert_refused(run_cli("wizard", "--bogus"), "unrecognized arguments: --bogus")
    result = run_cli("wizard", "--help")
    assert result.returncode == 0 and "usage: oxwizard wizard" in result.stdout


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


# -- on the demo sandbox (session fixtures from tests/conftest.py) ---------------------------------


def test_demo_env_text_and_json(demo_template: Any) -> None:
    venv = demo_template.venv
    text = run_cli("env", "--env", str(venv))
    assert text.returncode == 0, text.stderr
    assert f"environment   {venv}" in text.stdout
    assert "installer     pip" in text.stdout
    assert any(line.split()[:2] == ["oxzep7", "1.4.2"] for line in text.stdout.splitlines())
    data = json.loads(run_cli("env", "--env", str(venv), "--json").stdout)
    assert data["is_venv"] is True and data["installer"] == "pip"
    versions = {d["name"]: d["version"] for d in data["distributions"]}
    assert versions["oxzep7"] == "1.4.2" and versions["oxzep7-plugin"] == "1.0.0"
    assert data["fingerprint"] in text.stdout


def test_demo_plan_major_upgrade_changes_nothing(demo_template: Any) -> None:
    venv, house = demo_template.venv, demo_template.wheelhouse
    before = json.loads(run_cli("env", "--env", str(venv), "--json").stdout)
    result = run_cli(
        "plan", "oxzep7==2.0.0", "--env", str(venv), "--find-links", str(house), "--no-index", "--json"
    )
    assert result.returncode == 0, result.stderr
    plan = json.loads(result.stdout)
    changes = {c["name"]: (c["from_version"], c["to_version"], c["impact"]) for c in plan["changes"]}
    assert changes == {"oxzep7": ("1.4.2", "2.0.0", "major"), "oxzep7-core": (None, "2.0.0", "new")}
    assert plan["env_fingerprint"] == before["fingerprint"]
    assert plan["pip_check_after"] == []  # oxzep7-plugin needs oxzep7>=1.4: pip-wise 2.0.0 is fine
    after = json.loads(run_cli("env", "--env", str(venv), "--json").stdout)
    assert after["fingerprint"] == before["fingerprint"]
    assert after["distributions"] == before["distributions"]


def test_demo_plan_text_and_missing_version(demo_template: Any) -> None:
    venv, house = demo_template.venv, demo_template.wheelhouse
    base = ["--env", str(venv), "--find-links", str(house), "--no-index"]
    text = run_cli("plan", "oxzep7>=1.5,<2", *base)
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[1].split() == ["oxzep7", "1.4.2", "->", "1.5.0", "minor"]
    assert "install exactly: oxzep7==1.5.0" in text.stdout
    missing = run_cli("plan", "oxzep7==9.9.9", *base)
    assert_refused(missing, "oxzep7==9.9.9", "1.4.2, 1.5.0, 2.0.0")


def test_demo_outdated(demo_template: Any) -> None:
    base = ["outdated", "--env", str(demo_template.venv), "--find-links", str(demo_template.wheelhouse)]
    rows = json.loads(run_cli(*base, "--no-index", "--json").stdout)
    by_name = {r["name"]: (r["current"], r["latest_in_target"], r["latest"], r["impact"]) for r in rows}
    assert by_name == {
        "humbleconf": ("1.2.0", "1.3.0", "1.3.0", "minor"),
        "ziprow": ("0.3.1", "0.3.2", "0.3.2", "patch"),
        "oxzep7": ("1.4.2", "2.0.0", "2.0.0", "major"),
        "alpha": ("1.0.0", "2.0.0", "2.0.0", "major"),
        "beta": ("1.0.0", "2.0.0", "2.0.0", "major"),
        "gamma": ("1.0.0", "2.0.0", "2.0.0", "major"),
        "delta": ("1.0.0", "2.0.0", "2.0.0", "major"),
        "quillpen": ("0.9.0", "0.9.1", "0.9.1", "patch"),
    }
    minor = json.loads(run_cli(*base, "--no-index", "--json", "--target", "minor").stdout)
    assert {r["name"]: r["latest_in_target"] for r in minor}["oxzep7"] == "1.5.0"
