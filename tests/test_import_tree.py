"""The import smoke's shared preloads (issue 14: an upgrade's own overhead): after a baseline, the
modules a group of dependents all import are imported once per phase, and each dependent is forked
from that process; a preload never changes a verdict (a failure under it is judged alone, a preload
the upgrade broke gives every dependent its own error, a hang is a timeout).

Real wheels, a real venv and the environment's own interpreter: ``oxwstack`` is a package of 60
modules that two or three dependents import; each import of ``oxwstack`` writes a line to a log.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import wheel_install, wheel_venv

from oxwizard.checks.compat import import_smoke
from oxwizard.checks.import_tree import plan_items
from oxwizard.demo.wheels import build_wheel
from oxwizard.env.environment import Environment

_LOGGED = (
    "import os, sys\nwith open(os.environ['OXW_STACK_LOG'], 'a') as f:\n    f.write('oxwstack\\n')\n"
    "print('oxwstack: a word at import', file=sys.stderr)\n"
)
_STACK = {
    "oxwstack/__init__.py": _LOGGED + "".join(f"from oxwstack import m{i}\n" for i in range(60)),
    **{f"oxwstack/m{i}.py": f"VALUE = {i}\n" for i in range(60)},
}
# imports fine alone; refuses to import when oxwstack was imported before its own first line
_PICKY = (
    'import sys\n\nif "oxwstack" in sys.modules:\n    raise ImportError("oxwstack came first")\n'
    "import oxwstack\n"
)


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tree-wheels")
    build_wheel(folder, "oxw-stack", "1.0", _STACK)
    broken = {"oxwstack/__init__.py": 'raise ImportError("stack 2.0 is broken")\n'}
    build_wheel(folder, "oxw-stack", "2.0", broken)
    crash = {"oxwstack/__init__.py": "import ctypes\n\nctypes.string_at(0)\n"}  # a segfault
    build_wheel(folder, "oxw-stack", "3.0", crash)
    for name in ("a", "b"):
        build_wheel(
            folder, f"oxw-dep-{name}", "1.0", {f"oxwdep{name}/__init__.py": "import oxwstack\n"},
            requires=["oxw-stack"],
        )  # fmt: skip
    # a second stack on top of the first (it imports oxwstack), that two more dependents import
    plot = {"oxwplot/__init__.py": _LOGGED.replace("oxwstack", "oxwplot") + "import oxwstack\n"}
    plot |= {f"oxwplot/p{i}.py": f"VALUE = {i}\n" for i in range(60)}
    plot["oxwplot/__init__.py"] += "".join(f"from oxwplot import p{i}\n" for i in range(60))
    build_wheel(folder, "oxw-plot", "1.0", plot, requires=["oxw-stack"])
    for name in ("c", "d"):
        build_wheel(
            folder, f"oxw-dep-{name}", "1.0", {f"oxwdep{name}/__init__.py": "import oxwplot\n"},
            requires=["oxw-plot"],
        )  # fmt: skip
    stubborn = (  # hangs, deaf to the alarm that ends a module's time
        "import os, signal, time\n\nwith open(os.environ['OXW_PID_FILE'], 'w') as f:\n"
        "    f.write(str(os.getpid()))\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\ntime.sleep(600)\n"
    )
    build_wheel(folder, "oxw-dep-stubborn", "1.0", {"oxwdepstubborn/__init__.py": stubborn})
    # ends its interpreter, successfully, in the middle of its import
    build_wheel(folder, "oxw-dep-quits", "1.0", {"oxwdepquits/__init__.py": "import os\n\nos._exit(0)\n"})
    build_wheel(folder, "oxw-dep-zz", "1.0", {"oxwdepzz/__init__.py": ""})  # named last
    lazy = {"oxwdeplazy/__init__.py": "def use():\n    import oxwstack\n\n    return oxwstack\n"}
    build_wheel(folder, "oxw-dep-lazy", "1.0", lazy, requires=["oxw-stack"])  # imports it when used
    build_wheel(folder, "oxw-dep-picky", "1.0", {"oxwdeppicky/__init__.py": _PICKY}, requires=["oxw-stack"])
    build_wheel(
        folder, "oxw-dep-hang", "1.0",
        {"oxwdephang/__init__.py": "import oxwstack, os\nif os.environ.get('OXW_HANG'):\n"
         "    import time\n    time.sleep(60)\n"},
        requires=["oxw-stack"],
    )  # fmt: skip
    return folder


def _env(path: Path, wheels: Path, *specs: str) -> Environment:
    return Environment.open(wheel_venv(path, wheels, *specs))


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OXWIZARD_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "stack.log"
    monkeypatch.setenv("OXW_STACK_LOG", str(path))
    return path


def _imports(log: Path) -> int:
    """How many times oxwstack was imported since the last call."""
    count = len(log.read_text().split()) if log.exists() else 0
    log.unlink(missing_ok=True)
    return count


def test_a_stack_its_dependents_share_is_imported_once_per_phase(
    tmp_path: Path, wheels: Path, log: Path
) -> None:
    env = _env(tmp_path / "venv", wheels, "oxw-stack==1.0", "oxw-dep-a", "oxw-dep-b")
    before = import_smoke(env, ["oxw-stack"], at_baseline=True)
    assert before.status == "pass", before
    assert before.details["modules"] == ["oxwdepa", "oxwdepb", "oxwstack"]
    assert _imports(log) == 3, "the first baseline knows nothing yet: each module in a fresh interpreter"
    after = import_smoke(env, ["oxw-stack"], baseline=before)
    assert (after.status, after.summary) == ("pass", "3 modules import (1 upgraded, 2 dependents)")
    assert _imports(log) == 1, "the next phase imports the shared stack once, and forks each module from it"
    # what the stack prints at import shows with each module, as when each imported it alone
    assert after.output.count("oxwstack: a word at import") == before.output.count("oxwstack: a word") == 3
    again = import_smoke(env, ["oxw-stack"], at_baseline=True)  # the next run's baseline: kept between runs
    assert again.status == "pass" and _imports(log) == 1


def test_stacks_on_stacks_are_each_imported_once(tmp_path: Path, wheels: Path, log: Path) -> None:
    """oxwplot imports oxwstack; oxwdepc and oxwdepd import oxwplot, oxwdepa only oxwstack: the
    process that imported oxwstack forks the one that imports oxwplot on top of it."""
    env = _env(tmp_path / "venv", wheels, "oxw-stack==1.0", "oxw-dep-a", "oxw-dep-c", "oxw-dep-d")
    both = ["oxw-stack", "oxw-plot"]  # both upgraded: their dependents are smoked
    before = import_smoke(env, both, at_baseline=True)
    assert before.details["modules"] == ["oxwdepa", "oxwdepc", "oxwdepd", "oxwplot", "oxwstack"]
    assert sorted(log.read_text().split()) == ["oxwplot"] * 3 + ["oxwstack"] * 5
    log.unlink()
    after = import_smoke(env, both, baseline=before)
    assert (after.status, after.details["failing"]) == ("pass", []), after
    assert sorted(log.read_text().split()) == ["oxwplot", "oxwstack"]


def test_a_stack_shared_beyond_a_group_is_preloaded_once_under_it() -> None:
    """a and b share a big stack on top of a smaller one that c and d import too (seaborn and
    formulaic on pandas, numpy under it, beside scikit-learn): the group of a and b, chosen first,
    is nested under the smaller stack's preload, which is imported once in the whole tree."""
    small, big = [f"s{i}" for i in range(50)], [f"t{i}" for i in range(200)]
    sets = {"a": [*small, *big, "a"], "b": [*small, *big, "b"], "c": [*small, "c"], "d": [*small, "d"]}
    items = plan_items(["a", "b", "c", "d"], sets, {})

    def preloads(items: list[dict[str, Any]]) -> list[str]:
        return [m for it in items if "preload" in it for m in [*it["preload"], *preloads(it["items"])]]

    assert sorted(preloads(items)) == sorted(small + big), "each shared module preloaded once"
    [outer] = items
    assert outer["preload"] == small
    inner = [it for it in outer["items"] if "preload" in it]
    assert [it["preload"] for it in inner] == [big]
    assert sorted(it["leaf"] for it in inner[0]["items"]) == ["a", "b"]
    assert sorted(it["leaf"] for it in outer["items"] if "leaf" in it) == ["c", "d"]


def test_a_failure_under_a_preload_is_judged_alone(tmp_path: Path, wheels: Path, log: Path) -> None:
    env = _env(tmp_path / "venv", wheels, "oxw-stack==1.0", "oxw-dep-a", "oxw-dep-picky")
    before = import_smoke(env, ["oxw-stack"], at_baseline=True)
    assert before.status == "pass", before
    _imports(log)
    after = import_smoke(env, ["oxw-stack"], baseline=before)
    assert after.status == "pass" and after.details["failing"] == [], after
    # the stack once for the group, once more for oxwdeppicky's import alone, which is the verdict
    assert _imports(log) == 2


def test_an_upgrade_that_breaks_the_shared_stack_fails_each_dependent(
    tmp_path: Path, wheels: Path, log: Path
) -> None:
    env = _env(tmp_path / "venv", wheels, "oxw-stack==1.0", "oxw-dep-a", "oxw-dep-b")
    before = import_smoke(env, ["oxw-stack"], at_baseline=True)
    wheel_install(tmp_path / "venv", wheels, "oxw-stack==2.0")
    env.refresh()
    after = import_smoke(env, ["oxw-stack"], baseline=before)
    assert after.status == "fail"
    assert after.details["failed"] == [
        f"{m} (oxw-{d}): ImportError: stack 2.0 is broken"
        for m, d in (("oxwdepa", "dep-a"), ("oxwdepb", "dep-b"), ("oxwstack", "stack"))
    ], after.details
    first = "oxwdepa (oxw-dep-a): ImportError: stack 2.0 is broken"
    assert after.summary.startswith(f"3 of 3 imports fail: {first}")


def test_a_module_that_hangs_under_a_preload_times_out(
    tmp_path: Path, wheels: Path, log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _env(tmp_path / "venv", wheels, "oxw-stack==1.0", "oxw-dep-a", "oxw-dep-hang")
    before = import_smoke(env, ["oxw-stack"], at_baseline=True)
    assert before.status == "pass", before
    monkeypatch.setenv("OXW_HANG", "1")
    after = import_smoke(env, ["oxw-stack"], baseline=before, timeout=2)
    assert after.status == "fail"
    assert after.details["failed"] == ["oxwdephang (oxw-dep-hang): timed out after 2 s"], after.details
    assert after.details["failing"] == ["oxwdephang"]


@pytest.mark.timeout(120)  # a token lost with the crashed preload: the smoke waited for its timeout
def test_a_preload_that_crashes_leaves_no_module_waiting(tmp_path: Path, wheels: Path, log: Path) -> None:
    """The shared stack now crashes the interpreter (a segfault) while the process that preloads it
    holds the only token (one core): its modules still get their own verdicts, and the module that
    does not import the stack (started after it) its own, at once."""
    env = _env(tmp_path / "venv", wheels, "oxw-stack==1.0", "oxw-dep-a", "oxw-dep-b", "oxw-dep-lazy")
    before = import_smoke(env, ["oxw-stack"], at_baseline=True)
    wheel_install(tmp_path / "venv", wheels, "oxw-stack==3.0")
    env.refresh()
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    try:
        after = import_smoke(env, ["oxw-stack"], baseline=before)
    finally:
        os.sched_setaffinity(0, cores)
    assert after.status == "fail"
    assert after.details["failing"] == ["oxwdepa", "oxwdepb", "oxwstack"]
    assert after.details["modules"] == ["oxwdepa", "oxwdepb", "oxwdeplazy", "oxwstack"]
    for line in after.details["failed"]:
        assert "interpreter exited -11" in line, after.details["failed"]


def test_a_module_deaf_to_its_alarm_is_killed_with_its_tree(
    tmp_path: Path, wheels: Path, log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A module that ignores SIGALRM outlives its own time: the smoke's whole process group is
    killed when the smoke's time is up, and nothing is left running after it."""
    env = _env(tmp_path / "venv", wheels, "oxw-dep-stubborn")
    pid_file = tmp_path / "pid"
    monkeypatch.setenv("OXW_PID_FILE", str(pid_file))
    smoke = import_smoke(env, ["oxw-dep-stubborn"], timeout=1)
    timed_out = "oxwdepstubborn (oxw-dep-stubborn): timed out after 1 s"
    assert smoke.details["failed"] == [timed_out], smoke.details
    pid = int(pid_file.read_text())
    for _ in range(100):  # SIGKILL is sent: the process ends a moment later
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except FileNotFoundError:
            state = "gone"
        if state in ("gone", "Z"):
            break
        time.sleep(0.05)
    assert state in ("gone", "Z"), f"the module's process {pid} still runs ({state})"


@pytest.mark.timeout(120)  # its token lost: every module after it waited for the smoke's timeout
def test_a_module_that_ends_its_interpreter_is_a_failure_and_the_rest_go_on(
    tmp_path: Path, wheels: Path, log: Path
) -> None:
    """On one core, the module that ends its interpreter holds the only token (it starts first, by
    name): the module after it still gets its turn."""
    env = _env(tmp_path / "venv", wheels, "oxw-dep-quits", "oxw-dep-zz")
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})
    try:
        smoke = import_smoke(env, ["oxw-dep-quits", "oxw-dep-zz"], at_baseline=True)
    finally:
        os.sched_setaffinity(0, cores)
    assert smoke.details["modules"] == ["oxwdepquits", "oxwdepzz"]
    assert smoke.details["failing_before"] == ["oxwdepquits (oxw-dep-quits): interpreter exited 0"], smoke
