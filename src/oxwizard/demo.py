"""The offline demo sandbox (also the test suite's fixture).

``build_demo(DIR)`` makes, with no network and no build backend:
``DIR/wheelhouse/`` (real wheels of oxzep7 1.4.2, 1.5.0, 2.0.0, oxzep7-core 2.0.0, oxzep7-plugin 1.0.0,
humbleconf 1.2.0/1.3.0, ziprow 0.3.1/0.3.2), ``DIR/project/`` (a small app using oxzep7, with a
unittest suite, a benchmark, a log file, a data file and its schema, an offline advisory file and a
``[tool.oxwizard]`` table) and ``DIR/project/.venv/`` (its environment, oxzep7 1.4.2 installed from
the wheelhouse). This layout is a contract: docs and scripts rely on it.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from oxwizard import proc
from oxwizard.errors import InstallerError, UsageError
from oxwizard.wheels import build_wheel

PROJECT_FILES = Path(__file__).with_name("demo_files") / "project"
INSTALLED = ["oxzep7==1.4.2", "oxzep7-plugin==1.0.0", "humbleconf==1.2.0", "ziprow==0.3.1"]

_PARSE = '''
def parse(text):
    """Split comma-separated records and strip each one."""
    return [part.strip() for part in text.split(",") if part.strip()]
'''
_LEGACY = '''
def legacy_parse(text):
    """The pre-1.0 spelling of parse()."""
    return [part.strip() for part in text.split(",") if part.strip()]
'''
_LEGACY_DEPRECATED = '''
import warnings


def legacy_parse(text):
    """The pre-1.0 spelling of parse(); deprecated."""
    warnings.warn(
        "oxzep7.legacy_parse is deprecated and will be removed in oxzep7 2.0; use oxzep7.parse",
        DeprecationWarning,
        stacklevel=2,
    )
    return parse(text)
'''
_RENDER = '''
def render(items):
    """Join parsed items for display."""
    return " | ".join(items)
'''
_CLI = """
import oxzep7


def main():
    print("oxzep7", oxzep7.__version__)
"""
_CORE = '''
import re
import unicodedata

__version__ = "2.0.0"


def split_records(text):
    """Split and normalise records (2.0's stricter, slower parser)."""
    pattern = re.compile(r"\\s*,\\s*")
    out = []
    for part in pattern.split(text):
        part = unicodedata.normalize("NFKC", part).strip()
        if part and all(ch.isprintable() for ch in part):
            out.append(part)
    return [item for item in out if item == item.strip()]
'''


@dataclass(frozen=True)
class DemoSandbox:
    root: Path
    wheelhouse: Path
    project: Path
    venv: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"


def build_wheelhouse(folder: Path) -> Path:
    """Build every demo wheel into ``folder``."""
    cli = {"oxzep7": "oxzep7.cli:main"}
    for version in ("1.4.2", "1.5.0"):
        legacy = _LEGACY if version == "1.4.2" else _LEGACY_DEPRECATED
        build_wheel(
            folder, "oxzep7", version,
            {"oxzep7/__init__.py": f'__version__ = "{version}"\n{_PARSE}{legacy}',
             "oxzep7/fmt.py": _RENDER, "oxzep7/cli.py": _CLI},
            console_scripts=cli, summary="Record parsing (demo package)",
        )  # fmt: skip
    build_wheel(
        folder, "oxzep7", "2.0.0",
        {"oxzep7/__init__.py": '__version__ = "2.0.0"\nfrom oxzep7_core import split_records as parse\n',
         "oxzep7/formatting.py": _RENDER, "oxzep7/cli.py": _CLI},
        requires=["oxzep7-core>=2.0.0"], console_scripts=cli, summary="Record parsing (demo package)",
    )  # fmt: skip
    build_wheel(folder, "oxzep7-core", "2.0.0", {"oxzep7_core/__init__.py": _CORE})
    build_wheel(
        folder, "oxzep7-plugin", "1.0.0",
        {"oxzep7_plugin/__init__.py": "from oxzep7.fmt import render\n\n\ndef show(items):\n"
         "    return render(items)\n"},
        requires=["oxzep7>=1.4"], summary="A plugin that depends on oxzep7 (demo package)",
    )  # fmt: skip
    for name, versions in (("humbleconf", ("1.2.0", "1.3.0")), ("ziprow", ("0.3.1", "0.3.2"))):
        for version in versions:
            build_wheel(folder, name, version, {f"{name}/__init__.py": f'__version__ = "{version}"\n'})
    return folder


def build_demo(root: Path, *, python: str | None = None, wheelhouse: Path | None = None) -> DemoSandbox:
    """Build the sandbox in ``root`` (which must not exist or be empty)."""
    root = root.expanduser().resolve()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise UsageError(f"demo folder exists and is not empty: {root}")
    root.mkdir(parents=True, exist_ok=True)
    demo = DemoSandbox(root, root / "wheelhouse", root / "project", root / "project" / ".venv")
    if wheelhouse is not None:
        shutil.copytree(wheelhouse, demo.wheelhouse)
    else:
        build_wheelhouse(demo.wheelhouse)
    shutil.copytree(PROJECT_FILES, demo.project, ignore=shutil.ignore_patterns("__pycache__"))
    (demo.project / "gitignore.txt").rename(demo.project / ".gitignore")
    interpreter = python or sys.executable
    made = proc.run([interpreter, "-m", "venv", str(demo.venv)], timeout=300)
    if not made.ok:
        raise InstallerError(f"cannot create the demo environment: {made.stderr.strip()[-200:]}")
    installed = proc.run(
        [str(demo.python), "-m", "pip", "install", "--quiet", "--no-index",
         "--find-links", str(demo.wheelhouse), "--", *INSTALLED],
        env=proc.pip_environment(), timeout=300,
    )  # fmt: skip
    if not installed.ok:
        raise InstallerError(f"cannot install the demo packages: {installed.stderr.strip()[-300:]}")
    _git_init(demo.project)
    return demo


def _git_init(project: Path) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "oxwizard demo", "GIT_AUTHOR_EMAIL": "demo@oxwizard.invalid",
        "GIT_COMMITTER_NAME": "oxwizard demo", "GIT_COMMITTER_EMAIL": "demo@oxwizard.invalid",
    }  # fmt: skip
    safe = ["-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "demo project"]):
        done = proc.run(["git", *safe, *argv], cwd=project, env=env, timeout=60)
        if not done.ok:
            raise InstallerError(f"git {argv[0]} failed in {project}: {done.stderr.strip()[-200:]}")
