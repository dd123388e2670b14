"""Benchmark: parse a record many times; prints the best of several repeats (seconds) as its last
line. The best of repeats, as timeit reports, is the figure least disturbed by other load."""

from __future__ import annotations

import time

import oxzep7

from demoapp.app import process

ROUNDS = 4000
REPEATS = 5
TEXT = ", ".join(f"tag{i}" for i in range(40))


def main() -> None:
    process()  # the real app path once (it writes to the log)
    best = float("inf")
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(ROUNDS):
            oxzep7.parse(TEXT)
        best = min(best, time.perf_counter() - start)
    print(f"{best:.6f}")


if __name__ == "__main__":
    main()
