"""``oxwizard replay``: replay a saved runbook unattended (CI, staging, every host of a fleet).

Validates everything before any change (exit 2 on refusal), then runs the recorded flow; ``--dry-run``
stops after validation and prints what would happen; ``--json`` prints one final report. Every replay
that got as far as reading the runbook is committed to the runbook's repository (the audit trail).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from oxwizard.commands.common import (
    add_env,
    add_index,
    add_project,
    flags_from,
    open_env,
    project_from,
    say,
)
from oxwizard.core.errors import OxwizardError, UntrustedRunbook, UsageError

if TYPE_CHECKING:
    from oxwizard.runbook.report import ReplayReport


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "replay",
        help="replay a saved runbook unattended: same plan, same checks, rollback on any failed gate",
        description="Replay a recorded runbook without a terminal and without questions. Before any "
        "change the runbook, the environment, the targets' versions, the env lock and the recomputed "
        "plan are checked (exit 2 on refusal). Exit codes: 0 upgraded and verified (or already applied), "
        "1 a gate failed and the env was rolled back and verified, 2 refused before any change, "
        "3 rollback failed or unverified (needs a person). See docs/replay.md.",
    )
    p.add_argument("runbook", metavar="RUNBOOK", help="the runbook file (PROJECT/.oxwizard/runbooks/ID.json)")
    add_env(p)
    add_project(p)
    p.add_argument("--json", action="store_true", help="print one final JSON report (schema: docs/replay.md)")
    p.add_argument(
        "--allow-drift",
        action="store_true",
        help="install the recorded plan even if the plan recomputed now differs (never a different artefact)",
    )
    p.add_argument("--dry-run", action="store_true", help="check everything, print what would happen, stop")
    p.add_argument(
        "--trust",
        action="store_true",
        help="replay a runbook that is not committed, as read, in this project's runbook repository "
        "(it names commands that will run)",
    )
    p.add_argument("--host", metavar="NAME", default=None, help="host name to record (default: this machine)")
    p.add_argument("--no-record", action="store_true", help="do not commit the replay's report (audit trail)")
    p.add_argument("--verbose", "-v", action="store_true", help="stream installer and test output")
    add_index(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from oxwizard.commands.headless import HeadlessListener
    from oxwizard.flow.replay import describe, host_name, new_report, replay, validate_replay
    from oxwizard.runbook.model import now
    from oxwizard.runbook.report import refused_report

    started = now()
    host = args.host or host_name()
    runbook_path = Path(args.runbook).expanduser().resolve()
    project = project_from(args)
    env_label = args.env or "(default environment)"
    index = flags_from(args)
    try:
        if not project.is_dir():
            raise UsageError(f"project folder not found: {project}")
        env = open_env(args)
        env_label = str(env.root)
        check = validate_replay(
            runbook_path, env, project, index, allow_drift=args.allow_drift, trust=args.trust
        )
    except OxwizardError as exc:
        report = refused_report(runbook_path, env_label, project, host, started, exc)
        if report.runbook_id and not args.no_record:
            # an untrusted runbook's repository is not this project's: its refusal is recorded here
            _record(report, project, here=isinstance(exc, UntrustedRunbook))
        if args.json:
            _print_report(report)
        print(f"oxwizard: error: {exc}", file=sys.stderr)
        return exc.exit_code

    if args.dry_run:
        report = new_report(check, host, started)
        report.outcome = "dry-run"
        report.message = "dry run: nothing was changed"
        if args.json:
            _print_report(report)
        else:
            for line in describe(check):
                say(line)
            say("dry run: nothing was changed")
        return 0

    listener = HeadlessListener(assume_yes=True, verbose=args.verbose, quiet=args.json, yes_label="replay")
    if not args.json:
        say(f"replaying {check.runbook.id} on {host}: {env.root}")
        say(f"[{check.elapsed:6.1f}s] ok   validate: runbook valid, trusted ({check.trust}), env matches")
        if check.sources_note:
            say(f"note: {check.sources_note}")
        for line in check.drift:
            say(f"drift (allowed): {line}")
    report = replay(check, listener=listener, host=host)
    if not args.no_record:
        _record(report, project)
    if args.json:
        _print_report(report)
    else:
        say(f"{report.outcome}: {report.message}")
        if report.rollback_verified is not None:
            say(f"rollback verified: {'yes' if report.rollback_verified else 'NO'}")
        if report.audit_commit:
            say(f"recorded: {report.audit_commit} in the runbook repository")
    return report.exit_code


def _record(report: ReplayReport, project: Path, *, here: bool = False) -> None:
    from oxwizard.runbook.report import record_replay

    try:
        report.audit_commit = record_replay(report, project, here=here)
    except OxwizardError as exc:
        # The audit trail is best effort: the environment's state is what the exit code reports.
        print(f"oxwizard: warning: replay not recorded: {exc}", file=sys.stderr)


def _print_report(report: ReplayReport) -> None:
    sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    sys.stdout.flush()
