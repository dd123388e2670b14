"""A process that compares API versions for :func:`oxwizard.checks.api_impact.compare_all`.

``python -m oxwizard.checks.compare_child``: reads pickled ``compare`` arguments from stdin, one
after the other, and writes each pickled result (``("ok", result)`` or ``("error", text)``) to what
was its stdout; everything else it would print (griffe's or the parser's warnings about old
sources) goes nowhere, so that a wizard's screen on the same terminal stays whole.
"""

from __future__ import annotations

import os
import pickle
import sys
import warnings


def main() -> None:
    warnings.simplefilter("ignore")
    results = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    from oxwizard.checks.api_impact import compare

    while True:
        try:
            args = pickle.load(sys.stdin.buffer)
        except EOFError:
            return
        try:
            answer: tuple[str, object] = ("ok", compare(*args))
        except Exception as exc:  # noqa: BLE001 - said to the parent, which compares it itself
            answer = ("error", f"{type(exc).__name__}: {exc}")
        pickle.dump(answer, results)
        results.flush()


if __name__ == "__main__":
    main()
