"""The plan's dry run, started before anything else: what makes ``oxwizard plan`` cost the dry run.

pip's dry run is most of a plan's time; everything else a plan needs (the distributions, pip check's
verdict now, pydantic and the API-impact reader imported) can be done while it runs. But its command
line comes from the environment and pip's configuration, which the command reads only after importing
the engine. So each plan remembers its dry run's command line (without the targets) in the cache,
keyed on the interpreter and the options it was given; the next plan with the same ones starts the
dry run with it at once, before pydantic is imported (this module imports neither pydantic nor
packaging), then computes the command line as before. The early dry run's answer is used only when
that command line is the one it ran, word for word; otherwise it is killed and the dry run runs again,
so the plan is always the one the environment and configuration of the moment give.

Not started: without a remembered command line (the first plan), when an interrupted operation waits
for its recovery, or for a target that is not plainly a name with extras and version clauses (the
command line is started before :func:`oxwizard.env.specs.parse_spec` has checked it).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from pathlib import Path

from oxwizard.core import proc
from oxwizard.env.interpreter import probe_cache_dir

REPORT = "{report}"  # where the report's path stands in a remembered command line
# A target started early: a name, extras, version clauses; never a path, a URL, a marker or an option.
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-[],=<>!~*+")


def _plain(text: str) -> bool:
    return bool(text) and text[0].isascii() and text[0].isalnum() and set(text) <= _PLAIN


class EarlyDryRun:
    """The dry run of one plan: maybe started early (:meth:`start`), taken by the plan (:meth:`take`)
    when its command line is the plan's, remembered for the next plan (:meth:`remember`)."""

    def __init__(self, python: Path, context: list[str]) -> None:
        self.python = python
        key = hashlib.sha256("\0".join([str(python), *context]).encode()).hexdigest()[:32]
        self.path = probe_cache_dir().parent / "dry-run" / f"{key}.json"
        self.argv: list[str] | None = None  # the command line started early, None when not started
        self._report: Path | None = None  # the early dry run's report file
        self._done: proc.Completed | None = None
        self._stopper = proc.Stopper()
        self._thread: threading.Thread | None = None

    def start(self, specs: list[str]) -> Path | None:
        """Start the remembered command line for ``specs`` (as typed) unless there is none or a target
        is not plain. The environment's root (as when the command line was remembered) when started."""
        if not specs or not all(_plain(s) for s in specs):
            return None
        try:
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            head, root = saved["argv"], Path(saved["root"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not self._runnable(head):
            return None
        self._report = self.path.with_name(f"report-{os.getpid()}-{id(self)}.json")
        self.argv = [str(self._report) if a == REPORT else a for a in head] + list(specs)
        self._thread = threading.Thread(
            target=self._run, args=(self.argv,), name="early-dry-run", daemon=True
        )
        self._thread.start()
        return root

    def _runnable(self, head: object) -> bool:
        """A dry run of pip's, by this interpreter or oxwizard's own (``pip --python``), as remembered."""
        return (
            isinstance(head, list)
            and all(isinstance(a, str) for a in head)
            and head[:1] in ([str(self.python)], [sys.executable])
            and head[1:3] == ["-m", "pip"]
            and "--dry-run" in head
            and head.count(REPORT) == 1
            and head[-1:] == ["--"]
        )

    def _run(self, argv: list[str]) -> None:
        with self._stopper.active():  # a child of its own group: cancel() kills it
            self._done = proc.run(argv, env=proc.pip_environment(), timeout=600)

    def take(self, argv: list[str], report: Path) -> tuple[proc.Completed, Path] | None:
        """The early dry run's outcome and report file when it ran ``argv`` (whose report goes to
        ``report``), after waiting for it; else None, and the early one is stopped."""
        mine = self._report
        if self.argv is None or self._thread is None or mine is None:
            return None
        if [str(mine) if a == str(report) else a for a in argv] != self.argv:
            self.cancel()
            return None
        self._thread.join()
        assert self._done is not None
        return self._done, mine

    def remember(self, argv: list[str], report: Path, root: Path) -> None:
        """Keep ``argv`` (a dry run's command line that wrote ``report``), without its targets, for the
        next plan with the same interpreter and options. Never one with credentials in it."""
        from oxwizard.core.redact import redact_text

        head = [REPORT if a == str(report) else a for a in argv[: argv.index("--") + 1]]
        text = json.dumps({"argv": head, "root": str(root)})
        if redact_text(text) != text:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(tmp, self.path)
        except OSError:
            pass  # a read-only home: the early start is an optimisation only

    def cancel(self) -> None:
        """Stop the early dry run (if it runs) and forget it."""
        if self._thread is not None:
            self._stopper.stop("cancel", "the plan's command line differs", force=True)
            self._thread.join()
        self.argv = None
        self.close()

    def close(self) -> None:
        """Remove the early dry run's files (after the plan read its report)."""
        if self._thread is not None and self._thread.is_alive():
            self._stopper.stop("cancel", "the plan ended", force=True)
            self._thread.join()
        if self._report is not None:
            self._report.unlink(missing_ok=True)
            self._report = None
