"""Crash recovery: finish what an interrupted apply or rollback left, before anything else runs.

Every command that opens an environment calls :func:`recover` first, through
:func:`oxwizard.flow.upgrade.recover_recorded`, which records what it undid in the project's runbook
(registered in ``oxwizard.commands.common.ENV_OPEN_HOOKS``; the wizard calls it too). Without an
unfinished operation it costs one ``stat``. Otherwise it says what was interrupted, takes the
environment lock (an operation still running in another process is left alone) and completes the
rollback to the journal's checkpoint, which also removes the ``~`` folders pip left behind for that
operation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from oxwizard.safety.journal import pending

if TYPE_CHECKING:
    from oxwizard.env.environment import Environment
    from oxwizard.env.specs import IndexOptions
    from oxwizard.safety.rollback import RollbackResult


def recover(
    env: Environment, say: Callable[[str], None], index: Callable[[], IndexOptions | None] | None = None
) -> RollbackResult | None:
    """Complete an interrupted operation on ``env``; None when there was none (or it is still running).
    ``index`` finds the package sources a rollback needs without a stash, or to put back what changed
    outside the upgrade (called only then)."""
    if not pending(env):
        return None
    from oxwizard.core.errors import LockHeld
    from oxwizard.safety.journal import read_journal
    from oxwizard.safety.lock import env_lock, held_here
    from oxwizard.safety.rollback import rollback

    if held_here(env):
        return None  # this very process is in the middle of the operation
    try:
        with env_lock(env, "oxwizard recovery", on_stale=say):
            journal = read_journal(env)
            if journal is None:
                return None
            say(
                f"recovering {env.root}: an interrupted {journal.operation} (pid {journal.pid}, started "
                f"{journal.started_at}) is being rolled back to checkpoint {journal.checkpoint_id}"
            )
            result = rollback(env, journal.checkpoint_id, on_line=say, index=index)
    except LockHeld as exc:
        say(f"not recovering now: {exc}")
        return None
    return result
