"""Conflicts planned, not discovered (issue 11): the plan says which extra targets clear the
``pip check`` problems it predicts, and ``upgrade --yes`` never goes ahead against a "wait".

liba 1.0 requires libb<2 and liba 2.0 requires libb<3 (wheels built by the suite, see
``conflict_wheels`` in tests/conftest.py); the sandbox has liba 1.0 + libb 1.0. Planning libb 2.0
alone breaks liba 1.0; adding ``liba`` to the targets lets the resolver move it to 2.0.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import build_conflict_sandbox
from packaging.requirements import Requirement

from oxwizard.commands.plan import render_plan
from oxwizard.demo.sandbox import DemoSandbox
from oxwizard.env.environment import Environment
from oxwizard.env.plan import Plan, compute_plan
from oxwizard.env.specs import IndexOptions, parse_specs
from oxwizard.runbook.model import load_runbook

PROBLEM = "liba 1.0 has requirement libb<2, but you have libb 2.0."
ADVICE = "add `liba` to the targets: the resolver then moves it to 2.0"


def _oxwizard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oxwizard", *args], capture_output=True, text=True, timeout=600,
        check=False, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _where(sandbox: DemoSandbox, *, project: bool = True) -> list[str]:
    out = ["--env", str(sandbox.venv), "--find-links", str(sandbox.wheelhouse), "--no-index"]
    return [*out, "--project", str(sandbox.project)] if project else out


def _versions(sandbox: DemoSandbox) -> dict[str, str]:
    return {d.name: d.version for d in Environment.open(sandbox.venv).distributions.values()}


def _runbooks(sandbox: DemoSandbox) -> list[Path]:
    return sorted((sandbox.project / ".oxwizard" / "runbooks").glob("*.json"))


def test_plan_says_which_target_resolves_the_predicted_conflict(conflict_template: DemoSandbox) -> None:
    text = _oxwizard("plan", "libb==2.0", *_where(conflict_template, project=False))
    assert text.returncode == 0, text.stdout + text.stderr
    assert f"pip check after: {PROBLEM}" in text.stdout
    assert f"to resolve it: {ADVICE}" in text.stdout

    done = _oxwizard("plan", "libb==2.0", "--json", *_where(conflict_template, project=False))
    assert done.returncode == 0, done.stderr
    plan = Plan.model_validate(json.loads(done.stdout))
    assert plan.pip_check_after == [PROBLEM]
    assert [(r.add, r.clears) for r in plan.resolutions] == [(["liba"], [PROBLEM])]
    assert [(m.name, m.from_version, m.to_version) for m in plan.resolutions[0].moves] == [
        ("liba", "1.0", "2.0")
    ]
    assert plan.suggested_targets == ["liba"]
    assert _versions(conflict_template) == {"liba": "1.0", "libb": "1.0"}  # plans change nothing


def test_upgrade_yes_stops_before_any_change_when_the_risk_says_wait(conflict_template: DemoSandbox) -> None:
    sandbox = conflict_template
    before = Environment.open(sandbox.venv).fingerprint()
    done = _oxwizard("upgrade", "libb==2.0", "--yes", *_where(sandbox))
    out = done.stdout + done.stderr
    assert done.returncode == 2, out
    assert "risk: high, wait" in out and f"- {ADVICE}" in out
    # one line says why it stopped, and that --force overrides it
    stop = [ln for ln in done.stdout.splitlines() if ln.startswith("declined:")]
    assert len(stop) == 1 and "stopped before any change" in stop[0] and "--force" in stop[0], out
    assert ADVICE in stop[0]
    assert Environment.open(sandbox.venv).fingerprint() == before
    assert _versions(sandbox) == {"liba": "1.0", "libb": "1.0"}
    assert not (sandbox.project / ".venv-stage").exists()
    # the runbook records the plan, the risk and why it stopped; no checkpoint was taken
    runbook = load_runbook(_runbooks(sandbox)[-1])
    assert runbook.checkpoint_id is None
    assert not (sandbox.project / ".oxwizard" / "checkpoints").exists()
    assert [d.step for d in runbook.decisions] == ["plan", "risk", "go", "outcome"]
    assert runbook.plan is not None and runbook.plan.suggested_targets == ["liba"]
    risk = runbook.last("risk")
    assert risk is not None and risk.answer == "high risk: wait"
    assert risk.evidence is not None and ADVICE in risk.evidence.detail
    go = runbook.last("go")
    assert go is not None and go.answer == "wait" and go.evidence is not None
    assert "--force" in go.evidence.detail
    assert runbook.decisions[-1].answer.startswith("declined: stopped before any change")

    # a replay of that runbook still validates (its semantics are unchanged: it is not re-judged)
    dry = _oxwizard("replay", str(_runbooks(sandbox)[-1]), "--dry-run", *_where(sandbox))
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert Environment.open(sandbox.venv).fingerprint() == before


def test_upgrade_yes_force_goes_ahead_and_installs_in_staging(tmp_path: Path, conflict_wheels: Path) -> None:
    sandbox = build_conflict_sandbox(tmp_path / "sandbox", conflict_wheels)
    done = _oxwizard("upgrade", "libb==2.0", "--yes", "--force", *_where(sandbox))
    out = done.stdout + done.stderr
    assert "risk: high, wait" in out
    assert "install-staging: installed in staging" in out, out
    assert "stopped before any change" not in out
    runbook = load_runbook(_runbooks(sandbox)[-1])
    assert runbook.checkpoint_id is not None
    go = runbook.last("go")
    assert go is not None and go.answer == "go"
    # the staging checks find the predicted problem, so live is left as it was
    assert done.returncode == 1, out
    assert _versions(sandbox) == {"liba": "1.0", "libb": "1.0"}


def test_upgrade_with_the_suggested_target_plans_clean_and_upgrades(
    tmp_path: Path, conflict_wheels: Path
) -> None:
    sandbox = build_conflict_sandbox(tmp_path / "sandbox", conflict_wheels)
    done = _oxwizard("upgrade", "libb==2.0", "liba", "--yes", *_where(sandbox))
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "wait" not in out.split("checkpoint:")[0]  # the risk before any change does not say wait
    assert "pip check predicted" not in out and "add `" not in out
    assert _versions(sandbox) == {"liba": "2.0", "libb": "2.0"}
    assert Environment.open(sandbox.venv).pip_check() == []
    plan = load_runbook(_runbooks(sandbox)[-1]).plan
    assert plan is not None and plan.pip_check_after == [] and plan.resolutions == []


def test_when_the_combined_trial_fails_each_dependent_is_tried_alone(
    tmp_path: Path, conflict_wheels: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libc 1.0 also needs libb<2 and has no newer version: adding both liba and libc cannot resolve,
    adding liba alone clears liba's problem. The extra dry runs are bounded: combined, then one each."""
    import oxwizard.env.plan as plan_module
    from oxwizard.demo.wheels import build_wheel

    house = tmp_path / "wheels"
    shutil.copytree(conflict_wheels, house)
    build_wheel(house, "libc", "1.0", {"libc/__init__.py": ""}, requires=["libb<2"])
    sandbox = build_conflict_sandbox(tmp_path / "sandbox", house, "libc==1.0")
    runs: list[list[str]] = []
    real = plan_module._dry_run  # every dry run of the installer goes through it

    def counted(
        env: Environment, requirements: list[Requirement], index: IndexOptions, *rest: object
    ) -> dict[str, object]:
        runs.append([str(r) for r in requirements])
        return real(env, requirements, index, *rest)  # type: ignore[arg-type]

    monkeypatch.setattr(plan_module, "_dry_run", counted)
    index = IndexOptions.build(find_links=[str(house)], no_index=True)
    plan = compute_plan(Environment.open(sandbox.venv), parse_specs(["libb==2.0"]), index)
    assert plan.new_problems == [
        "liba 1.0 has requirement libb<2, but you have libb 2.0.",
        "libc 1.0 has requirement libb<2, but you have libb 2.0.",
    ]
    assert [(r.add, r.clears) for r in plan.resolutions] == [(["liba"], [PROBLEM])]
    assert plan.resolutions[0].sentence() == ADVICE
    assert runs == [
        ["libb==2.0"],
        ["libb==2.0", "liba", "libc"],
        ["libb==2.0", "liba"],
        ["libb==2.0", "libc"],
    ]
    assert "to resolve it: " + ADVICE + " (clears 1 of the 2 new problems)" in render_plan(plan)


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_a_dependent_that_pins_the_target_is_never_advised_as_a_target(
    tmp_path: Path, conflict_wheels: Path, installer: str
) -> None:
    """pinner 1.0 requires libb==1.0: added as a target, the resolver keeps libb where it is, which
    clears its problem by not upgrading at all. That is no advice; liba (which moves) is."""
    from oxwizard.demo.wheels import build_wheel
    from oxwizard.env.environment import find_uv

    if installer == "uv" and find_uv() is None:
        pytest.skip("uv is not installed (a dev dependency)")
    wheels = tmp_path / "wheels"
    shutil.copytree(conflict_wheels, wheels)
    build_wheel(wheels, "pinner", "1.0", {"pinner/__init__.py": ""}, requires=["libb==1.0"])
    sandbox = build_conflict_sandbox(tmp_path / "sandbox", wheels, "pinner==1.0")
    env = Environment.open(sandbox.venv)
    env.use_installer("uv" if installer == "uv" else "pip", f"--installer {installer}")
    index = IndexOptions(find_links=[str(sandbox.wheelhouse)], no_index=True)
    plan = compute_plan(env, [Requirement("libb")], index)
    assert [(c.name, c.to_version) for c in plan.changes] == [("libb", "2.0")]
    assert plan.new_problems == [PROBLEM, "pinner 1.0 has requirement libb==1.0, but you have libb 2.0."]
    assert [(r.add, r.clears) for r in plan.resolutions] == [(["liba"], [PROBLEM])]
