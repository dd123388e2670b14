"""The argument parser every verb and the wizard use: our one-line error format and exit code 2."""

from __future__ import annotations

import argparse


class Parser(argparse.ArgumentParser):
    """argparse with our one-line error format and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"oxwizard: error: {message} (see --help)\n")
