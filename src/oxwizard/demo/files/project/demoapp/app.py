"""Reads data/records.csv, parses each record's tags with oxzep7 and renders them."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import oxzep7

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "records.csv"
LOG = ROOT / "logs" / "app.log"


def log(level: str, message: str) -> None:
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with LOG.open("a", encoding="utf-8") as fh:
        fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {level} {message}\n")


def _renderer():
    try:
        from oxzep7.fmt import render
    except ImportError as exc:
        log("ERROR", f"oxzep7.fmt is unavailable ({exc}); falling back to a plain join")
        return lambda items: " | ".join(items)
    return render


def _parse(text: str) -> list[str]:
    try:
        return oxzep7.legacy_parse(text)
    except AttributeError:
        log("ERROR", "oxzep7.legacy_parse is gone; falling back to oxzep7.parse")
        return oxzep7.parse(text)


def process(path: Path = DATA, *, quiet: bool = False) -> list[str]:
    """One rendered line per record."""
    render = _renderer()
    out = []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            out.append(f"{row['name']}: {render(_parse(row['tags']))}")
    if not quiet:
        log("INFO", f"processed {len(out)} records with oxzep7 {oxzep7.__version__}")
    return out


if __name__ == "__main__":
    for line in process():
        print(line)
