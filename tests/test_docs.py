"""Generated docs are never stale: docs/cli.md and docs/runbook-format.md match the generator."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

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

    from oxwizard.runbook import Runbook

    text = gen_docs().render_runbook_format()
    block = text.split("```json\n", 1)[1].split("\n```", 1)[0]
    assert json.loads(block) == Runbook.model_json_schema()
