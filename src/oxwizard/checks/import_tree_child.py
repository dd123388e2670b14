"""oxwizard's import smoke, run by the TARGET environment's interpreter (its text, with ``-I -c``).

Only the standard library, and Python syntax old enough for the interpreters oxwizard upgrades.
Reads a plan (JSON) on standard input::

    {"out": FOLDER, "workers": N, "timeout": SECONDS,
     "root": {"items": [ITEM, ...]}}
    ITEM: {"leaf": "a.b.c", "id": K, "names": ["a.b:c", ...]}
        | {"preload": ["numpy", "numpy.core", ...], "id": K, "items": [ITEM, ...]}

Each leaf is imported in a process of its own, forked from the process that holds its preloads (at
the root: nothing but this file's own standard-library modules, as in a fresh interpreter). A
preload process (a "zygote") imports its modules, then forks its own items. The plan only ever
preloads, for a leaf, modules that the leaf imported anyway when it was last imported alone: the
import of the leaf does what it would do alone, minus work already done. At most ``workers``
processes import at once (tokens in a pipe shared by the whole tree).

Results go to files in FOLDER, one per item id: ``K.json`` (a leaf's report: the modules on the
way that imported, the first error with the (file, line) pairs of its traceback, the names missing,
its seconds and every module it left in ``sys.modules``), ``K.err`` (its standard error), ``K.died``
(written by its parent: how it ended, when it ended without a report), ``K.failed`` (a zygote whose
preload raised: its leaves have no report and are imported alone by the caller), ``K.ready`` (a
zygote whose preload ended well). A leaf or a preload ends on SIGALRM after ``timeout`` seconds.
Whatever way an item ends, its token comes back, so that one dying never leaves the others waiting.
"""

from __future__ import annotations

import errno
import gc
import importlib
import json
import os
import select
import signal
import sys
import time
import warnings
from typing import Any

_BASE = set(sys.modules)  # what the interpreter starts with (and this file's own imports, below)


class _Tree:
    def __init__(self, plan: dict[str, Any]) -> None:
        self.out: str = plan["out"]
        self.timeout = max(1, int(plan["timeout"]))
        self.tokens_r, self.tokens_w = os.pipe()
        os.set_blocking(self.tokens_r, False)
        os.write(self.tokens_w, b"x" * max(1, int(plan["workers"])))

    def path(self, item: dict[str, Any], suffix: str) -> str:
        return os.path.join(self.out, f"{item['id']}.{suffix}")

    def write(self, item: dict[str, Any], suffix: str, text: str) -> None:
        tmp = self.path(item, suffix + ".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, self.path(item, suffix))

    def release(self) -> None:
        os.write(self.tokens_w, b"x")

    def serve(self, items: list[dict[str, Any]]) -> None:
        """Fork each item once a token is free (the first items first), then wait for them all."""
        running: dict[int, dict[str, Any]] = {}
        for item in items:
            while True:
                try:
                    os.read(self.tokens_r, 1)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                        raise
                self.reap(running, block=False)
                select.select([self.tokens_r], [], [], 0.02)
            sys.stdout.flush()
            sys.stderr.flush()
            with warnings.catch_warnings():  # "this process is multi-threaded": the preloads' threads
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
            if pid == 0:
                try:
                    if "leaf" in item:
                        self.leaf(item)
                    else:
                        self.zygote(item)
                finally:
                    os._exit(70)  # never returns into the parent's loop
            running[pid] = item
        while running:
            self.reap(running, block=True)

    def reap(self, running: dict[int, dict[str, Any]], block: bool) -> None:
        while running:
            try:
                pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
            except ChildProcessError:
                running.clear()
                return
            if pid == 0:
                return
            item = running.pop(pid, None)
            if item is None:
                continue
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            # its token, when it ended without giving it back (killed, or a module that calls
            # os._exit itself): a leaf gives it back right after its report, a zygote right after
            # its preload's mark (".ready", or ".failed"), whatever happens to them after
            marks = ("json",) if "leaf" in item else ("ready", "failed")
            if not any(os.path.exists(self.path(item, mark)) for mark in marks):
                self.release()
                if "leaf" in item:
                    self.write(item, "died", json.dumps({"code": code}))
            if block:
                return

    def enter(self, item: dict[str, Any]) -> None:
        """A forked item's start: its standard error to its own file, its output nowhere, its clock."""
        err = os.open(self.path(item, "err"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(err, 2)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        signal.alarm(self.timeout)

    def leaf(self, item: dict[str, Any]) -> None:
        self.enter(item)
        started = time.monotonic()
        parts = item["leaf"].split(".")
        ok: list[str] = []
        error = None
        missing: list[str] = []
        for depth in range(1, len(parts) + 1):
            name = ".".join(parts[:depth])
            try:
                importlib.import_module(name)
            except BaseException as exc:  # noqa: BLE001 - whatever an import raises is its verdict
                error = [name, _why(exc), _frames(exc)]
                break
            ok.append(name)
        # the names the project imports from those modules (from a.b import c), as the import
        # statement finds them: an attribute, else a submodule
        for entry in item["names"]:
            mod, _, attr = entry.partition(":")
            if mod not in ok or hasattr(sys.modules[mod], attr):
                continue
            try:
                importlib.import_module(mod + "." + attr)
            except BaseException:  # noqa: BLE001 - as above
                missing.append(entry)
        report = {
            "ok": ok,
            "error": error,
            "missing": missing,
            "seconds": time.monotonic() - started,
            "modules": [m for m in list(sys.modules) if m not in _BASE],
        }
        signal.alarm(0)
        self.write(item, "json", json.dumps(report))
        sys.stderr.flush()
        self.release()
        os._exit(0)

    def zygote(self, item: dict[str, Any]) -> None:
        self.enter(item)
        try:
            for name in item["preload"]:
                if name in sys.modules:
                    continue
                try:
                    importlib.import_module(name)
                except ModuleNotFoundError as exc:
                    if exc.name != name:  # a module it imports is missing: not a name to skip
                        raise
                    # a name only ever put in sys.modules by hand (Cython's shared module, aliases)
        except BaseException as exc:  # noqa: BLE001 - its leaves are imported alone instead
            signal.alarm(0)
            self.write(item, "failed", _why(exc))
            sys.stderr.flush()
            self.release()
            os._exit(3)
        signal.alarm(0)
        sys.stderr.flush()
        # what the preload made is never collected here: its objects out of the collector's reach,
        # so that a collection in a forked item neither scans them nor writes to (copies) their pages
        gc.freeze()
        self.write(item, "ready", "")
        self.release()
        self.serve(item["items"])
        os._exit(0)


def _why(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def _frames(exc: BaseException) -> list[list[Any]]:
    """Where the error went through, (file, line) outermost first: the innermost 50."""
    frames: list[list[Any]] = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append([tb.tb_frame.f_code.co_filename, tb.tb_lineno])
        tb = tb.tb_next
    return frames[-50:]


def main() -> None:
    plan = json.load(sys.stdin)
    tree = _Tree(plan)
    tree.serve(plan["root"]["items"])


if __name__ == "__main__":
    main()
