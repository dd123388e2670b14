"""Test-only fault injection: ``OXWIZARD_TEST_KILL_AT="<phase>:<N>"`` makes the engine SIGKILL itself.

Only the test suite sets these variables. ``apply:N`` kills after the N-th line of installer output
(``apply:0``: right after the journal is written), ``rollback:N`` after the N-th file operation of a
rollback. It simulates a power loss at an exact point, so recovery can be tested at every point.
``OXWIZARD_TEST_SLOW_AT="apply:<seconds>"`` sleeps after each installer line of a journaled (live)
apply, so an end-to-end test can hang up the terminal while an install is really in progress;
``apply-staging:<seconds>`` does the same for the install in the staging copy.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

KILL_ENV = "OXWIZARD_TEST_KILL_AT"
SLOW_ENV = "OXWIZARD_TEST_SLOW_AT"


def kill_at(phase: str) -> int | None:
    """N when the test hook asks to die in ``phase``, else None."""
    spec = os.environ.get(KILL_ENV, "")
    name, _, count = spec.partition(":")
    if name != phase or not count.isdigit():
        return None
    return int(count)


def slow_at(phase: str) -> float:
    """Seconds to pause after each step of ``phase`` (0.0 unless a test asks for it)."""
    name, _, seconds = os.environ.get(SLOW_ENV, "").partition(":")
    try:
        return float(seconds) if name == phase else 0.0
    except ValueError:
        return 0.0


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def kill_counter(phase: str) -> Callable[[], None]:
    """A function to call after each step of ``phase``; it kills the process at the N-th call."""
    limit = kill_at(phase)
    if limit is None:
        return _nothing
    count = 0

    def tick() -> None:
        nonlocal count
        count += 1
        if count >= limit:
            die()

    if limit == 0:
        die()
    return tick


def _nothing() -> None:
    return None
