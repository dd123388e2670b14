"""Running child processes: what an installer started by the wizard survives, and what it does not."""

from __future__ import annotations

import signal
import sys

from oxwizard.core import proc

# The child hangs itself up (as a lost terminal would), then says whether it is still alive.
HANG_UP_SELF = "import os, signal; os.kill(os.getpid(), signal.SIGHUP); print('still here', flush=True)"


def test_a_child_started_with_ignore_hangup_survives_a_hang_up() -> None:
    lines: list[str] = []
    done = proc.stream([sys.executable, "-c", HANG_UP_SELF], on_line=lines.append, ignore_hangup=True)
    assert done.returncode == 0 and lines == ["still here"]
    assert done.argv == (sys.executable, "-c", HANG_UP_SELF)  # reported as the command it ran


def test_without_it_a_hang_up_ends_the_child() -> None:
    lines: list[str] = []
    done = proc.stream([sys.executable, "-c", HANG_UP_SELF], on_line=lines.append)
    assert done.returncode == -signal.SIGHUP and lines == []


def test_a_missing_program_is_exit_127_either_way() -> None:
    for ignore in (False, True):
        done = proc.stream(["/definitely/not/a/program"], on_line=lambda _l: None, ignore_hangup=ignore)
        assert done.returncode == 127


_NICE = "import os; print(os.getpriority(os.PRIO_PROCESS, 0))"
# a child that forks once it has read its input: the fork's priority, as the import smoke's tree
_FORKED = (
    "import os, sys; sys.stdin.read(); pid = os.fork()\n"
    "if pid == 0: print(os.getpriority(os.PRIO_PROCESS, 0)); os._exit(0)\n"
    "os.waitpid(pid, 0)"
)


def test_work_in_background_starts_its_children_at_a_lower_priority() -> None:
    import os

    ours = os.getpriority(os.PRIO_PROCESS, 0)
    lower = min(19, ours + 10)
    assert int(proc.run([sys.executable, "-c", _NICE]).stdout) == ours
    assert int(proc.in_background(proc.run, [sys.executable, "-c", _NICE]).stdout) == lower
    forked = proc.in_background(lambda: proc.run([sys.executable, "-c", _FORKED], stdin_data="plan"))
    assert int(forked.stdout) == lower
    lines: list[str] = []
    proc.in_background(lambda: proc.stream([sys.executable, "-c", _NICE], on_line=lines.append))
    assert [int(n) for n in lines] == [lower]
    assert int(proc.run([sys.executable, "-c", _NICE]).stdout) == ours, "only the work's own children"
