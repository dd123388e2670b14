"""What starting the CLI costs, as the modules it imports (import-linter checks which module may
import which; only a fresh interpreter shows what one command line actually loads).

Each check runs ``oxwizard ...`` in a new interpreter, so modules already imported by the test
session cannot hide an import, and compares the modules it left in ``sys.modules`` with the budget:
``--version`` imports nothing but the CLI module (not even argparse); ``--help`` adds the terminal's
width only (no argparse, no ``re``: the help is formatted from the verb table); ``VERB --help`` adds
argparse, the verbs' shared helpers and that verb's module only. None of them imports pydantic,
packaging, pip-api, GitPython, Textual or any engine module. ``rollback``, run for real, imports
what restoring from the stash and proving it needs, and none of those either. Budgets are module sets, not
wall-clock times (benchmarks/bench_startup.py measures the times).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from oxwizard.cli import command_modules
from oxwizard.demo.sandbox import DemoSandbox

CLI = {"oxwizard", "oxwizard.cli", "oxwizard.core", "oxwizard.core.errors"}  # core: an empty package
TOP_HELP = CLI | {"oxwizard.core.terminal"}
HELP = TOP_HELP | {"oxwizard.commands", "oxwizard.commands.common"}
HEAVY = ("pydantic", "pydantic_core", "packaging", "pip_api", "git", "textual", "rich", "asyncio")


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


# what restoring from the stash and proving it needs; pydantic, packaging and the engine's models
# (the environment read whole, the checkpoint model, the flow, the runbook) cost more than the rollback
ROLLBACK_NEVER = (
    "oxwizard.env.environment",
    "oxwizard.safety.checkpoint",
    "oxwizard.flow",
    "oxwizard.runbook",
)
NEVER_UNDER = tuple(m + "." for m in ROLLBACK_NEVER)


def test_the_rollback_verb_restores_and_proves_without_pydantic_or_packaging(
    demo: Callable[[], DemoSandbox], tmp_path: Path
) -> None:
    """`oxwizard rollback` is a new process every time: on a real upgrade it restores the env byte for
    byte and verifies it, importing neither pydantic nor packaging nor any engine model, nor even
    importlib.metadata (the distributions' folders and the signatures prove the state); and the
    fingerprint it proved is the one the environment, read whole, has. Where the proof does not hold
    (a file added to site-packages since the checkpoint), it reads the distributions instead."""
    from conftest import env_state

    from oxwizard.env.environment import Environment
    from oxwizard.env.plan import compute_plan
    from oxwizard.env.specs import IndexOptions, parse_specs
    from oxwizard.safety.apply import apply_plan
    from oxwizard.safety.checkpoint import take_checkpoint

    sandbox = demo()
    index = IndexOptions.build(find_links=[str(sandbox.wheelhouse)], no_index=True)

    def upgrade() -> str:
        env = Environment.open(sandbox.venv)
        plan = compute_plan(env, parse_specs(["oxzep7==1.5.0"]), index)
        ck = take_checkpoint(env, plan)
        assert apply_plan(env, plan, index, checkpoint=ck).ok
        return ck.fingerprint

    before = env_state(sandbox.venv)
    fingerprint = upgrade()
    argv = ("rollback", "--env", str(sandbox.venv), "--project", str(tmp_path), "--json")
    out, modules = loaded_by(*argv)

    result = json.loads(out)
    assert result["verified"] and result["verification"] == "signatures" and result["hashed_files"] == 0
    assert env_state(sandbox.venv) == before
    assert result["fingerprint_after"] == fingerprint == Environment.open(sandbox.venv).fingerprint()
    assert heavy(modules) == set()
    assert {m for m in ours(modules) if m in ROLLBACK_NEVER or m.startswith(NEVER_UNDER)} == set()
    assert "importlib.metadata" not in modules

    out, modules = loaded_by(*argv)  # again: nothing to do, said without them too
    assert json.loads(out)["noop"] and json.loads(out)["message"].startswith("nothing to roll back")
    assert heavy(modules) == set() and "importlib.metadata" not in modules

    upgrade()
    stray = Environment.open(sandbox.venv).purelib / "stray.txt"
    stray.write_text("not a distribution's\n")  # the site folder no longer lists what it did
    out, modules = loaded_by(*argv)
    result = json.loads(out)
    assert result["verified"] and result["fingerprint_after"] == fingerprint
    assert "importlib.metadata" in modules  # read, not assumed
    stray.unlink()
    assert env_state(sandbox.venv) == before
