"""oxwizard's pytest plugin (loaded with ``-p oxwizard_pytest_report``): a JSON report of the run.

It runs in the TARGET environment, where oxwizard is not installed: only the standard library and
pytest, and Python syntax old enough for the interpreters oxwizard upgrades. It writes, to the file
named by ``OXWIZARD_TEST_REPORT``, every test's outcome (by node id: passed, failed, error, skipped;
a failing setup or teardown is an error, a module that cannot be collected is an error) and every
warning the run recorded, with its category's MRO, message and where it was raised, and for each
failing test the exception's first line and the frames (file, line) its traceback went through.

Warnings come from pytest's own machinery (``pytest_warning_recorded``), so the user's filters
(``filterwarnings``, ``-W``, marks) apply exactly as in their own runs. When pytest's warnings
plugin is switched off (``-p no:warnings``), this plugin records them itself around collection and
each test, under the interpreter's filters as they stand.
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

import pytest
from oxwizard_report_parts import failure_of, qualified  # type: ignore[import-not-found]  # (beside it)

_REPORT_VAR = "OXWIZARD_TEST_REPORT"
_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}


class _Recorder:
    def __init__(self, path: str) -> None:
        self.path = path
        self.outcomes: dict[str, str] = {}
        self.warnings: list[dict[str, Any]] = []
        self.failures: dict[str, dict[str, Any]] = {}
        self.own_capture = False

    def outcome(self, nodeid: str, outcome: str) -> None:
        before = self.outcomes.get(nodeid)
        if before is None or _RANK[outcome] > _RANK[before]:
            self.outcomes[nodeid] = outcome

    def warning(self, message: warnings.WarningMessage, nodeid: str, when: str) -> None:
        category = message.category
        self.warnings.append(
            {
                "category": qualified(category),
                "mro": [qualified(c) for c in category.__mro__ if c is not object],
                "message": str(message.message),
                "filename": str(message.filename),
                "lineno": int(message.lineno or 0),
                "nodeid": nodeid,
                "when": when,
            }
        )

    def failure(self, nodeid: str, error: BaseException) -> None:
        if nodeid not in self.failures:
            self.failures[nodeid] = failure_of(error)

    def write(self, exitstatus: int) -> None:
        data: dict[str, Any] = {"runner": "pytest", "outcomes": self.outcomes, "warnings": self.warnings}
        data["failures"] = self.failures
        data.update(exitstatus=int(exitstatus), pytest=pytest.__version__)
        tmp = self.path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, self.path)


_recorder: _Recorder | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _recorder
    # taken out of the environment: a pytest the tests start themselves does not overwrite it
    path = os.environ.pop(_REPORT_VAR, "")
    if not path or _recorder is not None:
        return
    _recorder = _Recorder(path)
    _recorder.own_capture = not config.pluginmanager.has_plugin("warnings")


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if _recorder is not None and report.failed:
        _recorder.outcome(report.nodeid or "<collection>", "error")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _recorder is None:
        return
    if report.when == "call":
        if report.passed:
            _recorder.outcome(report.nodeid, "passed")
        elif report.failed:
            _recorder.outcome(report.nodeid, "failed")
        else:  # skipped, or an expected failure
            _recorder.outcome(report.nodeid, "skipped")
    elif report.failed:  # setup or teardown
        _recorder.outcome(report.nodeid, "error")
    elif report.skipped:  # skipped in setup (a skip mark, a skipping fixture)
        _recorder.outcome(report.nodeid, "skipped")


def pytest_exception_interact(node: Any, call: Any, report: Any) -> None:
    """A test that failed, or a module that could not be collected (an import that breaks)."""
    excinfo = getattr(call, "excinfo", None)
    if _recorder is not None and excinfo is not None and report.failed:
        _recorder.failure(report.nodeid or "<collection>", excinfo.value)


def pytest_warning_recorded(
    warning_message: warnings.WarningMessage, when: str, nodeid: str, location: object
) -> None:
    if _recorder is not None and not _recorder.own_capture:
        _recorder.warning(warning_message, nodeid, when)


def _own_capture(nodeid: str, when: str) -> Any:
    """Around one hook: record its warnings ourselves when pytest's capture is off."""
    if _recorder is None or not _recorder.own_capture:
        yield
        return
    with warnings.catch_warnings(record=True) as log:
        yield
    for message in log or []:
        _recorder.warning(message, nodeid, when)


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_collection(session: pytest.Session) -> Any:
    yield from _own_capture("", "collect")


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_runtest_protocol(item: pytest.Item) -> Any:
    yield from _own_capture(item.nodeid, "runtest")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _recorder is not None:
        _recorder.write(exitstatus)
