"""The command line: parse arguments, run one verb, turn engine errors into exit codes.

Exit codes (docs/cli.md): 0 success; 1 a gate or check failed (the environment was left safe);
2 refused before any change (bad input, not an environment, resolution failure, lock held);
3 a rollback failed or could not be verified; 130 interrupted.

The verbs are listed in :data:`VERBS`, a plain table: each row names the verb, its one-line help and a
small function that imports the verb's module (``oxwizard.commands.NAME``) with an ordinary ``import``
statement, so mypy and the import graph see it, and only when that verb runs. ``oxwizard --help`` and
``--version`` import no verb at all, nor argparse: the top-level help is formatted from the table by
:func:`top_help`, byte for byte what argparse prints for :func:`build_parser` (tests/test_cli.py
compares them at many widths); ``oxwizard VERB ...`` imports argparse and that verb only.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence

from oxwizard import __version__
from oxwizard.core.errors import OxwizardError

TYPE_CHECKING = False  # as typing.TYPE_CHECKING (mypy knows the name), without importing typing
if TYPE_CHECKING:
    import argparse
    from typing import TypeAlias

    AddParser: TypeAlias = Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]


def _checkpoints() -> AddParser:
    from oxwizard.commands.checkpoints import add_parser

    return add_parser


def _demo() -> AddParser:
    from oxwizard.commands.demo import add_parser

    return add_parser


def _env() -> AddParser:
    from oxwizard.commands.env import add_parser

    return add_parser


def _monitor() -> AddParser:
    from oxwizard.commands.monitor import add_parser

    return add_parser


def _outdated() -> AddParser:
    from oxwizard.commands.outdated import add_parser

    return add_parser


def _plan() -> AddParser:
    from oxwizard.commands.plan import add_parser

    return add_parser


def _replay() -> AddParser:
    from oxwizard.commands.replay import add_parser

    return add_parser


def _resume() -> AddParser:
    from oxwizard.commands.resume import add_parser

    return add_parser


def _rollback() -> AddParser:
    from oxwizard.commands.rollback import add_parser

    return add_parser


def _stage() -> AddParser:
    from oxwizard.commands.stage import add_parser

    return add_parser


def _upgrade() -> AddParser:
    from oxwizard.commands.upgrade import add_parser

    return add_parser


def _wizard() -> AddParser:
    from oxwizard.commands.wizard import add_parser

    return add_parser


# The verbs: name, one-line help (what `oxwizard --help` shows without importing the verb; it equals
# the help the verb's own add_parser gives, tests/test_cli.py), and the function that imports the
# verb's module and returns its add_parser.
# fmt: off
VERBS: tuple[tuple[str, str, Callable[[], AddParser]], ...] = (
    ("checkpoints", "list the checkpoints of an environment (and prune old ones)", _checkpoints),
    ("demo", "build the offline demo sandbox and open the wizard on it", _demo),
    ("env", "describe the target environment", _env),
    ("monitor", "repeat the checks on live for a monitoring window; exit 0 healthy, 1 a check failed",
     _monitor),
    ("outdated", "list distributions with newer versions available", _outdated),
    ("plan", "show exactly what an upgrade would change (changes nothing)", _plan),
    ("replay", "replay a saved runbook unattended: same plan, same checks, rollback on any failed gate",
     _replay),
    ("resume", "continue the unfinished upgrade of this environment (checks on live, monitoring, "
     "verdict)", _resume),
    ("rollback", "restore the environment to a checkpoint (default: the newest) and verify it",
     _rollback),
    ("stage", "make an isolated staging copy of an environment", _stage),
    ("upgrade", "plan, checkpoint, stage, test, promote and verify an upgrade, headless", _upgrade),
    ("wizard", "open the full-screen wizard (also what `oxwizard` with no command does)", _wizard),
)
# fmt: on


DESCRIPTION = (
    "Upgrade Python dependencies without fear: plan, checkpoint, stage, test, promote, monitor, and "
    "roll back with one key."
)
USAGE = "usage: oxwizard [-h] [--version] COMMAND ..."
# the options argparse adds, with the help it gives them
OPTIONS = (
    ("-h, --help", "show this help message and exit"),
    ("--version", "show program's version number and exit"),
)


def command_modules() -> list[str]:
    """The name of every verb, from :data:`VERBS` (each is the module ``oxwizard.commands.NAME``)."""
    return [name for name, _, _ in VERBS]


def build_parser(verbs: Iterable[str] | None = None) -> argparse.ArgumentParser:
    """The whole command line. ``verbs`` names the verbs whose own parser is built (their modules are
    imported); every other verb gets a placeholder with its name and one-line help, enough for
    ``oxwizard --help`` and for argparse to pick it. Default: every verb (the docs, the tests)."""
    from oxwizard.commands.common import Parser

    wanted = None if verbs is None else set(verbs)
    # typed as a plain ArgumentParser so that its sub-parsers' action is the one every verb's
    # add_parser takes; argparse makes each sub-parser a Parser too (parser_class: type(self))
    parser: argparse.ArgumentParser = Parser(prog="oxwizard", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"oxwizard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help, load in VERBS:
        if wanted is None or name in wanted:
            load()(sub)
        else:
            sub.add_parser(name, help=help, add_help=False)  # never parses: argv names another verb
    return parser


def top_help(columns: int) -> str | None:
    """``oxwizard --help`` as argparse's HelpFormatter lays out :func:`build_parser` for a terminal
    ``columns`` wide (its width is ``columns - 2``, help at most 24 columns in), without importing
    argparse, textwrap or re (they cost more than a bare Python's start-up). None where the usage line
    would not fit on one line: argparse wraps it then, and formats the help itself."""
    width = columns - 2
    if len(USAGE) > width:
        return None
    # the widest invocation plus the sections' indent (argparse counts the verbs, shown 2 further
    # in, at their section's indent too)
    longest = 2 + max(len("COMMAND"), *(len(n) for n, _, _ in VERBS), *(len(o) for o, _ in OPTIONS))
    position = min(longest + 2, min(24, max(width - 20, 4)))  # where the help column starts
    help_width = max(width - position, 11)

    def item(indent: int, name: str, text: str) -> list[str]:
        lines = _wrap(text, help_width)
        if len(name) <= position - indent - 2:
            first = [f"{' ' * indent}{name:<{position - indent - 2}}  {lines[0]}"]
        else:
            first = [f"{' ' * indent}{name}", " " * position + lines[0]]
        return first + [" " * position + line for line in lines[1:]]

    out = [USAGE, "", *_wrap(DESCRIPTION, max(width, 11)), "", "positional arguments:", "  COMMAND"]
    for name, text, _ in VERBS:
        out += item(4, name, text)
    out += ["", "options:"]
    for name, text in OPTIONS:
        out += item(2, name, text)
    return "\n".join(out) + "\n"


def _wrap(text: str, width: int) -> list[str]:
    """``textwrap.wrap(text, width)`` for one line of plain words, as argparse calls it: whitespace
    runs are one space; a word may break after a hyphen between letters (``full-screen``); a word
    longer than a line is cut, at its last hyphen that fits if any."""
    chunks: list[str] = []  # words, their hyphenated parts and the single spaces between them
    for word in text.split():
        if chunks:
            chunks.append(" ")
        start = 0
        for i in range(2, len(word) - 2):
            if word[i] == "-" and word[i - 2 : i].isalpha() and word[i + 1 : i + 3].isalpha():
                chunks.append(word[start : i + 1])
                start = i + 1
        chunks.append(word[start:])
    chunks.reverse()
    lines: list[str] = []
    while chunks:
        line: list[str] = []
        size = 0
        if chunks[-1] == " " and lines:
            chunks.pop()
        while chunks and size + len(chunks[-1]) <= width:
            size += len(chunks[-1])
            line.append(chunks.pop())
        if chunks and len(chunks[-1]) > width:  # a word longer than the line: cut it
            room = max(width - size, 1)
            chunk = chunks[-1]
            end = room
            hyphen = chunk.rfind("-", 0, room)
            if hyphen > 0 and chunk[:hyphen].strip("-"):
                end = hyphen + 1
            line.append(chunk[:end])
            chunks[-1] = chunk[end:]
        if line and line[-1] == " ":
            line.pop()
        if line:
            lines.append("".join(line))
    return lines


def verb_of(argv: Sequence[str]) -> str | None:
    """The verb ``argv`` asks for: the first argument that is not an option (the top-level parser has
    only ``--help`` and ``--version``, which take no value)."""
    return next((arg for arg in argv if arg != "--" and not arg.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv == ["--version"]:  # what argparse's version action prints, without importing argparse
        print(f"oxwizard {__version__}")
        return 0
    if argv in (["--help"], ["-h"]) or (not argv and not (sys.stdin.isatty() and sys.stdout.isatty())):
        from oxwizard.core.terminal import columns

        text = top_help(columns())
        if text is not None:  # else a terminal too narrow for the usage line: argparse wraps it
            sys.stdout.write(text)
            return 0
    wizard_argv: list[str] | None = None
    if not argv and sys.stdin.isatty() and sys.stdout.isatty():
        wizard_argv = []  # no sub-command on a terminal: the wizard with defaults
    elif argv[:1] == ["wizard"]:
        wizard_argv = argv[1:]
    launch = None  # a plan's dry run, started first if a plan with these arguments ran before
    if argv[:1] == ["plan"] and not {"-h", "--help"} & set(argv):
        from oxwizard.env.early_launch import Launch

        launch = Launch.start(argv[1:])
    try:
        if wizard_argv is not None:
            # the wizard parses its own options: building every verb's parser would import the
            # engine (pydantic, the environment model) before the first paint
            from oxwizard.commands.wizard import main as wizard

            return wizard(wizard_argv)
        verb = verb_of(argv)
        parser = build_parser(() if verb is None else (verb,))
        args = parser.parse_args(argv)
        args.launch = launch
        if getattr(args, "run", None) is None:
            parser.print_help()
            return 0
        return int(args.run(args))
    except OxwizardError as exc:
        from oxwizard.core.redact import redact_text

        print(f"oxwizard: error: {redact_text(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("oxwizard: interrupted", file=sys.stderr)
        return 130
    except SystemExit as exc:
        if exc.code == 143:  # SIGTERM during an upgrade (sigterm_as_exit): said, as an interruption is
            print("oxwizard: terminated (SIGTERM)", file=sys.stderr)
        raise
    finally:
        if launch is not None:  # a dry run nobody took (a usage error, an interruption) is killed
            launch.discard()


if __name__ == "__main__":
    raise SystemExit(main())
