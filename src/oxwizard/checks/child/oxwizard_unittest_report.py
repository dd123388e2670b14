"""oxwizard's unittest runner: ``python -m oxwizard_unittest_report [unittest arguments]``.

It runs in the TARGET environment, where oxwizard is not installed: only the standard library, and
Python syntax old enough for the interpreters oxwizard upgrades. It takes the arguments of
``python -m unittest`` (``discover -s tests -v``, test names, nothing), runs the tests as unittest
would (same output, same exit code), and writes, to the file named by ``OXWIZARD_TEST_REPORT``,
every test's outcome by id (passed, failed, error, skipped) and every warning raised while the
tests were imported and run (recorded with ``warnings.catch_warnings(record=True)``, under the
filters unittest sets: ``default`` unless ``-W`` options were given), with its category's MRO,
message and where it was raised, and for each failing test the exception's first line and the
frames (file, line) its traceback went through. Recorded warnings are still printed to stderr as
unittest would.
"""

from __future__ import annotations

import json
import os
import sys
import unittest
import warnings
from typing import Any

from oxwizard_report_parts import failure_of, qualified  # type: ignore[import-not-found]  # (beside it)

_REPORT_VAR = "OXWIZARD_TEST_REPORT"
_RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
OUTCOMES: dict[str, str] = {}
WARNINGS: list[dict[str, Any]] = []
FAILURES: dict[str, dict[str, Any]] = {}


def _failure(test: Any, err: Any) -> None:
    """What failed a test: see :func:`oxwizard_report_parts.failure_of`."""
    test_id = str(test.id())
    if test_id not in FAILURES and isinstance(err[1], BaseException):
        FAILURES[test_id] = failure_of(err[1])


def _keep(log: list[warnings.WarningMessage], test_id: str) -> None:
    for message in log:
        WARNINGS.append(
            {
                "category": qualified(message.category),
                "mro": [qualified(c) for c in message.category.__mro__ if c is not object],
                "message": str(message.message),
                "filename": str(message.filename),
                "lineno": int(message.lineno or 0),
                "nodeid": test_id,
                "when": "runtest" if test_id else "collect",
            }
        )
        text = warnings.formatwarning(
            message.message, message.category, message.filename, message.lineno, message.line
        )
        sys.stderr.write(text)


def _outcome(test: Any, outcome: str) -> None:
    test_id = str(test.id())
    before = OUTCOMES.get(test_id)
    if before is None or _RANK[outcome] > _RANK[before]:
        OUTCOMES[test_id] = outcome


class ReportingResult(unittest.TextTestResult):
    """A TextTestResult that also records each test's outcome and the warnings it raised."""

    _catcher: Any = None
    _log: Any = None

    def startTest(self, test: unittest.TestCase) -> None:
        self._catcher = warnings.catch_warnings(record=True)
        self._log = self._catcher.__enter__()
        super().startTest(test)

    def stopTest(self, test: unittest.TestCase) -> None:
        super().stopTest(test)
        if self._catcher is not None:
            self._catcher.__exit__(None, None, None)
            _keep(list(self._log or []), str(test.id()))
            self._catcher = self._log = None

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        _outcome(test, "passed")

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addFailure(test, err)
        _outcome(test, "failed")
        _failure(test, err)

    def addError(self, test: unittest.TestCase, err: Any) -> None:
        super().addError(test, err)
        _outcome(test, "error")
        _failure(test, err)  # also setUpClass/setUpModule errors and modules that fail to import

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        _outcome(test, "skipped")

    def addExpectedFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addExpectedFailure(test, err)
        _outcome(test, "passed")

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:
        super().addUnexpectedSuccess(test)
        _outcome(test, "failed")

    def addSubTest(self, test: unittest.TestCase, subtest: unittest.TestCase, err: Any) -> None:
        super().addSubTest(test, subtest, err)
        if err is not None:
            failed = issubclass(err[0], test.failureException)
            _outcome(test, "failed" if failed else "error")


class ReportingRunner(unittest.TextTestRunner):
    resultclass = ReportingResult  # type: ignore[assignment]  # typeshed wants a callable


def _write(path: str, code: int) -> None:
    data = {"runner": "unittest", "outcomes": OUTCOMES, "warnings": WARNINGS, "exitstatus": code}
    data["failures"] = FAILURES
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def main(argv: list[str]) -> int:
    path = os.environ.pop(_REPORT_VAR, "")
    code = 1
    try:
        with warnings.catch_warnings(record=True) as log:  # warnings while the tests are imported
            program = unittest.main(
                module=None, argv=["python -m unittest", *argv], testRunner=ReportingRunner, exit=False
            )
        _keep(list(log or []), "")
        result = program.result
        if not result.wasSuccessful():
            code = 1
        elif result.testsRun == 0 and not result.skipped:
            code = 5  # as unittest since Python 3.12 and pytest: no tests ran
        else:
            code = 0
    finally:
        if path:
            _write(path, code)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
