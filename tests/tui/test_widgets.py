"""Widgets' renderers: what a user reads at 80 columns."""

from __future__ import annotations

from oxwizard.flow.upgrade import Question
from oxwizard.tui.widgets.question import DETAIL_LINES, render_question


def test_question_detail_wraps_so_lines_that_differ_at_the_end_are_both_readable() -> None:
    base = "DeprecationWarning: oxzep7.legacy_parse is deprecated and will be removed in oxzep7 2.0"
    q = Question("ack-warnings", "2 new warning(s)", ("acknowledge", "stop"), "acknowledge",
                 f"{base} (app.py)\n{base} (test_app.py)")  # fmt: skip
    text = render_question(q, width=78).plain
    assert "(app.py)" in text and "(test_app.py)" in text
    assert all(len(line) <= 78 for line in text.splitlines())
    assert "[a] acknowledge and install on live (default)" in text


def test_question_detail_is_capped_and_says_where_the_rest_is() -> None:
    detail = "\n".join(f"warning number {n}" for n in range(20))
    q = Question("ack-warnings", "20 new warning(s)", ("acknowledge", "stop"), "acknowledge", detail)
    lines = render_question(q).plain.splitlines()
    assert "warning number 0" in lines[1]
    assert sum("warning number" in line for line in lines) == DETAIL_LINES - 1
    assert any("more line(s) in the output log" in line for line in lines)


# -- sizes: wrapped or shortened at word boundaries, never cut in a word ----------------------------------
def _whole_words_only(shown: str, whole: str) -> list[str]:
    words = set(whole.split()) | {w.rstrip(",;:") for w in whole.split()} | {"…"}
    return [w for w in shown.split() if w not in words and w.rstrip("…") not in words]


def test_shorten_keeps_whole_words_and_says_so() -> None:
    from oxwizard.tui.widgets.fit import shorten

    where = "project · .venv (Python 3.11.7)"
    assert shorten(where, 40) == where
    assert shorten(where, 30) == "project · .venv …", "a parenthesised group goes whole"
    assert shorten("oxzep7 1.4.2 -> 2.0.0 (major), 2 changes", 32) == "oxzep7 1.4.2 -> 2.0.0 (major) …"
    assert shorten("averyveryverylongword", 8) == ""


def test_steps_wrap_or_shorten_at_word_boundaries_at_every_width() -> None:
    from oxwizard.flow.steps import label, on_screen
    from oxwizard.flow.upgrade import StepEvent
    from oxwizard.tui.widgets.steps import render_steps

    steps = on_screen("execute", with_rollback=True)
    failed = "tests: 3 newly failing; import-smoke: oxzep7_plugin cannot import"
    events = {
        "install-staging": StepEvent("install-staging", "passed", "installed in staging", 1.1, (6, 12)),
        "checks-staging": StepEvent("checks-staging", "failed", failed, 2.4, (7, 12)),
    }
    whole = render_steps(steps, events, 1000).plain
    for width in (22, 30, 44, 58, 78, 118):
        text = render_steps(steps, events, width).plain
        assert all(len(line) <= width for line in text.splitlines()), (width, text)
        assert not _whole_words_only(text, whole), (width, text)
        for name in steps:
            assert any(line[2:].startswith(label(name)) for line in text.splitlines()), (width, name)
    narrow = render_steps(steps, events, 30).plain
    assert "  tests: 3 newly failing;" in narrow, "a message goes under its label when the column is narrow"
    assert "✘ checks in the copy    2.4s tests: 3 newly failing" in render_steps(steps, events, 78).plain


def test_a_path_longer_than_the_line_keeps_its_end() -> None:
    from oxwizard.flow.upgrade import StepEvent
    from oxwizard.tui.widgets.steps import render_steps

    path = "/home/someone/projects/a-long-project-name/.oxwizard/stage-3f2a91c0"
    text = render_steps(("stage",), {"stage": StepEvent("stage", "passed", path, 0.4, (3, 12))}, 40).plain
    assert text.splitlines()[-1].strip().endswith("/stage-3f2a91c0") and "…" in text


def test_title_keeps_the_active_screen_and_cuts_no_word() -> None:
    from oxwizard.tui.widgets.title import TitleBar

    title = TitleBar("execute")
    title.where = "oxzep7 1.4.2 -> 2.0.0 (major), 2 changes · live"
    whole = title.render_title(1000).plain
    for width in (40, 60, 80, 100, 120):
        line = title.render_title(width).plain
        assert len(line) == width, (width, line)
        assert "[2 Execute]" in line
        assert not _whole_words_only(line, whole), line
    assert "1 Prepare" in title.render_title(80).plain, "at 80 columns the three screens are named"
    assert "(major), 2 changes · live" in title.render_title(120).plain


def test_choices_are_never_split_between_lines() -> None:
    from oxwizard.tui.widgets.question import CHOICE_KEYS

    q = Question("checks-live", "Checks failed on live: tests", ("rollback", "keep", "retry"), "rollback")
    for width in (30, 40, 50, 60, 70, 80, 120):
        lines = render_question(q, width).plain.splitlines()
        assert all(len(line) <= width for line in lines), (width, lines)
        for choice in q.choices:
            key = f"[{CHOICE_KEYS[choice]}]"
            assert sum(key in line for line in lines) == 1, (width, lines)
    assert "[k] keep new version" in render_question(q, 60).plain, (
        "keep after a failure on live keeps the NEW one"
    )


def test_a_question_without_a_width_is_laid_out_for_the_width_it_is_shown_at() -> None:
    from oxwizard.tui.widgets.fit import Fitted

    q = Question("go", "Upgrade oxzep7 1.4.2 -> 2.0.0 (major), 2 changes?", ("go", "wait"), "go")
    fitted = render_question(q)
    assert isinstance(fitted, Fitted)
    assert fitted.plain == render_question(q, 78).plain
    assert fitted.build(40).plain == render_question(q, 40).plain != fitted.plain


def test_plan_is_in_columns_when_wide_and_a_compact_list_when_narrow() -> None:
    from oxwizard.tui.widgets.plan_view import render_plan

    from .test_snapshots import PLAN, RISK

    wide = render_plan(PLAN, RISK, None, 70).plain.splitlines()
    assert wide[0].index("→") == wide[1].index("→"), "aligned"
    narrow = render_plan(PLAN, RISK, None, 30).plain.splitlines()
    assert narrow[0] == "oxzep7 1.4.2 → 2.0.0 MAJOR"
    assert narrow[1] == "oxzep7-core new → 2.0.0 NEW"
    # the decision right under the changes, its reasons after: in the Prepare screen's 30-cell plan box
    # at 80×24 the rest is below the fold
    assert narrow[2] == f"Risk: {RISK.level.upper()}" and narrow[3].startswith("Recommendation: "), narrow


def test_help_lists_every_step_with_its_explanation_and_explains_our_words() -> None:
    from oxwizard.flow.steps import TABLE
    from oxwizard.tui.screens.help import help_text

    for width in (56, 72, 94):
        text = help_text(width).plain
        assert all(len(line) <= width for line in text.splitlines()), width
        flat = " ".join(text.split())
        for s in TABLE:
            assert f"{s.label} {s.explain}" in flat, (width, s.name)
        for word in ("gate", "promote", "import-smoke", "fingerprint", "live", "staging", "runbook"):
            assert any(line.startswith(word + " ") for line in text.splitlines()), word


def test_the_plan_pane_says_what_the_plan_is_doing_while_it_runs() -> None:
    """Comparing the API of many new versions can take seconds: the pane follows the flow's plan step."""
    from oxwizard.flow.upgrade import StepEvent
    from oxwizard.tui.screens.prepare import plan_text
    from oxwizard.tui.state import WizardState, with_step

    state = WizardState(planning=True)
    assert plan_text(state).plain == "resolving the plan with the real resolver…"
    doing = StepEvent("plan", "running", "API impact: comparing numpy 1.26.4 with 2.4.6 (3 of 12)")
    state = WizardState(planning=True, steps=with_step(state.steps, doing))
    assert plan_text(state).plain == "API impact: comparing numpy 1.26.4 with 2.4.6 (3 of 12)…"


def test_the_project_files_dialog_says_a_lockfile_is_rewritten_on_w_not_that_nothing_changes() -> None:
    """A pip-compile'd requirements.txt (no line edits: its tool rewrites it) said "no changes" in
    the project files dialog, yet w committed two new pins and a new header (a tester)."""
    from oxwizard.env.project_files import Regeneration
    from oxwizard.tui.screens.pins import summary_text

    regen = Regeneration(
        path="requirements.txt",
        tool="pip-compile",
        command=["pip-compile", "requirements.in"],
        names=["a==2"],
    )
    alone = summary_text("", [regen.preview()], [regen.path]).plain
    assert alone.startswith("no line edits; requirements.txt rewritten by its tool on w"), alone
    assert "no changes" not in alone
    diff = "--- a/requirements.in\n+++ b/requirements.in\n@@ -1 +1 @@\n-a<2\n+a<3\n"
    both = summary_text(diff, [regen.preview()], [regen.path]).plain
    assert both.startswith("requirements.in: +1 -1 lines; requirements.txt rewritten by its tool on w"), both
    assert summary_text(diff).plain.startswith("requirements.in: +1 -1 lines · ")


def test_a_long_question_takes_three_lines_and_d_shows_the_rest() -> None:
    """An upgrade of eight packages names each change in its question: at 80x24 it pushed the
    Prepare screen past the terminal (a scroll bar, the Readiness box without its bottom border)."""
    from oxwizard.tui.widgets.question import TEXT_LINES, has_details

    changes = ", ".join(f"package{n} 1.0.0 -> 2.0.0 (major)" for n in range(8))
    long = Question(step="go", text=f"Upgrade {changes}, 9 changes?", choices=("go", "wait"), default="go")
    lines = render_question(long, 76).plain.splitlines()
    text = [line for line in lines if not line.lstrip().startswith("[")]
    assert len(text) == TEXT_LINES and text[-1].endswith("… d shows it all"), lines
    assert all(len(line) <= 76 for line in lines)
    assert has_details(long, 76)
    short = Question(
        step="go", text="Upgrade oxzep7 1.4.2 -> 1.5.0 (minor)?", choices=["go", "wait"], default="go"
    )
    assert "d shows" not in render_question(short, 76).plain and not has_details(short, 76)
