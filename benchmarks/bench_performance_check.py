"""Benchmark: the performance check's verdicts on the demo while other processes keep every core busy.

    python benchmarks/bench_performance_check.py [--trials 6]

Builds a demo sandbox (local wheelhouse, no network), then per trial: the benchmark on 1.4.2 on the
machine as it is (the baseline) and with every core kept busy, 1.5.0 (healthy) measured with every
core busy, and 2.0.0 (about 5x slower) measured as it is and with every core busy. Prints each
verdict next to what the old rule (median after / median before above the threshold) would have
said, then the counts. The load is the tests' (``busy_cores`` in tests/test_performance_check.py).
Asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

from oxwizard.checks.performance import compare, run_benchmark
from oxwizard.checks.result import CheckResult
from oxwizard.core import proc
from oxwizard.core.config import load_project_config
from oxwizard.demo.sandbox import DemoSandbox, build_demo
from oxwizard.env.environment import Environment

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_performance_check import busy_cores


def install(sandbox: DemoSandbox, spec: str) -> Environment:
    argv = [str(sandbox.python), "-m", "pip", "install", "-q", "--no-index"]
    done = proc.run(
        [*argv, "--find-links", str(sandbox.wheelhouse), spec], env=proc.pip_environment(), timeout=300
    )
    if not done.ok:
        raise SystemExit(done.stderr)
    return Environment.open(sandbox.venv)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=6)
    args = parser.parse_args()
    counts: Counter[tuple[str, str, str]] = Counter()
    with tempfile.TemporaryDirectory() as tmp:
        sandbox = build_demo(Path(tmp) / "demo")
        config = load_project_config(sandbox.project)
        limit = config.benchmark_threshold

        def show(trial: int, case: str, after: CheckResult, before: CheckResult) -> None:
            verdict = compare(
                after.samples, before.samples, limit,
                after_calibration=after.calibration, before_calibration=before.calibration,
            )  # fmt: skip
            old = "fail" if after.numbers["median"] / before.numbers["median"] > limit else "pass"
            counts[(case, verdict.status, old)] += 1
            print(
                f"[{trial}] {case:<28} {verdict.status:4} (old rule: {old:4})  {verdict.summary}", flush=True
            )

        for trial in range(args.trials):
            env = install(sandbox, "oxzep7==1.4.2")
            quiet = run_benchmark(env, sandbox.project, config)
            with busy_cores():
                busy = run_benchmark(env, sandbox.project, config)
            env = install(sandbox, "oxzep7==1.5.0")
            with busy_cores():
                healthy = run_benchmark(env, sandbox.project, config)
            show(trial, "1.5.0, load after baseline", healthy, quiet)
            show(trial, "1.5.0, load during both", healthy, busy)
            env = install(sandbox, "oxzep7==2.0.0")
            show(trial, "2.0.0", run_benchmark(env, sandbox.project, config), quiet)
            with busy_cores():
                slow = run_benchmark(env, sandbox.project, config)
            show(trial, "2.0.0, load after baseline", slow, quiet)
    print()
    for (case, status, old), n in sorted(counts.items()):
        print(f"{case:<28} now {status:4} old rule {old:4}: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
