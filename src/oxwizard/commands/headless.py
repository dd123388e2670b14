"""The headless front end of the flow: plain progress lines and answers from flags or stdin.

Used by ``oxwizard upgrade`` and ``oxwizard replay``. One line per step with its timing; no ANSI
escapes when stdout is not a terminal; questions answered by ``--yes`` (each question's default),
by the user on a terminal, or "no" when there is no terminal to ask.
"""

from __future__ import annotations

import sys
from typing import TextIO

from oxwizard.checks.result import CheckSet
from oxwizard.flow.steps import CHOICE_LABELS, StepName, safe_answers
from oxwizard.flow.upgrade import Question, StepEvent

_MARKS = {"running": "..", "passed": "ok", "failed": "FAIL", "warned": "warn", "skipped": "skip",
          "stopped": "STOP"}  # fmt: skip


class HeadlessListener:
    """Prints progress; answers questions without a person when told to."""

    def __init__(
        self,
        *,
        assume_yes: bool,
        verbose: bool = False,
        out: TextIO | None = None,
        stdin: TextIO | None = None,
        quiet: bool = False,
        yes_label: str = "--yes",
    ) -> None:
        self.assume_yes = assume_yes
        self.yes_label = yes_label  # why a default was taken, shown after the answer
        self.verbose = verbose
        self.quiet = quiet
        self.out = out or sys.stdout
        self.stdin = stdin or sys.stdin
        self.steps: list[StepEvent] = []

    def on_step(self, event: StepEvent) -> None:
        self.steps.append(event)
        # the culprit search says up front how many trials it may take: shown, though it is "running"
        if self.quiet or (event.status == "running" and not self.verbose and event.step != "isolate"):
            return
        timing = f"{event.elapsed:6.1f}s" if event.elapsed is not None else " " * 7
        self._print(f"[{timing}] {_MARKS[event.status]:4} {event.step}: {event.message}")

    def on_output(self, step: StepName, line: str) -> None:
        if self.verbose and not self.quiet:
            self._print(f"          | {line}")

    def on_checks(self, checkset: CheckSet) -> None:
        if self.quiet:
            return
        for r in checkset.results:
            if r.status in ("fail", "warn"):
                self._print(f"          {r.status:4} {r.name}: {r.summary}")
                for line in r.details.get("predicted", []):  # a failure the plan's API impact named
                    self._print(f"                 {line}")

    def ask(self, question: Question) -> str:
        if self.assume_yes:
            answer = question.default
            self._print(f"          ? {question.text} -> {answer} ({self.yes_label}){_meaning(answer)}")
            return answer
        if not self.stdin.isatty():
            answer = safe_answers().get(question.step) or question.default
            self._print(
                f"          ? {question.text} -> {answer} (no terminal to ask; use --yes){_meaning(answer)}"
            )
            return answer
        if question.detail:
            self._print("          " + question.detail.replace("\n", "\n          "))
        prompt = f"{question.text} [{'/'.join(question.choices)}] (default {question.default}): "
        self.out.write(prompt)
        self.out.flush()
        reply = self.stdin.readline().strip()
        return reply if reply in question.choices else question.default

    def interrupt(self) -> None:
        """A headless run is stopped by signals (SIGINT, SIGTERM), which reach the flow's thread."""

    def _print(self, line: str) -> None:
        if self.quiet:
            return
        self.out.write(line + "\n")
        self.out.flush()


def _meaning(answer: str) -> str:
    """What an answer given for the user does, where its word alone does not say it (``keep``: the
    current version; ``stop``: live untouched)."""
    return f": {CHOICE_LABELS[answer]}" if answer in ("keep", "retry", "stop", "skip", "promote") else ""
