"""Validate data/records.csv against data/records.schema.json; exit 0 when valid."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def problems(data: Path, schema: Path) -> list[str]:
    spec = json.loads(schema.read_text(encoding="utf-8"))
    out = []
    with data.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in spec["required"] if c not in (reader.fieldnames or [])]
        if missing:
            return [f"missing column {c}" for c in missing]
        for n, row in enumerate(reader, start=2):
            for column, kind in spec["columns"].items():
                value = row.get(column, "")
                if column in spec["required"] and not value:
                    out.append(f"line {n}: {column} is empty")
                elif kind == "int" and value and not value.lstrip("-").isdigit():
                    out.append(f"line {n}: {column} is not an integer: {value!r}")
    return out


def main() -> int:
    found = problems(ROOT / "data" / "records.csv", ROOT / "data" / "records.schema.json")
    if found:
        print(f"invalid: {len(found)} problem(s), first: {found[0]}")
        return 1
    print("valid: data/records.csv matches data/records.schema.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
