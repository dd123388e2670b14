"""The steps of an upgrade, in one table: every front end reads it.

For each step: the screen of the wizard that shows it, its label in plain words, a one-line
explanation (the wizard's ``?`` help), and for a decision the question, its choices, the answer
``--yes`` takes (``default``) and the answer taken when nobody can be asked (``safe``: a headless run
with no terminal, a replay). The flow asks its questions from here, the headless listener and the
replay answer from here, and the wizard's screens list their steps from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

StepName = Literal[
    "plan", "risk", "checkpoint", "stage", "baseline", "go", "install-staging", "checks-staging",
    "ack-warnings", "pins", "promote", "checks-live", "monitor", "verdict", "rollback", "isolate",
    "promote-set",
]  # fmt: skip
ScreenName = Literal["prepare", "execute", "monitor"]


@dataclass(frozen=True)
class Step:
    name: StepName
    screen: ScreenName
    label: str
    explain: str
    question: str = ""  # a template (str.format) when the step asks something
    choices: tuple[str, ...] = ()
    default: str = ""  # the answer --yes takes (the verdict's depends on the monitoring: see default_answer)
    safe: str = ""  # the answer taken when nobody can be asked
    counted: bool = True  # a step of the progress count (risk and rollback are not)


TABLE: tuple[Step, ...] = (
    Step("plan", "prepare", "plan",
         "what would change, worked out by the real installer; nothing is installed"),
    Step("risk", "prepare", "risk", "how risky the plan looks before anything runs", counted=False),
    Step("checkpoint", "prepare", "checkpoint",
         "a record of every file of the environment, so that a roll back restores it exactly"),
    Step("stage", "prepare", "staging copy",
         "a throwaway copy of the environment where the upgrade is tried first"),
    Step("baseline", "prepare", "checks before",
         "your tests and the other checks on the current version, to compare the new one against"),
    Step("go", "prepare", "go or wait", "upgrade now, or wait (nothing is changed)",
         question="Upgrade {summary}?", choices=("go", "wait"), default="go", safe="wait"),
    Step("install-staging", "execute", "install in the copy",
         "the new version installed in the staging copy"),
    Step("checks-staging", "execute", "checks in the copy",
         "your tests, imports of the packages that depend on it, warnings, benchmark, logs, data",
         question="Checks failed in the staging copy: {reason}", choices=("keep", "retry"),
         default="keep", safe="keep"),
    Step("isolate", "execute", "find the culprits",
         "all the targets together failed: subsets tried in staging clones name the ones that break",
         counted=False),
    Step("promote-set", "execute", "promote the rest",
         "the largest set of targets that passed its checks in staging, without the culprits",
         question="{count} of {total} targets pass together: install them on live?",
         choices=("promote", "stop"), default="promote", safe="stop", counted=False),
    Step("ack-warnings", "execute", "new warnings",
         "warnings the new version adds: read them before it goes on live",
         question="{count} new warning(s) with the new version: acknowledge and install on live?",
         choices=("acknowledge", "stop"), default="acknowledge", safe="stop"),
    Step("pins", "execute", "project files",
         "the upgrade written into your project's files (pins, ranges, --hash lines) on a new git "
         "branch, or as a patch, so that rebuilding from them keeps it (asked with --update-pins)",
         question="Write the upgrade into the project files on {branch}?", choices=("write", "skip"),
         default="write", safe="skip", counted=False),
    Step("promote", "execute", "install on live",
         "the same install on your real environment (cut short, even by a crash: rolled back)"),
    Step("checks-live", "execute", "checks on live", "the same checks on your real environment",
         question="Checks failed on live: {reason}", choices=("rollback", "keep", "retry"),
         default="rollback", safe="rollback"),
    Step("monitor", "monitor", "monitoring", "the checks repeated on live for a few rounds"),
    Step("verdict", "monitor", "keep or roll back",
         "your verdict: keep the upgrade, or roll back to the checkpoint",
         question="{question}", choices=("success", "rollback"), default="success", safe="rollback"),
    Step("rollback", "execute", "roll back",
         "the environment restored from the checkpoint and verified file by file", counted=False),
)  # fmt: skip

BY_NAME: dict[str, Step] = {s.name: s for s in TABLE}
# The steps in order, as a checklist; "progress" counts them.
CHECKLIST: tuple[StepName, ...] = tuple(s.name for s in TABLE if s.counted)


def step(name: str) -> Step:
    return BY_NAME[name]


def on_screen(screen: ScreenName, *, with_rollback: bool = False) -> tuple[StepName, ...]:
    """The steps a screen lists, in order (``plan`` is the prepare screen's plan panel, not a row)."""
    names = [s.name for s in TABLE if s.screen == screen and s.counted and s.name != "plan"]
    if with_rollback:
        names.append("rollback")
    return tuple(names)


def screen_of(name: str) -> ScreenName | None:
    found = BY_NAME.get(name)
    return found.screen if found else None


def safe_answers() -> dict[str, str]:
    """What each question gets when nobody can be asked."""
    return {s.name: s.safe for s in TABLE if s.choices}


def label(name: str) -> str:
    found = BY_NAME.get(name)
    return found.label if found else name


# What each answer does, in plain words (the wizard's question box, the headless runs' answers).
CHOICE_LABELS = {
    "go": "go — staging copy first, then live",
    "wait": 'wait — "not now"',
    "keep": "keep the current version",
    "retry": "run the checks again",
    "rollback": "roll back to the checkpoint",
    "acknowledge": "acknowledge and install on live",
    "stop": "stop (live untouched)",
    "success": "success: keep the upgrade",
    "write": "write the project files on the branch",
    "skip": "skip (the files stay as they are)",
    "promote": "install the ones that pass on live",
}
