"""The failures the plan predicted: a check's failure whose traceback went through a line the plan's
API impact named as a use of a changed name, or a new warning warned at such a line.

The tests record each failing test's error and traceback, and each new warning's place
(:mod:`oxwizard.checks.tests`), the import smoke each failing module's error and traceback
(:mod:`oxwizard.checks.compat`), in ``CheckResult.failures``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from oxwizard.checks.result import CheckResult
from oxwizard.checks.tests import short_name
from oxwizard.env.api_report import ApiImpact, ApiUse


def with_predictions(result: CheckResult, impact: ApiImpact | None, project: Path) -> CheckResult:
    """A failing tests or import smoke result, or a warnings result with new warnings, with each
    newly failing test or module whose traceback went through a line the plan's API impact named,
    and each new warning warned at such a line: ``details["predicted"]`` ("tests/test_db.py::
    test_count: AttributeError: … — app/db.py:17 uses …", "flask: ImportError: … —
    flask/helpers.py:14 (installed flask 2.1.3) uses …", for a warning at app/frames.py:6 "app/frames.py:6
    uses pandas.DataFrame().swapaxes …"), and the summary says how many the plan predicted."""
    if result.status not in ("fail", "warn") or impact is None or not impact.uses:
        return result
    label: Callable[[str], str]
    if result.name == "tests" and result.status == "fail":
        failing = result.details.get("newly_failing", result.details.get("failing", []))
        label = short_name
    elif result.name == "import-smoke" and result.status == "fail":
        failing = sorted(result.failures)  # the modules that fail since the upgrade
        label = _itself
    elif result.name == "warnings":
        failing = result.details.get("new", [])  # each new warning, and the line it was warned at
        label = _itself
    else:
        return result
    places: dict[tuple[str, int], ApiUse] = {}
    for use in impact.uses:
        where = str((project / use.file).resolve()) if not use.user else f"site-packages/{use.file}"
        places.setdefault((where, use.line), use)
    predicted = []
    resolved: dict[str, str] = {}  # failures' frames repeat the same files
    for name in failing:
        error, frames = result.failures.get(name, ("", []))
        for path, line in reversed(frames):  # the innermost frame that the plan named
            if path not in resolved:
                resolved[path] = str(Path(path).resolve())
            known = places.get((resolved[path], line))
            if known is None and "site-packages/" in path:
                known = places.get(("site-packages/" + path.rpartition("site-packages/")[2], line))
            if known is not None:  # (a warning's own line is the use's: the use says it all)
                said = f"{label(name)}: {error} — " if result.name != "warnings" else ""
                predicted.append(said + impact.use_line(known))
                break
        else:
            named = _missing(name, error, impact) if result.name == "import-smoke" else None
            if named is not None:
                predicted.append(f"{label(name)}: {error} — {impact.use_line(named)}")
    if not predicted:
        return result
    summary = f"{result.summary} · the plan predicted {len(predicted)} of {len(failing)}"
    return result.model_copy(
        update={"summary": summary, "details": {**result.details, "predicted": predicted}}
    )


def _itself(module: str) -> str:
    return module


def _missing(item: str, error: str, impact: ApiImpact) -> ApiUse | None:
    """The use that names what a smoked item lacks, when its error is that it is missing: the
    project's ``import lib.sub`` (``lib.sub``: "No module named 'lib.sub'") or ``from lib import
    f`` (``lib:f``: "cannot import name 'f'"), where the plan said that module or name is removed.
    Its traceback has no line of the project's: the smoke imported it as the project spells it."""
    module, _, attr = item.partition(":")
    if attr:
        if not error.startswith("ImportError: cannot import name " + repr(attr)):
            return None
        gone = f"{module}.{attr}"
    else:
        found = re.match(r"ModuleNotFoundError: No module named '([\w.]+)'", error)
        if found is None or not (module == found[1] or module.startswith(f"{found[1]}.")):
            return None
        gone = found[1]
    for use in impact.uses:
        if use.kind == "removed" and (use.name == gone or use.name.startswith((f"{gone}.", f"{gone}("))):
            return use
    return None
