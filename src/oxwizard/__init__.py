"""oxwizard: upgrade Python dependencies without fear.

The package is split in two halves: the engine (every module at this level and in ``checks/``),
which never imports Textual, and ``tui/``, which renders engine results and forwards decisions.
"""

__version__ = "0.1.0"
