"""``oxwizard rollback``: restore an environment to a checkpoint and verify it."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from oxwizard.commands.common import (
    add_env,
    add_index,
    add_json,
    add_project,
    existing_project,
    flags_from,
    index_from,
    note,
    open_env,
    print_json,
    project_from,
    say,
)

if TYPE_CHECKING:
    from oxwizard.env.environment import Environment
    from oxwizard.env.interpreter import InstalledView
    from oxwizard.env.specs import IndexOptions


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "rollback",
        help="restore the environment to a checkpoint (default: the newest) and verify it",
        description="Restore the environment from the checkpoint's stash (no network, no index, no pip), "
        "then verify every restored file and the environment's fingerprint. Exit 0 when restored "
        "and verified or when there is nothing to roll back, 3 when it cannot be verified. Package sources "
        "are only used when the stash is gone, to reinstall the exact pins. A rollback that restored "
        "something is recorded in the newest runbook of PROJECT/.oxwizard/ for this environment.",
    )
    add_env(p)
    add_project(p)
    p.add_argument(
        "--to", metavar="CHECKPOINT", default=None, help="checkpoint id (see: oxwizard checkpoints)"
    )
    p.add_argument(
        "--verify",
        choices=("signatures", "full"),
        default="signatures",
        help="signatures (default): a file whose inode, size, mtime and ctime are still those recorded "
        "when its sha256 was last checked is proven without reading it, any other file is hashed; "
        "full: the sha256 of every restored file (see docs/rollback.md)",
    )
    add_index(p)
    add_json(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """The rollback as users run it: a new process each time, so it imports only what restoring from
    the stash and proving it needs (no pydantic, no packaging, no engine model: tests/test_import_hygiene.py)
    and opens the environment as an :class:`~oxwizard.env.interpreter.InstalledView`. The rest is
    imported on the paths that need it: an interrupted operation to recover first, a reinstall
    without a stash, a runbook to record the rollback in."""
    from oxwizard.env.interpreter import InstalledView
    from oxwizard.safety.journal import pending
    from oxwizard.safety.lock import env_lock
    from oxwizard.safety.rollback import rollback

    existing_project(args)  # a --project typo: refused before anything is restored
    given = any(getattr(args, k, None) for k in ("index_url", "extra_index_url", "find_links", "no_index"))
    flags = flags_from(args) if given else None  # given sources are checked before anything changes
    env: InstalledView | Environment = InstalledView.open(args.env)
    if pending(env):  # an interrupted operation: recovered first, as by every command
        env = open_env(args)

    def sources() -> IndexOptions | None:
        """Only a checkpoint without a stash here needs them: pip's configuration is read then."""
        from oxwizard.env.environment import read_whole

        index = index_from(args, read_whole(env), flags)
        return index if index.find_links or index.index_url or index.extra_index_urls else None

    with env_lock(env, "oxwizard rollback" + (f" --to {args.to}" if args.to else ""), on_stale=note):
        result = rollback(
            env, args.to, on_line=None if args.json else say, index=sources, verify=args.verify, reread=False
        )
        recorded = None
        # already rolled back to that checkpoint: its record may have been lost to a kill
        lost = result.noop and result.restored_before
        if not result.noop or lost:
            from oxwizard.core.places import runbook_repo_path

            project = project_from(args)
            if (runbook_repo_path(project) / ".git").is_dir():
                from oxwizard.env.environment import read_whole  # the flow and runbook: only when recorded
                from oxwizard.flow.upgrade import record_lost_rollback, record_rollback

                recorded = (
                    record_lost_rollback(project, read_whole(env), result)
                    if lost
                    else record_rollback(project, read_whole(env), result, "oxwizard rollback", on_line=say)
                )
    if recorded is not None and not args.json:
        say(f"recorded in runbook {recorded}")
    if args.json:
        print_json(result.as_dict())
    elif result.noop:
        say(result.message)
    return 0
