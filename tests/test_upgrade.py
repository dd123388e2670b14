"""``oxwizard upgrade``: the whole headless flow on the demo sandbox (issue 3's acceptance).

The 1.5.0 and 2.0.0 (--no-stage) runs are recorded once per session by the ``recorded_15`` and
``recorded_20`` fixtures (tests/conftest.py), which drive the real CLI in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from oxwizard.checks.result import load_checkset
from oxwizard.demo.sandbox import DemoSandbox
from oxwizard.env.environment import Environment
from oxwizard.runbook.model import load_runbook
from oxwizard.runbook.repo import RunbookRepo

DemoFactory = Callable[[], DemoSandbox]


def _oxwizard(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oxwizard", *args], capture_output=True, text=True, timeout=900,
        check=False, cwd=cwd, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def _sources(sandbox: DemoSandbox) -> list[str]:
    return ["--env", str(sandbox.venv), "--project", str(sandbox.project),
            "--find-links", str(sandbox.wheelhouse), "--no-index"]  # fmt: skip


def test_upgrade_to_150_succeeds_and_records_every_step(recorded_15: tuple[DemoSandbox, Path]) -> None:
    sandbox, runbook_path = recorded_15
    env = Environment.open(sandbox.venv)
    assert env.distributions["oxzep7"].version == "1.5.0"
    runbook = load_runbook(runbook_path)
    steps = [d.step for d in runbook.decisions]
    for step in ("plan", "checkpoint", "stage", "baseline", "go", "install-staging", "checks-staging",
                 "ack-warnings", "promote", "checks-live", "verdict", "outcome"):  # fmt: skip
        assert step in steps, (step, steps)
    assert runbook.decisions[-1].answer.startswith("upgraded")
    assert runbook.last("ack-warnings") is not None
    assert "acknowledge" == runbook.last("ack-warnings").answer  # type: ignore[union-attr]
    # each new warning was warned at a line the plan named as a use of the name 1.5.0 deprecates
    warned = load_checkset(runbook_path.parent.parent / "evidence" / runbook.id / "checks-staging.json").get(
        "warnings"
    )
    assert warned is not None and warned.summary.endswith("· the plan predicted 2 of 2"), warned
    assert [line.split(" — ")[0] for line in warned.details["predicted"]] == [
        "demoapp/app.py:33 uses oxzep7.legacy_parse",
        "tests/test_app.py:19 uses oxzep7.legacy_parse",
    ]
    with RunbookRepo(runbook_path.parent.parent) as repo:
        log = [e.message for e in repo.log(100)]
    # one commit per decision, readable in git log --oneline
    assert any(m.startswith("plan: oxzep7 1.4.2 -> 1.5.0 (minor)") for m in log), log
    assert sum(1 for m in log if not m.startswith(("init:", "replay:"))) >= len(runbook.decisions)
    # the checkpoint manifest is committed beside the runbook
    assert (runbook_path.parent.parent / "checkpoints" / f"{runbook.checkpoint_id}.json").is_file()
    # where the time went: the staging clone linked what the upgrade leaves alone, and the outcome
    # says what oxwizard itself added around the installer and the tests
    # pip check: a real one on live at baseline (run beside the install in staging, its evidence
    # committed again with the staging checks), which agreed with the metadata, so the later phases
    # read the verdict from the metadata
    evidence = runbook_path.parent.parent / "evidence" / runbook.id
    checked_by = {
        phase: load_checkset(evidence / f"{phase}.json").get("pip-check").details["checked_by"]  # type: ignore[union-attr]
        for phase in ("baseline", "checks-staging", "checks-live")
    }
    assert checked_by == {
        "baseline": ["pip check", "metadata"], "checks-staging": ["metadata"], "checks-live": ["metadata"]
    }  # fmt: skip
    baseline_commits = subprocess.run(
        ["git", "log", "--format=%s", "--", f"evidence/{runbook.id}/baseline.json"],
        capture_output=True, text=True, check=True, cwd=runbook_path.parent.parent,
    ).stdout.split("\n")  # fmt: skip
    assert [m.split(":")[0] for m in baseline_commits if m] == ["checks-staging", "baseline"]
    # the baseline's import smoke ran on live after the baseline (beside the install in staging): the
    # staging checks took it in, and it holds its place in the baseline's evidence
    smoke = load_checkset(evidence / "baseline.json").get("import-smoke")
    assert smoke is not None and smoke.status == "pass", smoke
    assert "oxzep7" in smoke.details["modules"] and smoke.details["failing"] == []
    stage = runbook.last("stage").evidence  # type: ignore[union-attr]
    assert stage is not None and stage.counts["linked_files"] > 0 < stage.counts["copied_files"]
    spent = runbook.decisions[-1].evidence.counts  # type: ignore[union-attr]
    parts = ("plan", "installer", "tests", "monitoring", "waiting", "overhead")
    assert spent["seconds.installer"] > 0 and spent["seconds.tests"] > 0 and spent["seconds.overhead"] > 0
    assert abs(sum(spent[f"seconds.{p}"] for p in parts) - spent["seconds.total"]) < 0.01


def _live_files(venv: Path) -> dict[str, tuple[int, bytes]]:
    """Every file of ``venv`` but bytecode (Python writes it on live while the baseline runs there)
    and oxwizard's state folder (the checkpoint): relative path -> (inode, bytes)."""
    out = {}
    for path in venv.rglob("*"):
        rel = path.relative_to(venv)
        if path.is_file() and not path.is_symlink() and not {"__pycache__", ".oxwizard"} & set(rel.parts):
            out[str(rel)] = (path.stat().st_ino, path.read_bytes())
    return out


def test_upgrade_to_200_fails_in_staging_and_live_is_untouched(demo: DemoFactory) -> None:
    sandbox = demo()
    before = Environment.open(sandbox.venv).fingerprint()
    files = _live_files(sandbox.venv)
    done = _oxwizard("upgrade", "oxzep7==2.0.0", "--yes", *_sources(sandbox))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "live is untouched" in done.stdout
    assert "test_legacy_parse" in done.stdout or "tests" in done.stdout
    # the answer given for the user says what it does, not only its word
    assert "-> keep (--yes): keep the current version" in done.stdout, done.stdout
    # the failures the plan's API impact named before anything was installed are matched to it
    # (by their tracebacks); test_process_logs_no_errors fails through the logs, not a named use
    assert (
        "newly failing: test_process_logs_no_errors, test_legacy_parse, test_render · the plan "
        "predicted 2 of 3" in done.stdout
    ), done.stdout
    assert (
        "test_render: ModuleNotFoundError: No module named 'oxzep7.fmt' — tests/test_app.py:24 uses "
        "oxzep7.fmt.render — module oxzep7.fmt removed in 2.0.0" in done.stdout
    ), done.stdout
    assert Environment.open(sandbox.venv).fingerprint() == before
    # the clone was made while the plan's dry run ran, the target's files (oxzep7's) copied, every
    # other file linked to live's: installing 2.0.0 into it wrote nothing through a link
    assert "(cloned while planning)" in done.stdout, done.stdout
    assert _live_files(sandbox.venv) == files
    assert not [p for p in sandbox.venv.parent.iterdir() if p.name.endswith(("-stage", ".partial"))]
    runbook = load_runbook(sorted((sandbox.project / ".oxwizard" / "runbooks").glob("*.json"))[-1])
    assert runbook.last("promote") is None
    assert runbook.last("checks-staging") is not None
    # the clone is kept as a spare in the venv's state folder (nothing new in the project, git sees
    # nothing), and the next upgrade's clone is that spare refreshed, not a new one
    [spare] = (sandbox.venv / ".oxwizard" / "spares").iterdir()
    assert (spare / ".gitignore").read_text() == "*\n"
    assert not [p for p in sandbox.venv.parent.iterdir() if p.name.startswith(".venv-")]
    assert "spare" not in _git(sandbox.project, "status", "--porcelain", "--untracked-files=all")
    again = _oxwizard("upgrade", "oxzep7==1.5.0", "--yes", *_sources(sandbox))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "(refreshed a kept clone while planning)" in again.stdout, again.stdout
    runbook = load_runbook(sorted((sandbox.project / ".oxwizard" / "runbooks").glob("*.json"))[-1])
    stage = runbook.last("stage")
    assert stage is not None and stage.answer.endswith("(refreshed a kept clone)")
    assert stage.evidence is not None and stage.evidence.counts["reused_entries"] > 0
    assert Environment.open(sandbox.venv).distributions["oxzep7"].version == "1.5.0"
    beside = sorted(p.name for p in sandbox.venv.parent.iterdir() if p.name.startswith(".venv-"))
    assert beside == [] and len(list((sandbox.venv / ".oxwizard" / "spares").iterdir())) == 1, beside


def _git(project: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=project, capture_output=True, text=True, check=True).stdout


def test_no_stage_failure_on_live_is_rolled_back_to_the_checkpoint(
    recorded_20: tuple[DemoSandbox, Path],
) -> None:
    sandbox, runbook_path = recorded_20
    runbook = load_runbook(runbook_path)
    env = Environment.open(sandbox.venv)
    assert env.distributions["oxzep7"].version == "1.4.2"
    assert "oxzep7-core" not in env.distributions
    manifest = json.loads(
        (runbook_path.parent.parent / "checkpoints" / f"{runbook.checkpoint_id}.json").read_text()
    )
    assert env.fingerprint() == manifest["fingerprint"]
    assert runbook.last("promote") is not None
    rollback = runbook.last("rollback")
    assert rollback is not None and "verified" in rollback.answer


def test_without_yes_and_no_terminal_nothing_changes(demo: DemoFactory) -> None:
    sandbox = demo()
    before = Environment.open(sandbox.venv).fingerprint()
    done = _oxwizard("upgrade", "oxzep7==1.5.0", *_sources(sandbox))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "declined" in done.stdout and "use --yes" in done.stdout
    assert Environment.open(sandbox.venv).fingerprint() == before
    runbook = load_runbook(sorted((sandbox.project / ".oxwizard" / "runbooks").glob("*.json"))[-1])
    assert runbook.last("go").answer == "wait"  # type: ignore[union-attr]
    # the baseline's checks that run after it ran on live all the same: the baseline's line is told
    # again with the import smoke as soon as it ends, and both are in its evidence
    assert "ok   baseline: pip-check pass, import-smoke pass, tests pass" in done.stdout, done.stdout
    baseline = load_checkset(sandbox.project / ".oxwizard" / "evidence" / runbook.id / "baseline.json")
    smoke, checked = baseline.get("import-smoke"), baseline.get("pip-check")
    assert smoke is not None and smoke.status == "pass" and "oxzep7" in smoke.details["modules"], smoke
    assert checked is not None and checked.details["checked_by"] == ["pip check", "metadata"], checked


def test_bad_spec_is_refused_before_anything(demo_template: DemoSandbox, tmp_path: Path) -> None:
    done = _oxwizard("upgrade", "--yes", "--env", str(demo_template.venv), "--project", str(tmp_path),
                     "--", "--index-url=http://x")  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "looks like an option" in done.stderr
    assert done.stdout == ""  # the one line alone: not after the package sources and the installer
    assert not (tmp_path / ".oxwizard").exists()


def test_a_project_folder_that_does_not_exist_is_refused_by_every_verb(demo_template: DemoSandbox) -> None:
    """A typo in --project is not "a project without dependency files" (plan used to say so, exit 0)."""
    missing = demo_template.root / "no-such-project"
    before = Environment.open(demo_template.venv).fingerprint()
    for verb in (["plan", "oxzep7==1.5.0"], ["env"], ["rollback"], ["monitor"], ["resume"],
                 ["upgrade", "oxzep7==1.5.0", "--yes"]):  # fmt: skip
        done = _oxwizard(*verb, "--env", str(demo_template.venv), "--project", str(missing))
        assert done.returncode == 2, (verb, done.stdout, done.stderr)
        assert done.stderr == f"oxwizard: error: project folder not found: {missing}\n", verb
    assert Environment.open(demo_template.venv).fingerprint() == before


def test_sigterm_during_an_upgrade_says_so_and_records_it_by_name(demo: DemoFactory) -> None:
    """SIGTERM (a CI job cancelled) ends with 143, one line saying why, and the runbook's outcome
    names the signal, not the SystemExit it is carried by."""
    sandbox = demo()
    before = Environment.open(sandbox.venv).fingerprint()
    slow = "python -c 'import time; time.sleep(60)'"
    child = subprocess.Popen(
        [sys.executable, "-m", "oxwizard", "upgrade", "oxzep7==1.5.0", "--yes", "--test-cmd", slow,
         *_sources(sandbox)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert child.stdout is not None
    for line in child.stdout:  # the checkpoint is taken while the baseline's tests run on live
        if "checkpoint" in line:
            break
    child.terminate()
    out, err = child.communicate(timeout=120)
    assert child.returncode == 143, out + err
    assert err.strip().splitlines()[-1:] == ["oxwizard: terminated (SIGTERM)"], err
    assert Environment.open(sandbox.venv).fingerprint() == before
    runbook = load_runbook(sorted((sandbox.project / ".oxwizard" / "runbooks").glob("*.json"))[-1])
    assert runbook.decisions[-1].answer == "failed: terminated (SIGTERM)", runbook.decisions[-1]


def test_a_test_command_that_cannot_start_is_refused_before_anything(demo_template: DemoSandbox) -> None:
    """Not found out after the staging install as "tests failed": refused at once, naming it."""
    before = Environment.open(demo_template.venv).fingerprint()
    for given, said in (
        ("no-such-runner -q", "test command: no-such-runner not found (looked in "),
        ("./run-tests.sh", "test command: ./run-tests.sh is not an executable file (from "),
    ):
        done = _oxwizard("upgrade", "oxzep7==1.5.0", "--yes", "--test-cmd", given, *_sources(demo_template))
        assert done.returncode == 2, done.stdout + done.stderr
        assert done.stderr.startswith(f"oxwizard: error: {said}") and done.stderr.count("\n") == 1, (
            done.stderr
        )
    assert Environment.open(demo_template.venv).fingerprint() == before
    assert not (demo_template.project / ".oxwizard" / "runbooks").exists()


def test_an_upgrade_with_no_tests_to_run_is_never_said_verified(demo: DemoFactory) -> None:
    """The project's tests find nothing: pip check and the imports pass, so the upgrade goes on, but
    the checks step is marked as warned and the outcome says what was not proven, not "verified"."""
    sandbox = demo()
    (sandbox.project / "tests" / "test_app.py").unlink()  # the suite is empty: `unittest` finds nothing
    done = _oxwizard(
        "upgrade", "oxzep7==1.5.0", *_sources(sandbox), "--yes", "--rounds", "1", "--interval", "0"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [line.split("] ")[1].split(":")[0] for line in lines if "checks-" in line] == [
        "warn checks-staging",
        "warn checks-live",
    ]
    assert (
        "upgraded: oxzep7 1.4.2 -> 1.5.0 (minor), 1 change; on live, checks passed but tests: no tests found"
        in lines
    )
    assert "verified on live" not in done.stdout


def test_a_pip_check_problem_that_was_there_before_does_not_fail_the_upgrade(
    demo: DemoFactory, tmp_path: Path
) -> None:
    """needy requires missingdep, which was never installed: pip check fails before the upgrade of
    humbleconf and after it, with the same problem. It is not the upgrade's: the checks warn (as
    before), the upgrade goes on (with --force: the plan recommends waiting); a new problem fails."""
    from oxwizard.demo.wheels import build_wheel

    sandbox = demo()
    house = tmp_path / "house"
    build_wheel(house, "needy", "1.0", {"needy/__init__.py": ""}, requires=["missingdep>=1"])
    pip = [str(sandbox.venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index"]
    subprocess.run(
        [*pip, "--find-links", str(house), "needy"], check=True, env={"PIP_CONFIG_FILE": "/dev/null"}
    )
    done = _oxwizard("upgrade", "humbleconf==1.3.0", *_sources(sandbox), "--yes", "--force")
    assert done.returncode == 0, done.stdout + done.stderr
    problem = "needy 1.0 requires missingdep, which is not installed."
    assert f"warn pip-check: 1 problem as before the upgrade: {problem}" in done.stdout
    assert "upgraded: humbleconf 1.2.0 -> 1.3.0" in done.stdout
    assert Environment.open(sandbox.venv).distributions["humbleconf"].version == "1.3.0"


def test_tests_that_could_not_run_before_or_after_are_no_evidence(demo: DemoFactory) -> None:
    """The project's only test module fails to import, before the upgrade and after it: no test
    passed, none failed because of the upgrade. The tests warn ("no test passed"), never pass, and
    the upgrade is not said verified."""
    sandbox = demo()
    (sandbox.project / "tests" / "test_app.py").write_text(
        "import not_installed_anywhere\n", encoding="utf-8"
    )
    done = _oxwizard("upgrade", "humbleconf==1.3.0", *_sources(sandbox), "--yes", "--force")
    assert done.returncode == 0, done.stdout + done.stderr
    warned = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith("warn tests:")]
    assert warned and all("failing before too" in w and w.endswith("· no test passed") for w in warned), (
        warned
    )
    assert "verified on live" not in done.stdout and "checks passed but tests: " in done.stdout
