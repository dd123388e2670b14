"""Benchmark: parse the records many times; prints the elapsed seconds as the last line."""

from __future__ import annotations

import time

import oxzep7

from demoapp.app import process

ROUNDS = 20000
TEXT = ", ".join(f"tag{i}" for i in range(40))


def main() -> None:
    process()  # the real app path once (it writes to the log)
    start = time.perf_counter()
    for _ in range(ROUNDS):
        oxzep7.parse(TEXT)
    print(f"{time.perf_counter() - start:.6f}")


if __name__ == "__main__":
    main()
