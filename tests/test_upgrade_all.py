"""``oxwizard upgrade --outdated``: upgrade everything that is safe, name what is not (issue 15).

One real run on a fresh demo sandbox (8 outdated distributions: oxzep7 2.0.0 breaks alone, alpha
2.0.0 + beta 2.0.0 break only together, gamma 2.0.0 needs delta 2.0.0), read by several assertions;
its runbook is then replayed on a second sandbox. Here quillpen 0.9.1 deprecates ``pen()``, which
the project's tests call: the promoted set brings a new warning, acknowledged as in any upgrade.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from oxwizard.commands.upgrade import outdated_targets
from oxwizard.demo.sandbox import DemoSandbox, build_demo
from oxwizard.env.environment import Environment
from oxwizard.env.specs import IndexOptions
from oxwizard.runbook.model import Runbook, load_runbook

SAFE = {"delta": "2.0.0", "gamma": "2.0.0", "humbleconf": "1.3.0", "quillpen": "0.9.1", "ziprow": "0.3.2"}
KEPT = {"oxzep7": "1.4.2", "alpha": "1.0.0", "beta": "1.0.0"}
OLD = {"delta": "1.0.0", "gamma": "1.0.0", "humbleconf": "1.2.0", "quillpen": "0.9.0", "ziprow": "0.3.1"}


def _oxwizard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oxwizard", *args], capture_output=True, text=True, timeout=1200,
        check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _sources(sandbox: DemoSandbox) -> list[str]:
    return ["--env", str(sandbox.venv), "--project", str(sandbox.project),
            "--find-links", str(sandbox.wheelhouse), "--no-index"]  # fmt: skip


def _versions(sandbox: DemoSandbox) -> dict[str, str]:
    dists = Environment.open(sandbox.venv).distributions
    return {name: dists[name].version for name in (*SAFE, *KEPT)}


_PEN = '''__version__ = "{version}"


def pen():
    """Draw with the pen."""{warn}
    return "ink"
'''
_DEPRECATED = """
    import warnings

    warnings.warn("quillpen.pen() is deprecated: use quillpen.draw()", DeprecationWarning, stacklevel=2)"""
_PEN_TEST = """import unittest

import quillpen


class PenTest(unittest.TestCase):
    def test_pen(self):
        self.assertEqual(quillpen.pen(), "ink")
"""


@pytest.fixture(scope="module")
def pen_wheelhouse(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Path:
    """The demo's wheels, with a quillpen whose 0.9.1 deprecates ``pen()``."""
    from oxwizard.demo.wheels import build_wheel

    house = tmp_path_factory.mktemp("pen-wheels") / "wheelhouse"
    shutil.copytree(wheelhouse, house)
    for version, warn in (("0.9.0", ""), ("0.9.1", _DEPRECATED)):
        (house / f"quillpen-{version}-py3-none-any.whl").unlink()
        build_wheel(
            house, "quillpen", version, {"quillpen/__init__.py": _PEN.format(version=version, warn=warn)}
        )
    return house


@pytest.fixture(scope="module")
def upgraded_all(
    tmp_path_factory: pytest.TempPathFactory, pen_wheelhouse: Path
) -> tuple[DemoSandbox, subprocess.CompletedProcess[str], Runbook, dict[str, str]]:
    sandbox = build_demo(tmp_path_factory.mktemp("upgrade-all") / "demo", wheelhouse=pen_wheelhouse)
    (sandbox.project / "tests" / "test_pen.py").write_text(_PEN_TEST, "utf-8")
    # no benchmark: the trials stay quick, and the culprits fail on tests, imports and logs anyway
    pyproject = sandbox.project / "pyproject.toml"
    text, count = re.subn(r"(?m)^benchmark-command = .*\n", "", pyproject.read_text("utf-8"))
    assert count == 1
    pyproject.write_text(text, "utf-8")
    done = _oxwizard("upgrade", "--outdated", "--yes", "--parallel", "1", "--verbose", *_sources(sandbox))
    runbooks = sorted((sandbox.project / ".oxwizard" / "runbooks").glob("*.json"))
    assert len(runbooks) == 1, done.stdout + done.stderr
    return sandbox, done, load_runbook(runbooks[0]), _versions(sandbox)


Run = tuple[DemoSandbox, subprocess.CompletedProcess[str], Runbook, dict[str, str]]


def test_everything_else_is_promoted_and_the_culprits_are_named(upgraded_all: Run) -> None:
    _, done, _, versions = upgraded_all
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert versions == {**SAFE, **KEPT}
    assert "outdated (major): 8 targets:" in out
    assert re.search(r"at most \d+ trials for one culprit", out), out
    # the culprit alone, with its evidence; the pair, named as a pair
    assert re.search(r"oxzep7 2\.0\.0: [^\n]*tests: [^\n]*newly failing: [^\n]*test_render", out), out
    assert re.search(
        r"alpha 2\.0\.0 \+ beta 2\.0\.0 together: tests: [^\n]*newly failing: test_theme", out
    ), out
    promote = "5 of 8 targets pass together: install them on live? -> promote (--yes): install the ones"
    # quillpen 0.9.1's new warning is acknowledged after the set is chosen, before live is touched
    ack = "1 new warning(s) with the new version: acknowledge and install on live? -> acknowledge (--yes)"
    assert promote in out and ack in out, out
    assert out.index(promote) < out.index(ack) < out.index("ok   promote: installed in live"), out
    final = out.strip().splitlines()[-2]
    assert final.startswith("upgraded:") and "not promoted: alpha 2.0.0 + beta 2.0.0 together" in final
    # one line per trial as it runs; gamma is never tried without delta (one unit)
    trials = re.findall(r"(ok|FAIL) +isolate: trial (\d+): ([^\n]*) -> ", out)
    assert [int(n) for _, n, _ in trials] == list(range(1, len(trials) + 1))
    assert 0 < len(trials) <= 10
    for _, _, pins in trials:
        assert ("gamma==2.0.0" in pins) == ("delta==2.0.0" in pins), pins
    # each trial's clone, like the staging clone, copies only what the trial replaces and links the rest
    clones = re.findall(r"\| trial (\d+): clone \S+: (\d+) files linked to live's, (\d+) copied", out)
    assert [int(n) for n, _, _ in clones] == list(range(1, len(trials) + 1)), out
    assert all(int(copied) < int(linked) for _, linked, copied in clones), clones
    # a trial's clone is kept as a spare when it ends, and the next trial (one at a time here) refreshes
    # that spare instead of cloning afresh
    kept = r"\| trial (\d+): clone \S+: [^\n]*, refreshed a kept clone \(\d+ entries kept\)"
    refreshed = re.findall(kept, out)
    assert len(refreshed) >= len(trials) - 2 > 0, out


def test_every_trial_is_in_the_runbook_and_replay_applies_the_promoted_set(upgraded_all: Run) -> None:
    recorder, done, runbook, _ = upgraded_all
    assert len(runbook.tried_targets) == 8
    assert sorted(runbook.targets) == sorted(f"{n}=={v}" for n, v in SAFE.items())
    assert runbook.plan is not None and {c.name for c in runbook.plan.changes} == set(SAFE)
    printed = re.findall(r"isolate: trial (\d+): ([^\n]*) -> (passed|FAILED)", done.stdout)
    assert [
        (str(t.number), " ".join(t.targets), "passed" if t.ok else "FAILED") for t in runbook.trials
    ] == printed
    assert all(t.installed for t in runbook.trials)
    isolate = runbook.last("isolate")
    assert isolate is not None and "oxzep7 2.0.0" in isolate.answer
    assert isolate.evidence is not None and isolate.evidence.counts["trials"] == len(runbook.trials)

    steps = [d.step for d in runbook.decisions]
    assert steps.index("promote-set") < steps.index("ack-warnings") < steps.index("promote"), steps
    acked = runbook.last("ack-warnings")
    assert acked is not None and acked.answer == "acknowledge"

    # rolled back (all of the promoted set at once), then the runbook replayed: the promoted set
    # only, its new warning acknowledged as recorded
    back = _oxwizard("rollback", "--env", str(recorder.venv), "--project", str(recorder.project))
    assert back.returncode == 0, back.stdout + back.stderr
    assert _versions(recorder) == {**OLD, **KEPT}
    replayed = _oxwizard("replay", str(recorder.project / ".oxwizard" / "runbooks" / f"{runbook.id}.json"),
                         "--env", str(recorder.venv), "--project", str(recorder.project))  # fmt: skip
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "ack-warnings: acknowledge" in replayed.stdout, replayed.stdout
    assert _versions(recorder) == {**SAFE, **KEPT}


def test_bounds_and_exclusions_pick_the_targets(demo_template: DemoSandbox) -> None:
    env = Environment.open(demo_template.venv)
    index = IndexOptions(find_links=[str(demo_template.wheelhouse)], no_index=True)
    patch = [str(r) for r in outdated_targets(env, index, "patch", [])]
    assert patch == ["quillpen==0.9.1", "ziprow==0.3.2"]
    minor = [str(r) for r in outdated_targets(env, index, "minor", ["ziprow"])]
    assert minor == ["humbleconf==1.3.0", "oxzep7==1.5.0", "quillpen==0.9.1"]
    major = [str(r) for r in outdated_targets(env, index, "major", ["oxzep7", "Alpha"])]
    assert major == ["beta==2.0.0", "delta==2.0.0", "gamma==2.0.0", "humbleconf==1.3.0",
                     "quillpen==0.9.1", "ziprow==0.3.2"]  # fmt: skip


def test_outdated_flags_are_checked(demo_template: DemoSandbox) -> None:
    both = _oxwizard("upgrade", "ziprow==0.3.2", "--outdated", *_sources(demo_template))
    assert both.returncode == 2 and "give SPEC... or --outdated, not both" in both.stderr
    neither = _oxwizard("upgrade", *_sources(demo_template))
    assert neither.returncode == 2 and neither.stderr.strip().endswith("give SPEC... or --outdated")
    stray = _oxwizard("upgrade", "ziprow==0.3.2", "--exclude", "oxzep7", *_sources(demo_template))
    assert stray.returncode == 2 and "go with --outdated" in stray.stderr
    staged = _oxwizard("upgrade", "--outdated", "--no-stage", *_sources(demo_template))
    assert staged.returncode == 2 and "--no-stage" in staged.stderr


def test_targets_that_must_move_together_form_one_unit(demo_template: DemoSandbox) -> None:
    from oxwizard.env.plan import compute_plan
    from oxwizard.flow.trials import target_units

    env = Environment.open(demo_template.venv)
    index = IndexOptions(find_links=[str(demo_template.wheelhouse)], no_index=True)
    reqs = outdated_targets(env, index, "major", [])
    pins = {r.name: str(r) for r in reqs}
    plan = compute_plan(env, reqs, index, suggest=False)  # the installer's dry run: gamma 2 needs delta 2
    grouped = target_units(plan, env, pins)
    assert frozenset(["gamma", "delta"]) in grouped and len(grouped) == 7
    # an installed target that refuses another's new version (beta 1.0.0 requiring alpha<2, as
    # requests 2.28 requires urllib3<1.27) moves with it
    beta = env.distributions["beta"]
    env.distributions["beta"] = beta.model_copy(update={"requires": ["alpha<2"]})
    grouped = target_units(plan, env, pins)
    assert frozenset(["alpha", "beta"]) in grouped and len(grouped) == 6
