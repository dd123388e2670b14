"""The offline demo sandbox (also the test suite's fixture).

``build_demo(DIR)`` makes, with no network and no build backend:
``DIR/wheelhouse/`` (real wheels of oxzep7 1.4.2, 1.5.0, 2.0.0, oxzep7-core 2.0.0, oxzep7-plugin
1.0.0, humbleconf 1.2.0/1.3.0, ziprow 0.3.1/0.3.2, and the upgrade-everything set: alpha, beta and
gamma 1.0.0/2.0.0, delta 1.0.0/2.0.0, quillpen 0.9.0/0.9.1), ``DIR/project/`` (a small app using
oxzep7, with a ``requirements.txt`` pinning what the venv has, a unittest suite, a benchmark, a log
file, a data file and its schema, an offline advisory file and a ``[tool.oxwizard]`` table) and
``DIR/project/.venv/`` (its environment, oxzep7 1.4.2 and the other packages at their old version
installed from the wheelhouse: eight of them have a newer version).

``upgrade --outdated`` on the demo meets one upgrade that breaks alone (oxzep7 2.0.0), a pair that
only breaks together (alpha 2.0.0 renames the setting ``colour`` to ``color``; beta 2.0.0 starts
reading ``alpha.SETTINGS["colour"]``; the project's tests call ``beta.theme()``), a pair that must
move together (gamma 2.0.0 requires delta>=2.0), and the others are safe. This layout is a
contract: docs and scripts rely on it.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from oxwizard.core import proc
from oxwizard.core.errors import InstallerError, UsageError
from oxwizard.demo.wheels import build_wheel

PROJECT_FILES = Path(__file__).with_name("files") / "project"
INSTALLED = [
    "oxzep7==1.4.2", "oxzep7-plugin==1.0.0", "humbleconf==1.2.0", "ziprow==0.3.1",
    "alpha==1.0.0", "beta==1.0.0", "gamma==1.0.0", "delta==1.0.0", "quillpen==0.9.0",
]  # fmt: skip

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
    """Where a built sandbox lives: the paths of the documented layout."""

    root: Path
    wheelhouse: Path  # root/wheelhouse
    project: Path  # root/project
    venv: Path  # root/project/.venv
    python: Path  # the venv's interpreter

    @classmethod
    def at(cls, root: Path) -> DemoSandbox:
        """The layout of a sandbox in ``root`` (whether or not it has been built)."""
        venv = root / "project" / ".venv"
        return cls(root, root / "wheelhouse", root / "project", venv, venv / "bin" / "python")

    @classmethod
    def existing(cls, root: Path) -> DemoSandbox | None:
        """The sandbox built earlier in ``root``, or None when ``root`` holds no sandbox.

        Recognised by its layout: ``wheelhouse/`` with the demo's own oxzep7 1.4.2 wheel in it,
        ``project/`` with its ``pyproject.toml``, and ``project/.venv/`` with its ``pyvenv.cfg``
        (the builder writes no other marker; the project's first git commit is by "oxwizard demo",
        but what the user did to the project since is theirs).
        """
        demo = cls.at(root.expanduser().resolve())
        markers = (
            demo.wheelhouse / "oxzep7-1.4.2-py3-none-any.whl",
            demo.project / "pyproject.toml",
            demo.venv / "pyvenv.cfg",
        )
        return demo if all(marker.is_file() for marker in markers) else None


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
    for name, versions in (("humbleconf", ("1.2.0", "1.3.0")), ("ziprow", ("0.3.1", "0.3.2")),
                           ("quillpen", ("0.9.0", "0.9.1"))):  # fmt: skip
        for version in versions:
            build_wheel(folder, name, version, {f"{name}/__init__.py": f'__version__ = "{version}"\n'})
    _build_pairs(folder)
    return folder


def _build_pairs(folder: Path) -> None:
    """alpha + beta break only together; gamma 2.0.0 needs delta 2.0.0 (they move together)."""
    for version, key in (("1.0.0", "colour"), ("2.0.0", "color")):  # 2.0.0 renames the setting
        build_wheel(
            folder, "alpha", version,
            {"alpha/__init__.py": f'__version__ = "{version}"\nSETTINGS = {{"{key}": "teal"}}\n'},
            summary="Settings (demo package)",
        )  # fmt: skip
    build_wheel(
        folder, "beta", "1.0.0",
        {"beta/__init__.py": '__version__ = "1.0.0"\n\n\ndef theme():\n    return "teal"\n'},
        summary="Themes (demo package)",
    )  # fmt: skip
    build_wheel(
        folder, "beta", "2.0.0",
        {"beta/__init__.py": '__version__ = "2.0.0"\n\n\ndef theme():\n    import alpha\n\n'
         '    return alpha.SETTINGS["colour"]\n'},
        requires=["alpha>=1.0"], summary="Themes, now read from alpha's settings (demo package)",
    )  # fmt: skip
    for version in ("1.0.0", "2.0.0"):
        build_wheel(folder, "delta", version, {"delta/__init__.py": f'__version__ = "{version}"\n'})
        build_wheel(
            folder, "gamma", version, {"gamma/__init__.py": f'__version__ = "{version}"\n'},
            requires=[f"delta>={version}"],
        )  # fmt: skip


def build_demo(root: Path, *, python: str | None = None, wheelhouse: Path | None = None) -> DemoSandbox:
    """Build the sandbox in ``root``, which must be absent or an empty folder.

    ``python`` is the interpreter the venv is made from (default: the real Python this runs on, not
    a venv's). ``wheelhouse`` reuses already built demo wheels (copied) instead of building them.
    On failure nothing of the half-built sandbox is left behind.
    """
    root = require_buildable(root)
    existed = root.exists()
    root.mkdir(parents=True, exist_ok=True)
    demo = DemoSandbox.at(root)
    try:
        _populate(demo, python or base_interpreter(), wheelhouse)
    except BaseException:
        _clear(root, keep_root=existed)
        raise
    return demo


def require_buildable(root: Path) -> Path:
    """``root`` resolved, when a sandbox can be built there (absent, or an empty folder); else a
    one-line :class:`UsageError` (a folder that holds a sandbox already is :meth:`DemoSandbox.existing`)."""
    root = root.expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise UsageError(f"demo folder is a file: {root} (give a new or empty folder)")
    if root.exists() and any(root.iterdir()):
        raise UsageError(
            f"demo folder exists and is not empty, and it is not a demo sandbox: {root} "
            "(give a new or empty folder, or one built by `oxwizard demo`)"
        )
    return root


def base_interpreter() -> str:
    """The real Python behind this process (``sys.executable`` outside a venv)."""
    base = getattr(sys, "_base_executable", None)
    return base if isinstance(base, str) and base and Path(base).exists() else sys.executable


def _populate(demo: DemoSandbox, interpreter: str, wheelhouse: Path | None) -> None:
    if wheelhouse is not None:
        shutil.copytree(wheelhouse, demo.wheelhouse)
    else:
        build_wheelhouse(demo.wheelhouse)
    shutil.copytree(PROJECT_FILES, demo.project, ignore=shutil.ignore_patterns("__pycache__"))
    (demo.project / "gitignore.txt").rename(demo.project / ".gitignore")
    made = proc.run([interpreter, "-m", "venv", str(demo.venv)], timeout=300)
    if not made.ok:
        raise InstallerError(f"cannot create the demo environment with {interpreter}: {_tail(made)}")
    installed = proc.run(
        [str(demo.python), "-m", "pip", "install", "--quiet", "--no-index",
         "--find-links", str(demo.wheelhouse), "--", *INSTALLED],
        env=proc.pip_environment(), timeout=300,
    )  # fmt: skip
    if not installed.ok:
        raise InstallerError(f"cannot install the demo packages: {_tail(installed)}")
    _git_init(demo.project)


def _tail(done: proc.Completed) -> str:
    return (done.stderr.strip() or done.stdout.strip())[-300:]


def _clear(root: Path, *, keep_root: bool) -> None:
    """Remove what a failed build made; ``root`` was absent or empty before, so all of it is ours."""
    if not keep_root:
        shutil.rmtree(root, ignore_errors=True)
        return
    for child in root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _git_init(project: Path) -> None:
    # No GIT_* from outside (GIT_DIR, GIT_INDEX_FILE in a hook...) may point git elsewhere.
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
        "GIT_AUTHOR_NAME": "oxwizard demo", "GIT_AUTHOR_EMAIL": "demo@oxwizard.invalid",
        "GIT_COMMITTER_NAME": "oxwizard demo", "GIT_COMMITTER_EMAIL": "demo@oxwizard.invalid",
    }  # fmt: skip
    safe = ["-c", "core.hooksPath=/dev/null", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]
    for argv in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "demo project"]):
        done = proc.run(["git", *safe, *argv], cwd=project, env=env, timeout=60)
        if not done.ok:
            raise InstallerError(f"git {argv[0]} failed in {project}: {_tail(done)}")
