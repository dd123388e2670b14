"""Running the checks of one phase of the flow (baseline, staging, live, a monitoring round)."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from oxwizard.checks.compat import against_baseline, import_smoke, pip_check, requires_python
from oxwizard.checks.data import validate_data
from oxwizard.checks.logs import mark_logs, scan_logs
from oxwizard.checks.performance import run_benchmark
from oxwizard.checks.result import CheckResult, CheckSet, Phase
from oxwizard.checks.tests import run_tests
from oxwizard.core.config import ChecksConfig
from oxwizard.env.environment import Environment

if TYPE_CHECKING:
    from oxwizard.env.plan import Judged


def run_checks(
    env: Environment,
    project: Path,
    config: ChecksConfig,
    phase: Phase,
    *,
    upgraded: list[str] | None = None,
    baseline: CheckSet | None = None,
    on_line: Callable[[str], None] | None = None,
    pip_checked: Future[CheckResult] | None = None,
    before_benchmark: Callable[[], object] | None = None,
    smoke_later: bool = False,
    smoked_before: Future[CheckResult] | None = None,
    judged: Judged | None = None,
) -> CheckSet:
    """Every configured check for ``phase``; a failing or crashing command is a result, not an error.

    ``pip check`` and the import smoke only read the environment: each runs in a thread of its own
    (in the caller's context, so the flow's stopper still reaches their children) beside the tests,
    and both are done before the benchmark starts, which must have the machine to itself.
    ``pip_checked``: a pip check of the same distributions already under way (the flow starts the
    baseline's on live while it makes the staging clone), used instead of a new one. After a
    baseline whose ``pip check`` agreed with the metadata, pip check's verdict is read in-process
    (:func:`~oxwizard.checks.compat.pip_check`). ``before_benchmark``: called before a configured
    benchmark starts (the flow waits there for the checkpoint and the staging clone it makes
    meanwhile). ``smoke_later``: at a baseline, the import smoke is left to the caller, which runs
    it later; a result saying so (:data:`SMOKE_LATER`) holds its place. ``smoked_before``: that baseline
    smoke, maybe still running: this phase's smoke waits for it (what it judges against) while the
    tests start. ``judged``: the project's own requirements its files are about to change (see
    :func:`~oxwizard.checks.compat.pip_check`)."""
    say = on_line or (lambda line: None)

    def smoke() -> CheckResult:
        if smoke_later:
            return CheckResult(name="import-smoke", status="skip", summary=SMOKE_LATER)
        before = smoked_before.result() if smoked_before is not None else None
        if before is None and baseline is not None:
            before = baseline.get("import-smoke")
        return import_smoke(
            env, upgraded or [], project=project, baseline=before, at_baseline=phase == "baseline"
        )

    results: list[CheckResult] = []
    marks = mark_logs(project, config) if phase == "baseline" else []
    say(f"── pip check and import smoke ({phase}), beside the tests")
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="checks") as pool:
        checked = pip_checked or pool.submit(
            contextvars.copy_context().run,
            lambda: pip_check(
                env,
                baseline=baseline.get("pip-check") if baseline else None,
                changed=upgraded or [],
                judged=judged,
            ),
        )
        smoked = pool.submit(contextvars.copy_context().run, smoke)
        say("── tests")
        tests, warnings = run_tests(
            env,
            project,
            config,
            baseline=baseline.get("tests") if baseline else None,
            baseline_warnings=baseline.get("warnings") if baseline else None,
            upgraded=upgraded if phase != "baseline" else None,
            on_line=say,
        )
        pip_checked_now = checked.result()
        if phase != "baseline":  # the problems that were there before are not the upgrade's
            pip_checked_now = against_baseline(
                pip_checked_now, baseline.get("pip-check") if baseline else None
            )
        results += [pip_checked_now, smoked.result()]
        if phase != "baseline":
            results.append(requires_python(env))
        results += [tests, warnings]
    if before_benchmark is not None and config.benchmark_command:
        before_benchmark()
    say("── benchmark")
    results.append(
        run_benchmark(
            env, project, config, baseline=baseline.get("performance") if baseline else None, on_line=say
        )
    )
    if phase != "baseline":
        results.append(scan_logs(project, config, baseline.log_marks if baseline else None))
    say("── data")
    results.append(validate_data(env, project, config))
    for r in results:
        say(f"{r.status:4} {r.name}: {r.summary}")
    return CheckSet(phase=phase, results=results, log_marks=marks)


# what holds the place of a baseline's import smoke left for later (the flow runs it once the
# baseline is recorded: beside the go question, then the install in staging)
SMOKE_LATER = "runs next, on live, beside the go question and the install in staging"
