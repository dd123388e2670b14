"""``oxwizard wizard`` (and ``oxwizard`` with no sub-command): the full-screen wizard.

Kept light on purpose: this module imports neither the engine nor Textual at import time, and the
no-sub-command path (:func:`main`) does not build the parser of every other verb, so the first
screen paints as early as a minimal Textual app's would.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from oxwizard.env.environment import Environment
    from oxwizard.flow.upgrade import ResumeInfo
    from oxwizard.tui.app import WizardApp


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "specs", nargs="*", metavar="SPEC", help="targets to plan right away, e.g. 'oxzep7==1.5.0'"
    )
    p.add_argument(
        "--env",
        metavar="PATH",
        default=None,
        help="virtual environment folder or Python executable (default: $VIRTUAL_ENV, else ./.venv)",
    )
    p.add_argument("--project", metavar="DIR", default=None, help="the project folder (default: .)")
    # as commands.common.add_index, which this light module does not import (first paint)
    group = p.add_argument_group(
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
    p.add_argument("--rounds", type=int, default=None, metavar="N", help="monitoring rounds after promotion")
    p.add_argument("--interval", type=float, default=None, metavar="S", help="seconds between rounds")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "wizard",
        help="open the full-screen wizard (also what `oxwizard` with no command does)",
        description="Prepare (plan, risk, staging, baseline, checkpoint), execute (install in staging, "
        "checks, promote, checks on live) and monitor an upgrade, with R to roll back from any screen.",
    )
    add_arguments(p)
    p.set_defaults(run=run)


def main(argv: Sequence[str] = ()) -> int:
    """The no-sub-command entry point: parse only the wizard's own options."""
    from oxwizard.commands.common import Parser

    parser = Parser(
        prog="oxwizard wizard",
        description="Prepare (plan, risk, staging, baseline, checkpoint), execute (install in staging, "
        "checks, promote, checks on live) and monitor an upgrade, with R to roll back from any screen.",
    )
    add_arguments(parser)
    return run(parser.parse_args(list(argv)))


def build_app(args: argparse.Namespace) -> WizardApp:
    from oxwizard.tui.app import WizardApp
    from oxwizard.tui.tasks import Sources

    sources = Sources(
        index_url=args.index_url,
        extra_index_urls=list(args.extra_index_url),
        find_links=[str(Path(p).resolve()) if "://" not in p else p for p in args.find_links],
        no_index=bool(args.no_index),
        isolated=bool(args.isolated),
    )
    return WizardApp(
        env_path=args.env,
        project=Path(args.project or "."),
        sources=sources,
        specs=list(getattr(args, "specs", []) or []),
        monitor_rounds=args.rounds,
        monitor_interval=args.interval,
    )


def run(args: argparse.Namespace) -> int:
    from oxwizard.core.errors import UsageError

    for flag, value in (("--env", args.env), ("--project", args.project)):
        if value is not None and not Path(value).exists():
            # before the screen opens: a typo gets the same one-line error as every other verb
            raise UsageError(f"{flag}: no such file or folder: {value}")
    app = build_app(args)
    return launch_app(app, Reopen.wizard(args))


def prog() -> str:
    """How to call this oxwizard again: ``oxwizard`` when that is on PATH, else its full path
    (``./scripts/demo`` runs ``.venv/bin/oxwizard``, which is not on PATH), or
    ``PYTHON -m oxwizard`` when it was started that way."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "__main__.py" and argv0.parent.name == "oxwizard":
        return f"{shlex.quote(sys.executable)} -m oxwizard"
    here = argv0.resolve() if argv0.name == "oxwizard" else None
    found = shutil.which("oxwizard")
    if here is None or (found is not None and Path(found).resolve() == here):
        return "oxwizard"
    return shlex.quote(str(argv0.absolute()))


@dataclass(frozen=True)
class Reopen:
    """The command that opens this wizard again on the same environment, project and sources."""

    env_path: str | None  # as given; None: $VIRTUAL_ENV, else ./.venv (named in full once opened)
    project: Path
    demo_root: Path | None = None  # the demo reopens with ``oxwizard demo DIR``
    options: tuple[str, ...] = ()  # sources and monitoring options, as given

    @classmethod
    def wizard(cls, args: argparse.Namespace) -> Reopen:
        from oxwizard.core.redact import redact_url

        options: list[str] = []
        if args.index_url:
            options += ["--index-url", redact_url(args.index_url)]
        for url in args.extra_index_url:
            options += ["--extra-index-url", redact_url(url)]
        for where in args.find_links:
            options += ["--find-links", where if "://" in where else str(Path(where).resolve())]
        if args.no_index:
            options.append("--no-index")
        if args.isolated:
            options.append("--isolated")
        if args.rounds is not None:
            options += ["--rounds", str(args.rounds)]
        if args.interval is not None:
            options += ["--interval", f"{args.interval:g}"]
        env_path = str(Path(args.env).absolute()) if args.env else None
        return cls(env_path, Path(args.project or ".").resolve(), options=tuple(options))

    @classmethod
    def demo(cls, root: Path) -> Reopen:
        return cls(str(root / "project" / ".venv"), root / "project", demo_root=root)

    def command(self, env: Environment | None) -> str:
        if self.demo_root is not None:
            return f"{prog()} demo {shlex.quote(str(self.demo_root))}"
        where = str(env.prefix) if env is not None else self.env_path
        argv = ["wizard", *(["--env", where] if where else []), "--project", str(self.project), *self.options]
        return " ".join([prog(), *(shlex.quote(a) for a in argv)])


def _exit_after_hangup(app: WizardApp, screen_closed: threading.Event) -> None:
    """With no terminal left, a UI that cannot exit on its own must not linger: once the running
    step has finished (the journal and runbook are consistent), give the app a moment to close,
    then end. Once it has closed, :func:`launch_app` finishes the rest itself."""
    app.flow_done.wait()
    if not screen_closed.wait(2.0):
        os._exit(129)


class _Workers(ThreadPoolExecutor):
    """The app's thread workers (the flow, a rollback, a plan): they run on this executor, so that
    after the screen has closed we know what still runs and wait for it ourselves, saying so,
    instead of ``asyncio.run`` joining them silently in front of a blank terminal."""

    def __init__(self) -> None:
        super().__init__(thread_name_prefix="oxwizard-worker")
        self._futures: set[Future[Any]] = set()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future = super().submit(fn, *args, **kwargs)
        self._futures = {f for f in self._futures if not f.done()} | {future}
        return future

    def running(self) -> list[Future[Any]]:
        return [f for f in self._futures if not f.done()]


def launch_app(app: WizardApp, reopen: Reopen) -> int:
    """Run the app; a hang-up (SSH lost) ends the UI but lets the running step finish. However it
    ends, wait for what still runs (saying what it is), then print one line: where things stand
    and the command that reopens the wizard."""
    import asyncio  # here, not at the top: `oxwizard wizard --help` does not need it

    screen_closed = threading.Event()
    hung_up = threading.Event()

    def hangup(_signum: int, _frame: FrameType | None) -> None:
        # The terminal is gone: stop asking, let the flow thread finish its step and stop at the
        # next question (its runbook then shows where it stands; the next start offers resume).
        hung_up.set()
        app.listener.abandon()
        if not screen_closed.is_set():  # after it closed, the wait below carries on by itself
            # thread-safe: it wakes the event loop, which may be idle in select() (nothing to draw)
            loop.call_soon_threadsafe(app.exit, 129)
            threading.Thread(target=_exit_after_hangup, args=(app, screen_closed), daemon=True).start()

    workers = _Workers()
    loop = asyncio.new_event_loop()
    loop.set_default_executor(workers)
    asyncio.set_event_loop(loop)
    previous = signal.signal(signal.SIGHUP, hangup) if hasattr(signal, "SIGHUP") else None
    try:
        code = app.run(loop=loop)
        screen_closed.set()
        if workers.running():
            app.listener.abandon()
            _wait(app, workers, reopen)
        _tell(sys.stdout, exit_line(reopen))
    finally:
        if previous is not None:
            signal.signal(signal.SIGHUP, previous)
        asyncio.set_event_loop(None)
        loop.close()
    if hung_up.is_set() or _input_thread_left():
        # The terminal went away while the app closed: Textual's input thread can be left reading
        # the dead tty (EOF at once, so it spins a core) and, not being a daemon, it would keep the
        # process alive for ever. Everything is recorded and every worker has ended by now.
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(int(code or 0))
    return int(code or 0)


def _input_thread_left() -> bool:
    """True when Textual's input thread outlived the app (its terminal is gone)."""
    return any(t.name == "textual-input" and t.is_alive() for t in threading.enumerate())


def _wait(app: WizardApp, workers: _Workers, reopen: Reopen) -> None:
    """Wait for the running step, on one line (rewritten in place on a terminal) that says what it
    is and follows it as it goes. ctrl+c here reaches the running command too (same process group),
    but the wait goes on until the flow has ended, so the environment is left consistent."""
    from oxwizard.core.errors import OxwizardError
    from oxwizard.env.environment import Environment

    try:
        env: Environment | None = Environment.open(reopen.env_path)
    except OxwizardError:
        env = None
    step = _RunningStep(app)
    shown = ""
    in_place = _isatty(sys.stderr)
    while running := workers.running():
        step.follow(app)
        what = step.describe(reopen.project, env)
        line = f"oxwizard: waiting for the running step{f' ({what})' if what else ''} to end…"
        if line != shown:
            if in_place:  # one line, kept within the terminal's width so that it can be rewritten
                width = shutil.get_terminal_size().columns - 1
                fitted = line if len(line) <= width else line[: max(width - 1, 0)] + "…"
                _tell(sys.stderr, ("\r\x1b[K" if shown else "") + fitted, end="")
            else:
                _tell(sys.stderr, line)
            shown = line
        try:
            wait(running, timeout=0.25)
        except KeyboardInterrupt:
            _tell(sys.stderr, "\noxwizard: still waiting, so that the environment is left consistent")
            shown = ""
    if shown and in_place:
        _tell(sys.stderr, "")


class _RunningStep:
    """What the flow is doing after the screen has closed: the step that was running then, followed
    through the flow's output lines (which the closed app no longer takes)."""

    def __init__(self, app: WizardApp) -> None:
        running = [event for event in app.state.steps.values() if event.status == "running"]
        self.step: str = running[-1].step if running else ""
        self.message = running[-1].message if running else ""
        self.check = ""
        self._rounds: int | None = None
        for line in app.output:
            self._read(line)

    def follow(self, app: WizardApp) -> None:
        for step, line in app.listener.drain():
            if step != self.step:
                self.step, self.message, self.check = step, "", ""
            self._read(line)

    def _read(self, line: str) -> None:
        # the checks announce themselves as "── tests", "── pip check (monitor)"; the app's own
        # headers ("── monitor ──") name the step, not a check
        if line.startswith("── ") and not line.endswith(" ──"):
            self.check = line[3:].split(" (", 1)[0].strip()

    def describe(self, project: Path, env: Environment | None) -> str:
        if not self.step:
            return ""
        if self.step == "rollback":
            return "rolling back to the checkpoint"
        what = self.message or self.step
        if self.step == "monitor":
            done, total = _monitoring(project, env)
            if self._rounds is not None and done != self._rounds:
                self.check = ""  # that round is over; the next one has not named a check yet
            self._rounds = done
            of = f" of {total}" if total else ""
            if not self.check and done:
                return f"monitoring, round {done}{of} done"
            what = f"monitoring round {done + 1}{of}"
        if self.check and self.step in {"baseline", "checks-staging", "checks-live", "monitor"}:
            return f"{what}: {self.check}"
        return what


def _monitoring(project: Path, env: Environment | None) -> tuple[int, int]:
    """Monitoring rounds the unfinished runbook has recorded so far, and how many it runs."""
    from oxwizard.flow.upgrade import start_state

    resume, _last = start_state(project, env)
    if resume is None:
        return 0, 0
    runbook = resume.runbook
    return sum(1 for d in runbook.decisions if d.step == "monitor"), runbook.options.monitor_rounds


def exit_line(reopen: Reopen) -> str:
    """One line: where things stand for this environment (from its newest runbook), and the command
    that reopens the wizard on it."""
    from oxwizard.core.errors import OxwizardError
    from oxwizard.env.environment import Environment
    from oxwizard.flow.upgrade import start_state

    try:
        env: Environment | None = Environment.open(reopen.env_path)
    except OxwizardError as exc:
        return f"nothing changed ({exc}) · reopen: {reopen.command(None)}"
    resume, last = start_state(reopen.project, env)
    return f"{standing(resume, last)} · reopen: {reopen.command(env)}"


# where an unfinished run that reached live stopped, by its last recorded decision
def standing(resume: ResumeInfo | None, last: str) -> str:
    """Where things stand, in words, from :func:`oxwizard.flow.upgrade.start_state`'s answer."""
    if resume is None:
        return f"last: {last}" if last else "nothing changed: no upgrade recorded for this environment yet"
    runbook = resume.runbook
    targets = ", ".join(runbook.targets)
    if resume.last_step == "rollback":  # a verified one is no unfinished upgrade (start_state)
        return f"ROLLBACK FAILED: {targets}: {runbook.decisions[-1].answer} (a person must look)"
    if resume.live_touched:
        from oxwizard.flow.steps import label

        where = "during monitoring" if resume.last_step == "monitor" else f"after {label(resume.last_step)}"
        rounds = sum(1 for d in runbook.decisions if d.step == "monitor")
        if resume.last_step == "monitor" and rounds >= runbook.options.monitor_rounds:
            where = "after monitoring, before the final decision"
        return f"unfinished: {targets} is on live, not confirmed yet (stopped {where})"
    if resume.checkpoint_id is None:
        return f"planned {targets}: nothing changed"
    return f"unfinished: {targets} stopped before reaching live, live untouched"


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError):
        return False


def _tell(stream: TextIO, text: str, end: str = "\n") -> None:
    """Print, unless the terminal is gone (a hang-up): nothing must fail for want of one."""
    try:
        print(text, end=end, file=stream, flush=True)
    except (OSError, ValueError):
        pass
