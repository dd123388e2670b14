"""Benchmark: from `R` (a rollback request) to a verified live environment, at each point of a flow.

    python benchmarks/bench_rollback_request.py [--runs 3]

Builds the offline demo sandbox, then runs the real flow (oxzep7 1.4.2 -> 1.5.0, staging copy,
checks, monitoring) again and again, each time asking for a rollback from another thread at one
point: while the staging install runs, during the staging checks, while the install on live runs,
during the checks on live and during monitoring. For each it prints the time from the request to the
"rollback passed" event (live verified: byte-for-byte against the checkpoint on live, or checked to
still match it before live was touched), next to the time the interrupted step had been running and
the time a whole flow takes, measured in the same run. Targets (issue 10): <= 1 s in staging on the
demo; on live <= 1 s plus what the journal needs. Asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from oxwizard.checks.result import CheckSet
from oxwizard.core.config import load_project_config
from oxwizard.demo.sandbox import build_demo
from oxwizard.env.environment import Environment
from oxwizard.env.specs import IndexOptions, parse_specs
from oxwizard.flow.upgrade import Question, StepEvent, UpgradeFlow
from oxwizard.runbook.model import FlowOptions

POINTS = {
    "staging install": ("install-staging", None),
    "staging checks (tests)": ("checks-staging", "── tests"),
    "live install": ("promote", None),
    "checks on live (tests)": ("checks-live", "── tests"),
    "monitoring (tests)": ("monitor", "── tests"),
}


class Timer:
    def __init__(self, step: str, marker: str | None) -> None:
        self.step, self.marker = step, marker
        self.flow: UpgradeFlow | None = None
        self.armed = marker is None
        self.asked_at: float | None = None
        self.verified_at: float | None = None

    def on_step(self, event: StepEvent) -> None:
        if event.step == "rollback" and event.status == "passed":
            self.verified_at = time.perf_counter()

    def on_output(self, step: str, line: str) -> None:
        if step != self.step or self.asked_at is not None:
            return
        if self.armed:
            assert self.flow is not None
            self.asked_at = time.perf_counter()
            threading.Thread(target=self.flow.request_rollback, args=("benchmark",)).start()
        elif self.marker is not None and line.startswith(self.marker):
            self.armed = True

    def on_checks(self, checkset: CheckSet) -> None:
        return None

    def ask(self, question: Question) -> str:
        return question.default

    def interrupt(self) -> None:
        return None


def run_once(root: Path, step: str, marker: str | None) -> tuple[float, float]:
    """(seconds from the request to verified live, seconds of the whole flow)."""
    project = root / "project"
    timer = Timer(step, marker)
    config = load_project_config(project).model_copy(update={"benchmark_threshold": 50.0})
    flow = UpgradeFlow(
        Environment.open(project / ".venv"),
        project,
        parse_specs(["oxzep7==1.5.0"]),
        IndexOptions.build(find_links=[str(root / "wheelhouse")], no_index=True),
        listener=timer,
        config=config,
        options=FlowOptions(stage=True, monitor_rounds=2, monitor_interval=0.2),
    )
    timer.flow = flow
    started = time.perf_counter()
    outcome = flow.run()
    total = time.perf_counter() - started
    if outcome.status != "rolled-back" or timer.asked_at is None or timer.verified_at is None:
        sys.exit(f"{step}: the flow ended {outcome.status}: {outcome.message}")
    return timer.verified_at - timer.asked_at, total


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="oxwizard-bench-request-")) / "demo"
    build_demo(root)
    print(f"demo sandbox {root}; {args.runs} runs per point (median, max)")
    print(f"{'rollback asked during':<26} {'R -> verified live':>20} {'the flow, start to end':>22}")
    for name, (step, marker) in POINTS.items():
        took = [run_once(root, step, marker) for _ in range(args.runs)]
        to_live = [t for t, _ in took]
        flows = [f for _, f in took]
        print(
            f"{name:<26} {statistics.median(to_live):8.3f} s ({max(to_live):5.3f} s)"
            f" {statistics.median(flows):14.2f} s"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
