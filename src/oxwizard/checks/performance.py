"""Performance: a benchmark command run N times; the after/before ratio of the medians.

A command whose last output line is a number is timed by that number (its own measurement);
otherwise by wall-clock time. The raw samples are kept so a sparkline or plot can show them.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from oxwizard.checks.result import CheckResult
from oxwizard.checks.runner import describe_failure, last_line, run_command
from oxwizard.config import ChecksConfig
from oxwizard.environment import Environment


def run_benchmark(
    env: Environment,
    project: Path,
    config: ChecksConfig,
    *,
    baseline: CheckResult | None = None,
    on_line: Callable[[str], None] | None = None,
) -> CheckResult:
    if not config.benchmark_command:
        return CheckResult(name="performance", status="skip", summary="no benchmark-command configured")
    started = time.monotonic()
    samples: list[float] = []
    for _ in range(config.benchmark_runs):
        t0 = time.monotonic()
        done = run_command(env, config.benchmark_command, project, timeout=config.command_timeout)
        wall = time.monotonic() - t0
        if (reason := describe_failure(done, "benchmark", config.command_timeout)) is not None or not done.ok:
            reason = reason or f"benchmark failed (exit {done.returncode}): {last_line(done.stderr)[:120]}"
            return CheckResult(
                name="performance",
                status="fail",
                summary=reason,
                samples=samples,
                duration=time.monotonic() - started,
                output=done.stdout + done.stderr,
            )
        try:
            samples.append(float(last_line(done.stdout)))
        except ValueError:
            samples.append(wall)
        if on_line is not None:
            on_line(f"benchmark run {len(samples)}: {samples[-1]:.4f} s")
    median = statistics.median(samples)
    numbers = {"median": median, "runs": float(len(samples))}
    if baseline is None or not baseline.samples:
        return CheckResult(
            name="performance",
            status="pass",
            summary=f"median {median * 1000:.1f} ms",
            numbers=numbers,
            samples=samples,
            duration=time.monotonic() - started,
        )
    before = statistics.median(baseline.samples)
    ratio = median / before if before > 0 else 1.0
    numbers.update(before=before, ratio=ratio, threshold=config.benchmark_threshold)
    status = "fail" if ratio > config.benchmark_threshold else "pass"
    limit = config.benchmark_threshold
    summary = f"median {median * 1000:.1f} ms vs {before * 1000:.1f} ms ({ratio:.2f}×, limit {limit:.2f}×)"
    return CheckResult(
        name="performance",
        status=status,
        summary=summary,
        numbers=numbers,
        samples=samples,
        duration=time.monotonic() - started,
    )
