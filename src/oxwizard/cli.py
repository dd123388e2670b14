"""The command line: parse arguments, run one verb, turn engine errors into exit codes.

Exit codes (docs/cli.md): 0 success; 1 a gate or check failed (the environment was left safe);
2 refused before any change (bad input, not an environment, resolution failure, lock held);
3 a rollback failed or could not be verified; 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from oxwizard import __version__
from oxwizard.commands.parser import Parser
from oxwizard.core.errors import OxwizardError
from oxwizard.core.redact import redact_text


def command_modules() -> list[str]:
    """Every verb module in :mod:`oxwizard.commands` (each defines ``add_parser``)."""
    import pkgutil

    from oxwizard import commands

    names = [m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")]
    return sorted(n for n in names if n not in ("common", "headless", "parser"))


def build_parser() -> argparse.ArgumentParser:
    import importlib

    parser = Parser(
        prog="oxwizard",
        description="Upgrade Python dependencies without fear: plan, checkpoint, stage, test, "
        "promote, monitor, and roll back with one key.",
    )
    parser.add_argument("--version", action="version", version=f"oxwizard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name in command_modules():
        importlib.import_module(f"oxwizard.commands.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    wizard_argv: list[str] | None = None
    if not argv and sys.stdin.isatty() and sys.stdout.isatty():
        wizard_argv = []  # no sub-command on a terminal: the wizard with defaults
    elif argv[:1] == ["wizard"]:
        wizard_argv = argv[1:]
    try:
        if wizard_argv is not None:
            # the wizard parses its own options: building every verb's parser would import the
            # engine (pydantic, the environment model) before the first paint
            from oxwizard.commands.wizard import main as wizard

            return wizard(wizard_argv)
        parser = build_parser()
        args = parser.parse_args(argv)
        if getattr(args, "run", None) is None:
            parser.print_help()
            return 0
        return int(args.run(args))
    except OxwizardError as exc:
        print(f"oxwizard: error: {redact_text(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("oxwizard: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
