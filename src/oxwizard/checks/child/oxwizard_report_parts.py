"""What oxwizard's pytest plugin and unittest runner both record (``oxwizard_pytest_report``,
``oxwizard_unittest_report``, beside this file on the test command's ``PYTHONPATH``).

It runs in the TARGET environment, where oxwizard is not installed: only the standard library, and
Python syntax old enough for the interpreters oxwizard upgrades.
"""

from __future__ import annotations

import traceback
from typing import Any

_MAX_FRAMES = 60
_MAX_CHAIN = 10


def qualified(cls: type) -> str:
    """``pkg.mod.Class`` (a builtin by its name alone)."""
    name = getattr(cls, "__qualname__", cls.__name__)
    module = getattr(cls, "__module__", "builtins")
    return name if module == "builtins" else module + "." + name


def failure_of(error: BaseException) -> dict[str, Any]:
    """What failed a test: the first line of the exception that started it (a module that cannot
    be collected is pytest's CollectError raised from the ImportError), and the frames (file, line)
    the tracebacks of the chain went through."""
    chain = [error]
    while len(chain) < _MAX_CHAIN:
        cause = chain[-1].__cause__ or (None if chain[-1].__suppress_context__ else chain[-1].__context__)
        if cause is None or cause in chain:
            break
        chain.append(cause)
    root = chain[-1]
    text = (traceback.format_exception_only(type(root), root) or [type(root).__name__])[-1].strip()
    frames = [[f.filename, f.lineno] for e in chain for f in traceback.extract_tb(e.__traceback__)]
    return {
        "error": text.splitlines()[0][:300] if text else type(root).__name__,
        "frames": frames[-_MAX_FRAMES:],
    }
