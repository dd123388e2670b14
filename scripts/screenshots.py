"""Generate ``screenshots/*.svg``: every wizard screen, from the demo sandbox.

The prepare screen is the real demo environment; the execute and monitor screens are driven with
the same fixed engine objects the snapshot tests use (so the pictures are stable), at 100×30.

Run: ``.venv/bin/python scripts/screenshots.py [OUT_DIR]``
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def shoot(sandbox: Any, name: str, before: Callable[[Any], Awaitable[None]], out: Path) -> None:
    from tests.tui.conftest import make_app

    app = make_app(sandbox)
    async with app.run_test(size=(100, 30)) as pilot:
        await before(pilot)
        await pilot.pause(0.2)
        app.save_screenshot(filename=f"{name}.svg", path=str(out))
    print(out / f"{name}.svg")


async def main(out: Path) -> None:
    from oxwizard.demo.sandbox import build_demo
    from tests.tui import test_snapshots as shots
    from tests.tui import test_trials

    async def help_screen(pilot: Any) -> None:
        await shots._loaded(pilot)
        await pilot.press("question_mark")

    out.mkdir(parents=True, exist_ok=True)
    sandbox = build_demo(Path(tempfile.mkdtemp(prefix="oxwizard-shots-")))
    for name, before in [
        ("1-prepare", shots._loaded),
        ("2-prepare-plan", shots._planned),
        ("3-execute-gate-failed", shots._gate_failed),
        ("4-monitor", shots._monitoring),
        ("5-help", help_screen),
        ("6-project-files-diff", shots._pins),
        ("7-execute-trials", test_trials._trials),
        ("8-execute-promoted", test_trials._promoted),
    ]:
        await shoot(sandbox, name, before, out)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "screenshots"))
