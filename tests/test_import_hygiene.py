"""The engine never imports Textual; the CLI's start-up never pays for pip-api or GitPython.

Each check runs in a fresh interpreter (as harlequin's test does), so modules already imported by
the test session cannot hide an import.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import oxwizard


def engine_modules() -> list[str]:
    """Every module of the package outside ``oxwizard.tui`` (found on disk, so new ones count)."""
    names = ["oxwizard"]
    for info in pkgutil.walk_packages(oxwizard.__path__, prefix="oxwizard."):
        if info.name == "oxwizard.tui" or info.name.startswith("oxwizard.tui."):
            continue
        if info.name == "oxwizard.__main__":  # importing it runs the program
            continue
        names.append(info.name)
    return sorted(names)


def loaded_after(code: str) -> set[str]:
    """Top-level package names in ``sys.modules`` after running ``code`` in a new interpreter."""
    script = code + "\nimport json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_engine_module_list_is_complete() -> None:
    names = engine_modules()
    for expected in (
        "oxwizard.env.environment",
        "oxwizard.env.plan",
        "oxwizard.runbook.repo",
        "oxwizard.cli",
    ):
        assert expected in names
    assert not any(n.startswith("oxwizard.tui") for n in names)


@pytest.mark.parametrize("module", engine_modules())
def test_engine_module_never_loads_textual(module: str) -> None:
    assert "textual" not in loaded_after(f"import {module}")


def test_cli_start_up_does_not_import_pip_api_or_git() -> None:
    loaded = loaded_after("import oxwizard.cli\noxwizard.cli.build_parser().format_help()")
    assert "pip_api" not in loaded
    assert "git" not in loaded
    assert "textual" not in loaded
