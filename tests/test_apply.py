"""Applying a plan: exact pins, hash checking, streamed output, verification, signals on live."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from conftest import assert_restored

from oxwizard.demo.sandbox import DemoSandbox
from oxwizard.env.environment import Environment
from oxwizard.env.plan import Plan, compute_plan
from oxwizard.env.specs import IndexOptions, parse_specs
from oxwizard.safety.apply import apply_plan
from oxwizard.safety.checkpoint import take_checkpoint
from oxwizard.safety.journal import pending
from oxwizard.safety.rollback import rollback


def _setup(demo: DemoSandbox, *specs: str) -> tuple[Environment, Plan, IndexOptions]:
    env = Environment.open(demo.venv)
    index = IndexOptions.build(find_links=[str(demo.wheelhouse)], no_index=True)
    return env, compute_plan(env, parse_specs(list(specs)), index), index


def test_apply_installs_exactly_the_plan_streaming_lines(live_demo: DemoSandbox) -> None:
    env, plan, index = _setup(live_demo, "oxzep7==2.0.0")
    ck = take_checkpoint(env, plan)
    lines: list[str] = []

    result = apply_plan(env, plan, index, checkpoint=ck, on_line=lines.append)

    assert result.ok and result.mismatches == []
    assert result.installed == ["oxzep7==2.0.0", "oxzep7-core==2.0.0"]
    assert any("Successfully installed" in line for line in lines)
    assert any("--hash" in line or "pins.txt" in line for line in lines)  # hash-checked requirements
    assert env.distributions["oxzep7"].version == "2.0.0"
    assert not pending(env)  # journal done
    rollback(env)
    assert_restored(live_demo.venv, ck.id)


def test_a_different_artefact_under_the_same_version_is_refused(live_demo: DemoSandbox) -> None:
    env, plan, index = _setup(live_demo, "oxzep7==1.5.0")
    before = env.fingerprint()
    plan.changes[0].sha256 = "0" * 64
    ck = take_checkpoint(env, plan)

    result = apply_plan(env, plan, index, checkpoint=ck)

    assert not result.ok
    assert "install failed" in result.mismatches[0] and "hash" in result.mismatches[0].lower()
    assert env.fingerprint() == before  # pip refused before changing anything
    assert pending(env)  # the caller rolls back; until then recovery would
    assert rollback(env).verified
    assert_restored(live_demo.venv, ck.id)


def test_staging_apply_is_not_journaled(live_demo: DemoSandbox) -> None:
    env, plan, index = _setup(live_demo, "ziprow==0.3.2")
    result = apply_plan(env, plan, index, checkpoint=None, journaled=False)
    assert result.ok and not pending(env)
    subprocess.run(
        [str(live_demo.python), "-m", "pip", "install", "-q", "--no-index", "--find-links",
         str(live_demo.wheelhouse), "--", "ziprow==0.3.1"], check=True,
    )  # fmt: skip


SIGNAL_DRIVER = r"""
import sys
from pathlib import Path
from oxwizard.safety.apply import apply_plan
from oxwizard.safety.checkpoint import take_checkpoint
from oxwizard.env.environment import Environment
from oxwizard.env.plan import Plan
from oxwizard.env.specs import IndexOptions
env = Environment.open(sys.argv[1])
plan = Plan.model_validate_json(open(sys.argv[2]).read())
ck = take_checkpoint(env, plan)
print(ck.id, flush=True)
apply_plan(env, plan, IndexOptions.build(find_links=[sys.argv[3]], no_index=True), checkpoint=ck,
           on_line=lambda line: print(line, flush=True))
print("FINISHED", flush=True)
"""


def test_sigterm_during_apply_reaches_the_installer_and_rolls_back(
    live_demo: DemoSandbox, tmp_path: Path
) -> None:
    env, plan, _ = _setup(live_demo, "oxzep7==2.0.0", "humbleconf==1.3.0", "ziprow==0.3.2")
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(plan.model_dump_json())
    for sig in (signal.SIGTERM, signal.SIGINT):
        argv = [
            sys.executable,
            "-c",
            SIGNAL_DRIVER,
            str(live_demo.venv),
            str(plan_file),
            str(live_demo.wheelhouse),
        ]
        child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert child.stdout is not None
        ck_id = child.stdout.readline().strip()
        child.stdout.readline()  # the installer has started
        child.send_signal(sig)
        out, err = child.communicate(timeout=120)
        assert child.returncode != 0, out + err
        assert "FINISHED" not in out
        assert f"rolling back to {ck_id}" in out
        assert "KeyboardInterrupt" in err
        assert_restored(live_demo.venv, ck_id)
