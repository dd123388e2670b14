"""Argument helpers shared by every verb: the parser class, --env, index options, --json, output.

Imported by every verb (and its ``--help``; ``oxwizard --help`` is formatted without argparse, see
:mod:`oxwizard.cli`): it imports nothing of the engine (nor pydantic) at import time; each helper
imports what it needs when a verb runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from oxwizard.core.terminal import columns

TYPE_CHECKING = False  # as typing.TYPE_CHECKING (mypy knows the name), without importing typing
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from pydantic import BaseModel

    from oxwizard.env.environment import Environment
    from oxwizard.env.specs import IndexOptions


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's own formatter, told the width instead of asking shutil for it (same width)."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24) -> None:
        super().__init__(prog, indent_increment, max_help_position, width=columns() - 2)


class Parser(argparse.ArgumentParser):
    """argparse with our one-line error format and exit code 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"oxwizard: error: {message} (see --help)\n")


# Hooks run on every environment a command opens, before the command does anything else, with the
# command's arguments (crash recovery registers itself here: it records what it undid in the project's
# runbook, and reinstalls from the command's package sources where the stash cannot restore).
ENV_OPEN_HOOKS: list[Callable[[Environment, Callable[[str], None], argparse.Namespace], None]] = []


def _recover(env: Environment, say: Callable[[str], None], args: argparse.Namespace) -> None:
    from oxwizard.safety.journal import pending

    if not pending(env):  # one stat: nothing else is imported unless something was interrupted
        return
    from oxwizard.flow.upgrade import recover_recorded

    def sources() -> IndexOptions:  # the command's own (--find-links, --index-url), else pip's
        if hasattr(args, "index_url"):
            return index_from(args, env)
        from oxwizard.env.pipconfig import effective_index
        from oxwizard.env.specs import IndexOptions

        return effective_index(env, IndexOptions())

    del say  # stderr: stdout may be JSON
    recover_recorded(env, project_from(args), note_line, sources)


def note_line(line: str) -> None:
    """A line about the environment on stderr (stdout may be JSON)."""
    print(f"oxwizard: {line}", file=sys.stderr, flush=True)


ENV_OPEN_HOOKS.append(_recover)


def add_env(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--env",
        metavar="PATH",
        default=None,
        help="virtual environment folder or Python executable (default: $VIRTUAL_ENV, else ./.venv)",
    )


def add_project(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--project",
        metavar="DIR",
        default=None,
        help="the project folder (tests, [tool.oxwizard], runbook repo .oxwizard/); default: .",
    )


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")


def add_index(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "package sources",
        "By default the sources pip would use in the environment: its configuration files and PIP_* "
        "variables, with these options over them as on pip's command line.",
    )
    group.add_argument("--index-url", metavar="URL", default=None)
    group.add_argument("--extra-index-url", metavar="URL", action="append", default=[])
    group.add_argument("--find-links", metavar="DIR", action="append", default=[])
    group.add_argument("--no-index", action="store_true", help="use only --find-links")
    group.add_argument(
        "--isolated",
        action="store_true",
        help="ignore pip's configuration files and PIP_* variables: only these options count",
    )


def add_installer(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--installer",
        choices=("auto", "pip", "uv"),
        default="auto",
        help="what installs into the environment and its staging clone (default auto: uv for a project "
        "with uv.lock or an environment made by uv, else pip)",
    )


def add_break_system_packages(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--break-system-packages",
        action="store_true",
        help="allow changing an EXTERNALLY-MANAGED (PEP 668) Python; without it such a Python is "
        "refused before anything runs",
    )


def flags_from(args: argparse.Namespace) -> IndexOptions:
    """The index options given on the command line, validated (nothing read from pip's configuration)."""
    from oxwizard.env.specs import IndexOptions

    return IndexOptions.build(
        index_url=args.index_url,
        extra_index_urls=args.extra_index_url,
        find_links=args.find_links,
        no_index=args.no_index,
        isolated=bool(getattr(args, "isolated", False)),
    )


def index_from(args: argparse.Namespace, env: Environment, flags: IndexOptions | None = None) -> IndexOptions:
    """The effective sources for ``env``: pip's configuration with the flags over it (see
    :mod:`oxwizard.env.pipconfig`), or the flags alone with ``--isolated``. ``flags``: already
    validated with :func:`flags_from` (which runs before the environment is opened)."""
    from oxwizard.env.pipconfig import effective_index

    flags = flags if flags is not None else flags_from(args)
    return effective_index(env, flags, isolated=flags.isolated)


def say_sources(index: IndexOptions, out: Callable[[str], None] | None = None) -> None:
    """The effective sources and where each came from (credentials masked)."""
    write = out or say
    write(f"sources: {index.describe()}")
    for line in index.origin_lines():
        write(f"  {line}")
    if index.keyring_provider == "import":
        write(f"  an index's password, when it asks: the keyring module of {index.keyring_program}")
    elif index.keyring_provider == "subprocess":
        write(f"  an index's password, when it asks: the keyring program {index.keyring_program}")


def open_env(args: argparse.Namespace) -> Environment:
    from oxwizard.env.environment import Environment

    env = Environment.open(args.env)
    for hook in ENV_OPEN_HOOKS:
        hook(env, say, args)
    if hasattr(args, "project"):
        from oxwizard.env.locktools import choose_installer

        choose_installer(env, project_from(args), getattr(args, "installer", None))
    return env


def project_from(args: argparse.Namespace) -> Path:
    from pathlib import Path

    return Path(getattr(args, "project", None) or ".").resolve()


def existing_project(args: argparse.Namespace) -> Path:
    """:func:`project_from`, refused (exit 2) when it is not a folder: a typo in ``--project`` is not
    a project without dependency files."""
    project = project_from(args)
    if not project.is_dir():
        from oxwizard.core.errors import UsageError

        raise UsageError(f"project folder not found: {project}")
    return project


def say(line: str) -> None:
    print(line, flush=True)


def note(line: str) -> None:
    """A note about the environment on stderr (stdout may be JSON): a stale lock taken over, a killed
    run's trial clone retired."""
    note_line(f"note: {line}")


def print_json(value: BaseModel | list[Any] | dict[str, Any]) -> None:
    import json

    if isinstance(value, dict):  # pydantic is not imported for it (the rollback verb does without)
        sys.stdout.write(json.dumps(value, indent=2) + "\n")
        return
    from pydantic import BaseModel

    if isinstance(value, BaseModel):
        text = value.model_dump_json(indent=2, by_alias=True)
    else:
        text = json.dumps(
            [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
            if isinstance(value, list)
            else value,
            indent=2,
        )
    sys.stdout.write(text + "\n")
