"""The wizard offers the targets that clear a predicted conflict (issue 11): ``a`` adds them and
plans again. liba 1.0 needs libb<2; planning libb 2.0 alone breaks it, with liba added it is clean
(the ``conflict_template`` sandbox of tests/conftest.py)."""

from __future__ import annotations

from typing import Any

from oxwizard.tui.widgets.keybar import KeyBar

from .conftest import make_app, screen_text, wait_for, wait_ready


async def test_the_offer_is_shown_and_a_adds_the_target(conflict_template: Any) -> None:
    app = make_app(conflict_template)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_ready(pilot)
        await pilot.press("slash", *"libb==2.0", "enter")
        await wait_for(pilot, lambda: app.state.plan is not None or app.state.plan_error, 120)
        await pilot.pause()
        assert app.state.plan is not None, app.state.plan_error
        assert app.state.plan.pip_check_after != []
        text = screen_text(app)
        assert "add `liba` to the targets: the resolver then moves it to 2.0" in text
        assert "Next: a — add liba, plan again" in text
        keys = app.screen.query_one(KeyBar)
        assert " a Add liba " in keys.render_keys(80).plain  # on the key bar, at 80 columns
        assert " a Add liba " in str(keys.render())

        await pilot.press("a")
        await wait_for(pilot, lambda: app.state.plan is not None and "liba" in app.state.plan.targets, 120)
        await pilot.pause()
        plan = app.state.plan
        assert plan is not None and plan.targets == ["libb==2.0", "liba"]
        assert plan.pip_check_after == [] and plan.suggested_targets == []
        assert {c.name: c.to_version for c in plan.changes} == {"liba": "2.0", "libb": "2.0"}
        assert app.state.risk is not None and app.state.risk.recommendation != "wait"
        assert "Add liba" not in str(app.screen.query_one(KeyBar).render())  # nothing more to add
        assert "Next: c" in screen_text(app)
