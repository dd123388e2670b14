"""What starting the CLI costs, as the modules it imports (import-linter checks which module may
import which; only a fresh interpreter shows what one command line actually loads).

Each check runs ``oxwizard ...`` in a new interpreter, so modules already imported by the test
session cannot hide an import, and compares the modules it left in ``sys.modules`` with the budget:
``--version`` imports nothing but the CLI module (not even argparse); ``--help`` adds the terminal's
width only (no argparse, no ``re``: the help is formatted from the verb table); ``VERB --help`` adds
argparse, the verbs' shared helpers and that verb's module only. None of them imports pydantic,
packaging, pip-api, GitPython, Textual or any engine module. Budgets are module sets, not
wall-clock times (benchmarks/bench_startup.py measures the times).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from oxwizard.cli import command_modules

CLI = {"oxwizard", "oxwizard.cli", "oxwizard.core", "oxwizard.core.errors"}  # core: an empty package
TOP_HELP = CLI | {"oxwizard.core.terminal"}
HELP = TOP_HELP | {"oxwizard.commands", "oxwizard.commands.common"}
HEAVY = ("pydantic", "packaging", "pip_api", "git", "textual", "rich", "asyncio")


def loaded_by(*argv: str) -> tuple[str, set[str]]:
    """What ``oxwizard ARGV`` prints and the modules it imported, from a new interpreter."""
    script = (  # json (which imports re) only after the modules are listed
        "import sys, contextlib, io\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    from oxwizard.cli import main\n"
        "    try:\n"
        f"        code = main({list(argv)!r})\n"
        "    except SystemExit as exc:\n"
        "        code = exc.code\n"
        "modules = sorted(sys.modules)\n"
        "import json\n"
        "print(json.dumps([code, out.getvalue(), modules]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    code, out, modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert code == 0, out
    return out, set(modules)


def ours(modules: set[str]) -> set[str]:
    return {m for m in modules if m == "oxwizard" or m.startswith("oxwizard.")}


def heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in HEAVY}


def test_version_imports_only_the_cli_module() -> None:
    out, modules = loaded_by("--version")
    assert out.startswith("oxwizard ")
    assert ours(modules) == CLI
    assert heavy(modules) == set()
    assert "argparse" not in modules


def test_top_level_help_lists_every_verb_without_importing_one_nor_argparse() -> None:
    out, modules = loaded_by("--help")
    for name in command_modules():
        assert f"    {name} " in out or f"    {name}\n" in out
    assert ours(modules) == TOP_HELP
    assert heavy(modules) == set()
    # argparse (with re, gettext and textwrap) costs more than a bare Python's start-up
    assert {"argparse", "re", "textwrap", "gettext", "shutil"} & modules == set()


@pytest.mark.parametrize("verb", command_modules())
def test_verb_help_imports_that_verb_only(verb: str) -> None:
    out, modules = loaded_by(verb, "--help")
    assert out.startswith(f"usage: oxwizard {verb}")
    assert ours(modules) == HELP | {f"oxwizard.commands.{verb}"}
    assert heavy(modules) == set()
