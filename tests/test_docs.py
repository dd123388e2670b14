"""Generated docs are never stale (docs/cli.md and docs/runbook-format.md match the generator), and the
README's headless examples run as written."""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def gen_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_docs", ROOT / "scripts" / "gen_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["cli.md", "runbook-format.md"])
def test_generated_doc_is_current(name: str) -> None:
    expected = {path.name: text for path, text in gen_docs().render().items()}[name]
    path = ROOT / "docs" / name
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    assert current == expected, f"docs/{name} is stale: run `python scripts/gen_docs.py` and commit it"


def test_cli_reference_covers_every_command_and_exit_code() -> None:
    from oxwizard.cli import command_modules

    text = gen_docs().render_cli()
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 3 |", "| 130 |"):
        assert code in text
    parser_names = set(gen_docs()._subcommands(gen_docs()._parser()))
    assert {"demo", "env", "plan", "outdated"} <= parser_names
    assert len(parser_names) >= len(command_modules())
    for name in parser_names:
        assert f"## `oxwizard {name}`" in text


def test_runbook_format_embeds_the_schema() -> None:
    import json

    from oxwizard.runbook.model import Runbook

    text = gen_docs().render_runbook_format()
    block = text.split("```json\n", 1)[1].split("\n```", 1)[0]
    assert json.loads(block) == Runbook.model_json_schema()


# -- the README's headless examples, run as written on two real demo sandboxes -----------------------
def _readme_headless_commands() -> list[list[str]]:
    """The command lines of the README's "Headless" shell block (continuation lines joined)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Headless\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("\n```", 1)[0]
    return [shlex.split(line) for line in block.replace("\\\n", " ").splitlines() if line.strip()]


def test_readme_headless_examples_work_as_written(demo: Any) -> None:
    from oxwizard.env.environment import Environment

    commands = _readme_headless_commands()
    assert [argv[:2] for argv in commands] == [
        ["oxwizard", "plan"], ["oxwizard", "upgrade"], ["oxwizard", "rollback"], ["oxwizard", "replay"]
    ]  # fmt: skip
    here, other = demo(), demo()
    # a busy test machine must not fail the performance check of a healthy 1.5.0 (as in conftest);
    # the runbook carries this threshold to the replay
    pyproject = here.project / "pyproject.toml"
    text, count = re.subn(
        r"(?m)^benchmark-threshold = .*$", "benchmark-threshold = 5.0", pyproject.read_text()
    )
    assert count == 1
    pyproject.write_text(text)

    def version(sandbox: Any) -> str:
        return Environment.open(sandbox.venv).distributions["oxzep7"].version

    expected = {"plan": "1.4.2", "upgrade": "1.5.0", "rollback": "1.4.2"}
    runbook_id = ""
    roots = {"DIR": str(here.root), "OTHER": str(other.root)}  # DIR/..., OTHER/..., or just the word
    for argv in commands:
        verb = argv[1]
        args = [
            re.sub(r"^(DIR|OTHER)(?=/|$)", lambda m: roots[m.group(1)], arg).replace("<id>", runbook_id)
            for arg in argv[2:]
        ]
        done = subprocess.run(
            [sys.executable, "-m", "oxwizard", verb, *args],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert done.returncode == 0, f"{' '.join(argv)}\n{done.stdout}{done.stderr}"
        if verb == "upgrade":
            [runbook] = (here.project / ".oxwizard" / "runbooks").glob("*.json")
            runbook_id = runbook.stem
        if verb in expected:
            assert version(here) == expected[verb], verb
    assert version(other) == "1.5.0"  # replayed on the second sandbox
    assert version(here) == "1.4.2"
