"""The terminal's width, read the way :func:`shutil.get_terminal_size` reads it, without importing
shutil (and with it bz2, lzma and zlib), which would cost ``oxwizard --help`` a sixth of a bare
Python's start-up."""

from __future__ import annotations

import os
import sys


def columns() -> int:
    """``$COLUMNS``, else the width of stdout's terminal, else 80 (as shutil.get_terminal_size)."""
    try:
        found = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        found = 0
    if found <= 0:
        try:
            found = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            found = 0
    return found if found > 0 else 80
