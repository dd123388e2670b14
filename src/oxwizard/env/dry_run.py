"""The plan's dry run, started before anything else: what makes ``oxwizard plan`` cost the dry run.

pip's dry run is most of a plan's time; everything else a plan needs (the distributions, pip check's
verdict now, pydantic and the API-impact reader imported) can be done while it runs. But its command
line comes from the environment and pip's configuration, which the command reads only after importing
the engine. So each plan remembers its dry run's command line (without the targets) with the shape of
its own arguments, and the next plan with the same arguments but for its targets starts that dry run
first thing (:mod:`oxwizard.env.early_launch`, before argparse is imported), then computes the command
line as before. The early dry run's answer is used only when that command line is the one it ran,
word for word; otherwise it is killed and the dry run runs again, so the plan is always the one the
environment and configuration of the moment give.

Not started: without a remembered shape (the first plan), when an interrupted operation waits for its
recovery, or for a target that is not plainly a name with extras and version clauses (the command line
is started before :func:`oxwizard.env.specs.parse_spec` has checked it).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from oxwizard.core import proc
from oxwizard.core.errors import InstallerError
from oxwizard.env.early_launch import REPORT, UPGRADE, UPGRADE_OPTION, Launch


class EarlyDryRun:
    """The dry run of one plan: maybe started early (``launch``), taken by the plan (:meth:`take`)
    when its command line is the plan's, remembered for the next plan (:meth:`remember`)."""

    def __init__(self, launch: Launch, targets: list[str]) -> None:
        self.launch = launch
        self.targets = targets  # as typed
        self._started = time.monotonic()

    def take(
        self, argv: list[str], report: Path | None, running: threading.Event | None = None
    ) -> tuple[proc.Completed, Path] | None:
        """The early dry run's outcome and report file when it ran ``argv`` (whose report goes to
        ``report``; uv's: None, its environment's additions first as ``NAME=VALUE``), after waiting
        for it (``running`` set before the wait); else None, and the early one is stopped."""
        started = self.launch.argv
        if started is None:
            return None
        mine = self.launch.report
        if [mine if report is not None and a == str(report) else a for a in argv] != started:
            self.cancel()
            return None
        if running is not None:
            running.set()
        code, out, err = self.launch.wait()
        return proc.Completed(tuple(started), code, out, err, time.monotonic() - self._started), Path(mine)

    def remember(self, argv: list[str], report: Path | None, root: Path) -> None:
        """Keep ``argv`` (a dry run's command line that wrote ``report``, as :meth:`take` has it),
        without its targets, for the next plan with the same arguments. Never one with credentials
        in it."""
        from oxwizard.core.redact import redact_text

        head = [
            REPORT if report is not None and a == str(report) else a for a in argv[: argv.index("--") + 1]
        ]
        upgrades = [i for i, a in enumerate(head) if a.startswith(UPGRADE_OPTION)]
        if upgrades:  # uv's, one per target: they stand for the next plan's targets
            head[upgrades[0] : upgrades[-1] + 1] = [UPGRADE]
        if any(redact_text(a) != a for a in head):
            return
        try:
            self.launch.remember(self.targets, head, str(root))
        except OSError:
            pass  # a read-only home: the early start is an optimisation only

    def cancel(self) -> None:
        """Stop the early dry run (if it runs) and forget it."""
        self.launch.discard()
        self.launch.argv = None

    def close(self) -> None:
        """Remove the early dry run's files (after the plan read its report)."""
        self.launch.discard()


def read_report(path: Path) -> dict[str, object]:
    """pip's ``--report`` written to ``path`` (a JSON object), or why not."""
    import json

    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        report = None
    if not isinstance(report, dict):
        raise InstallerError("pip wrote no readable --report (pip 22.2 or newer needed)")
    return report
