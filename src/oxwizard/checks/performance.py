"""Performance: the benchmark command run N times, compared with the baseline's runs by a rank test.

A run whose last output line is a number is timed by that number (its own measurement); otherwise
by wall-clock time. Before the first run, between runs and after the last, a fixed calibration
workload is timed in the target interpreter, isolated from the project and its packages
(``python -I -S``): it measures the machine, not the upgrade. A run divided by the calibrations on
either side of it is that run on the machine's scale, so a machine that got busier since the
baseline is not mistaken for a slower upgrade.

The runs after the upgrade are compared with ``threshold ×`` the baseline's runs by an exact,
one-sided Mann-Whitney U test, on the raw figures and on the calibrated ones:

- **fail**: both are significantly above the limit: a slowdown clear in the data, not the machine's;
- **pass**: the calibrated runs are significantly within the limit (or the raw ones, when the
  calibrated ones cannot tell);
- **warn**, "inconclusive: the machine is too noisy": anything else (never a failure).

The raw samples are kept (the wizard plots them), and so are the calibrations (a later phase compares
with them). A baseline recorded without calibrations is compared on the raw figures alone.
"""

from __future__ import annotations

import functools
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from oxwizard.checks.result import CheckResult, CheckStatus
from oxwizard.checks.runner import describe_failure, last_line, run_command
from oxwizard.core.config import ChecksConfig
from oxwizard.env.environment import Environment

ALPHA = 0.05  # the significance level of each one-sided rank test

# A fixed pure-Python workload (dicts, strings, calls) timed in chunks of a few milliseconds; the
# median chunk is the machine's speed at that moment. Stdlib only, and run with -I -S: no project
# file, no site-packages, nothing the upgrade changes.
CALIBRATION_CODE = """\
import time
def work():
    d = {}
    for i in range(12000):
        s = str(i) * 3
        d[s] = len(s.split("1")) + i % 7
    return len(d)
times = []
for _ in range(7):
    t = time.perf_counter()
    work()
    times.append(time.perf_counter() - t)
times.sort()
print(times[3])
"""

Side = Literal["above", "within", "unclear"]


@functools.cache
def _u_counts(n: int, m: int) -> tuple[int, ...]:
    """How many of the C(n+m, n) orderings of n + m distinct values give each U = 0 .. n*m: the
    coefficients of the Gaussian binomial, prod over i = 1..n of (1 - q^(m+i)) / (1 - q^i)."""
    top = n * m
    counts = [1] + [0] * top
    for i in range(1, n + 1):
        k = m + i
        for d in range(top, k - 1, -1):  # times (1 - q^k); terms above n*m cancel out in the end
            counts[d] -= counts[d - k]
        for d in range(i, top + 1):  # divided by (1 - q^i)
            counts[d] += counts[d - i]
    return tuple(counts)


def p_greater(xs: Sequence[float], ys: Sequence[float]) -> float:
    """One-sided exact Mann-Whitney U test: the chance that ``xs`` come out at least this far above
    ``ys`` when both are drawn from the same distribution. A tie counts half, rounded down (cautious)."""
    if not xs or not ys:
        return 1.0
    twice_u = sum(2 if x > y else 1 if x == y else 0 for x in xs for y in ys)
    counts = _u_counts(len(xs), len(ys))
    return sum(counts[twice_u // 2 :]) / sum(counts)


def _side(after: Sequence[float], before: Sequence[float], threshold: float) -> tuple[Side, float, float]:
    """Whether ``after`` is significantly above, or within, ``threshold ×`` ``before``; and both p."""
    limit = [threshold * b for b in before]
    above, within = p_greater(after, limit), p_greater(limit, after)
    side: Side = "above" if above <= ALPHA else "within" if within <= ALPHA else "unclear"
    return side, above, within


def _calibrated(samples: Sequence[float], calibration: Sequence[float]) -> list[float] | None:
    """Each run over the geometric mean of the calibrations before and after it; None without them."""
    if len(calibration) != len(samples) + 1 or min(calibration, default=0.0) <= 0:
        return None
    return [s / math.sqrt(calibration[i] * calibration[i + 1]) for i, s in enumerate(samples)]


def _spread(values: Sequence[float]) -> float:
    """Half the range over the median: '±12%' is 0.12."""
    median = statistics.median(values)
    return (max(values) - min(values)) / 2 / median if median > 0 else 0.0


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


@dataclass(frozen=True)
class Comparison:
    """The verdict on the runs after against the baseline's runs: status, summary and numbers."""

    status: CheckStatus
    summary: str
    numbers: dict[str, float] = field(default_factory=dict)


def compare(
    after: Sequence[float],
    before: Sequence[float],
    threshold: float,
    *,
    after_calibration: Sequence[float] = (),
    before_calibration: Sequence[float] = (),
) -> Comparison:
    """Fail only on a slowdown above ``threshold`` that is significant in the raw and the calibrated
    runs; pass when the runs are significantly within it; otherwise inconclusive (warn)."""
    median, base = statistics.median(after), statistics.median(before)
    ratio = median / base if base > 0 else 1.0
    numbers = {"before": base, "ratio": ratio, "threshold": threshold}
    raw_side, raw_above, raw_within = _side(after, before, threshold)
    cal_after = _calibrated(after, after_calibration)
    cal_before = _calibrated(before, before_calibration)
    scale = f"{ratio:.2f}×"
    if cal_after is not None and cal_before is not None:
        machine = statistics.median(after_calibration) / statistics.median(before_calibration)
        adjusted = statistics.median(cal_after) / statistics.median(cal_before)
        side, above, within = _side(cal_after, cal_before, threshold)
        spread = max(_spread(cal_after), _spread(cal_before))
        pace = f"{machine:.2f}× slower" if machine >= 1 else f"{1 / machine:.2f}× faster"
        scale += f"; {adjusted:.2f}× with the machine {pace}"
        numbers.update(machine=machine, adjusted=adjusted)
    else:
        side, above, within = raw_side, raw_above, raw_within
        spread = max(_spread(after), _spread(before))
    p_slower = max(raw_above, above)
    numbers.update(p_slower=p_slower, p_within=within, spread=spread)
    figures = f"median {_ms(median)} vs {_ms(base)} ({scale})"
    if raw_side == "above" and side == "above":
        summary = f"{figures}, above the {threshold:.2f}× limit (p={p_slower:.3f})"
        return Comparison("fail", summary, numbers)
    if side == "within":
        return Comparison("pass", f"{figures}, within the {threshold:.2f}× limit", numbers)
    if side == "unclear" and raw_side == "within":
        summary = f"{figures}, within the {threshold:.2f}× limit (the calibrated runs are too noisy to tell)"
        return Comparison("pass", summary, numbers)
    smallest = 1 / math.comb(len(after) + len(before), len(after))
    if smallest > ALPHA:
        runs = f"{len(after)} runs against {len(before)}"
        summary = (
            f"inconclusive: {runs} cannot tell a slowdown from noise (set benchmark-runs to 5 or more): "
            f"{figures}, limit {threshold:.2f}×"
        )
        return Comparison("warn", summary, numbers)
    summary = (
        f"inconclusive: the machine is too noisy: {figures}, limit {threshold:.2f}×, "
        f"runs vary ±{spread:.0%} (p={min(p_slower, within):.2f})"
    )
    return Comparison("warn", summary, numbers)


def _calibrate(env: Environment, project: Path, config: ChecksConfig) -> float | None:
    """The calibration workload's time in the target interpreter, in seconds; None when it fails."""
    argv = ["python", "-I", "-S", "-c", CALIBRATION_CODE]
    done = run_command(env, argv, project, timeout=config.command_timeout)
    try:
        seconds = float(last_line(done.stdout)) if done.ok else 0.0
    except ValueError:
        return None
    return seconds if seconds > 0 else None


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
    calibration: list[float | None] = [_calibrate(env, project, config)]
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
        calibration.append(_calibrate(env, project, config))
    timings = [c for c in calibration if c is not None]
    if len(timings) < len(calibration):
        timings = []  # a calibration that failed to run: the raw figures alone are compared
    if on_line is not None:
        on_line(f"calibration: {_ms(statistics.median(timings)) if timings else 'failed to run'}")
    median = statistics.median(samples)
    numbers = {"median": median, "runs": float(len(samples))}
    if baseline is None or not baseline.samples:
        return CheckResult(
            name="performance",
            status="pass",
            summary=f"median {_ms(median)}",
            numbers=numbers,
            samples=samples,
            calibration=timings,
            duration=time.monotonic() - started,
        )
    verdict = compare(
        samples,
        baseline.samples,
        config.benchmark_threshold,
        after_calibration=timings,
        before_calibration=baseline.calibration,
    )
    return CheckResult(
        name="performance",
        status=verdict.status,
        summary=verdict.summary,
        numbers=numbers | verdict.numbers,
        samples=samples,
        calibration=timings,
        duration=time.monotonic() - started,
    )
