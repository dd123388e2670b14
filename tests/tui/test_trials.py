"""Many targets in the wizard: ``A`` picks every outdated row, and the Execute screen lists the
culprit search's trials (their sets, passed or failed) and offers the set that passed (80x24);
once that set is promoted, the screens show its plan and name the culprits left out."""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from oxwizard.env.environment import Environment
from oxwizard.env.plan import compute_plan
from oxwizard.env.specs import IndexOptions, parse_specs
from oxwizard.flow.steps import step
from oxwizard.flow.upgrade import Question
from oxwizard.runbook.model import Runbook
from oxwizard.tui import tasks
from oxwizard.tui.messages import QuestionAsked
from oxwizard.tui.widgets.targets import TargetsTable

from .conftest import make_app, wait_ready
from .test_snapshots import _ev, _planned, screen_lines

OUTDATED = {"alpha", "beta", "delta", "gamma", "humbleconf", "oxzep7", "quillpen", "ziprow"}
TRIALS = [
    ("failed", "trial 1: alpha==2.0.0 beta==2.0.0 delta==2.0.0 gamma==2.0.0 -> FAILED tests"),
    ("passed", "trial 2: alpha==2.0.0 -> passed"),
    ("failed", "trial 3: alpha==2.0.0 beta==2.0.0 -> FAILED tests"),
    ("passed", "trial 4: beta==2.0.0 -> passed"),
    ("failed", "trial 5: oxzep7==2.0.0 -> FAILED import-smoke, tests, error-logs"),
    (
        "passed",
        "trial 6: delta==2.0.0 gamma==2.0.0 humbleconf==1.3.0 quillpen==0.9.1 ziprow==0.3.2 -> passed",
    ),
]
CULPRITS = [
    "alpha 2.0.0 + beta 2.0.0 together: tests: newly failing: test_theme",
    "oxzep7 2.0.0: tests: 3 newly failing: test_legacy_parse, test_render, test_process_logs_no_errors",
]


async def test_A_picks_every_outdated_row_and_again_none(demo_template: Any) -> None:
    app = make_app(demo_template)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        table = app.screen.query_one(TargetsTable)
        table.focus()
        await pilot.press("A")
        await pilot.pause()
        assert app.state.picked == OUTDATED  # oxzep7-plugin, pip: nothing newer, not picked
        assert app.screen.current_specs() == sorted(OUTDATED)  # type: ignore[attr-defined]
        assert all(str(table.get_row_at(n)[0]).startswith("✔") == (r.name in OUTDATED)
                   for n, r in enumerate(table.visible_rows()))  # fmt: skip
        await pilot.press("A")
        await pilot.pause()
        assert app.state.picked == frozenset()


async def _trials(pilot: Pilot[Any]) -> None:
    await _planned(pilot)
    app: Any = pilot.app
    running = "8 targets (7 units) fail together: finding the culprits, at most 5 trials for one culprit"
    ask = step("promote-set")
    for msg in (
        _ev("go", "passed", "go", None, 5),
        _ev("install-staging", "passed", "installed in staging", 1.1, 6),
        _ev("checks-staging", "failed", "import-smoke, tests, error-logs failed", 2.4, 7),
        _ev("isolate", "running", running, None, 7),
        *(_ev("isolate", status, message, 9.5, 7) for status, message in TRIALS),
        QuestionAsked(Question("promote-set", ask.question.format(count=5, total=8), ask.choices,
                               ask.default, "\n".join(["Not promoted:", *CULPRITS]))),
    ):  # fmt: skip
        app.post_message(msg)
    await pilot.pause()
    await pilot.pause()


async def test_execute_lists_the_trials_and_offers_the_passing_set(demo_template: Any) -> None:
    app: Any = make_app(demo_template)
    async with app.run_test(size=(80, 24)) as pilot:
        await _trials(pilot)
        lines = screen_lines(app)
        text = "\n".join(lines)
        assert "Trials: 6 (3 failed)" in text
        # the newest five trials, each with its set and its verdict; the first one is counted
        assert "earlier trial(s)" in text
        assert any("✘  3 alpha beta" in line and "tests" in line for line in lines), text
        assert any("✔  4 beta" in line for line in lines), text
        assert any("✘  5 oxzep7" in line and "import-smoke" in line for line in lines), text
        assert any("✔  6 delta gamma humbleconf quillpen ziprow" in line for line in lines), text
        assert "5 of 8 targets pass together: install them on live?" in " ".join(text.split())
        assert "[o]" in text and "oxzep7 2.0.0: tests: 3 newly failing" in text
        assert all(len(line) <= 80 for line in lines) and len(lines) <= 24


def test_execute_trials_80x24(snap_compare: Any, demo_template: Any) -> None:
    assert snap_compare(make_app(demo_template), terminal_size=(80, 24), run_before=_trials)


SAFE = ["delta==2.0.0", "gamma==2.0.0", "humbleconf==1.3.0", "quillpen==0.9.1", "ziprow==0.3.2"]


async def _promoted(pilot: Pilot[Any]) -> None:
    """The set that passed promoted: the flow's plan is the promoted set's (the installer's real dry
    run on the demo), it says so, and it goes on to live."""
    await _trials(pilot)
    app: Any = pilot.app
    sandbox = app.project.parent
    env = Environment.open(sandbox / "project" / ".venv")
    index = IndexOptions(find_links=[str(sandbox / "wheelhouse")], no_index=True)
    plan = compute_plan(env, parse_specs(SAFE), index, suggest=False)
    # the flow as _promote_safe_part leaves it (a flow object of the app's own making, not run)
    flow = tasks.new_flow(env, app.project, SAFE, app.sources, app.listener, 1, 0.0)
    flow.plan, flow.not_promoted = plan, list(CULPRITS)
    flow.runbook = Runbook(id="x", targets=SAFE, environment=env.facts(), tried_targets=sorted(OUTDATED))
    app.flow = flow
    await pilot.press("o")  # promote
    for msg in (
        _ev("promote-set", "passed", "promote", None, 7),
        _ev("promote-set", "passed", f"promoting 5 of 8: {plan.summary()}", None, 7),
        _ev("promote", "running", "installing " + " ".join(plan.pinned) + " in live", None, 7),
    ):  # fmt: skip
        app.post_message(msg)
    await pilot.pause()
    await pilot.pause()


async def test_after_a_partial_promotion_the_screens_show_the_promoted_set_and_the_culprits(
    demo_template: Any,
) -> None:
    app: Any = make_app(demo_template)
    async with app.run_test(size=(80, 24)) as pilot:
        await _promoted(pilot)
        lines = screen_lines(app)
        text = "\n".join(lines)
        # the title: what went on and what did not, no longer the first plan (oxzep7 1.4.2 -> 2.0.0)
        assert "5 of 8 promoted, not alpha + beta, oxzep7" in lines[0], lines[0]
        assert "oxzep7 1.4.2" not in lines[0]
        assert "Trials: 6 (3 failed) · promoted 5 of 8" in text, text
        assert "not promoted: alpha 2.0.0 + beta 2.0.0 together; oxzep7 2.0.0" in text, text
        assert all(len(line) <= 80 for line in lines) and len(lines) <= 24
        await pilot.press("3")
        await pilot.pause()
        title = screen_lines(app)[0]
        assert "[3 Monitor]" in title and "5 of 8 promoted, not alpha + beta, oxzep7" in title, title
        await pilot.press("1")
        await pilot.pause()
        text = "\n".join(screen_lines(app))
        assert "Promoted 5 of 8 targets." in text and "Not promoted:" in text, text
        assert "✘ oxzep7 2.0.0 " in text and "✘ alpha 2.0.0 + beta 2.0.0" in text, text
        assert "delta      1.0.0 → 2.0.0" in text and "1.4.2 → 2.0.0" not in text, text  # not oxzep7's


def test_execute_promoted_80x24(snap_compare: Any, demo_template: Any) -> None:
    assert snap_compare(make_app(demo_template), terminal_size=(80, 24), run_before=_promoted)
