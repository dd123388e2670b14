"""What the three flow screens share: the app's state, watched slice by slice."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from textual.binding import Binding
from textual.screen import Screen

from oxwizard.tui.widgets.question import CHOICE_KEYS

if TYPE_CHECKING:
    from oxwizard.tui.app import WizardApp
    from oxwizard.tui.state import WizardState


def answer_keys(namespace: str = "", dialog: str = "") -> list[Binding]:
    """One key per answer (:data:`CHOICE_KEYS`, ``R`` aside: it is the rollback key), each shown
    only while the question on screen offers it. ``namespace`` "app." binds them on a dialog over
    the question (``dialog`` names their ids there)."""
    return [
        Binding(key, f"{namespace}answer('{choice}')", choice.capitalize(), id=f"{dialog}answer-{choice}")
        for choice, key in CHOICE_KEYS.items()
        if choice != "rollback"
    ]


def app_keys(dialog: str, *, rollback: bool = True) -> list[Binding]:
    """The app's keys that work on every screen, bound again on the modal ``dialog`` (Textual does
    not look at the app's bindings below a modal screen): ``R`` rolls back (not with ``rollback``
    False: the dialog's own ``R``), ``l`` and ``?`` open the runbook and the help over it. Shown
    when the app allows them."""
    keys = [
        Binding("l", "app.runbook", "Log", id=f"{dialog}-runbook"),
        Binding("question_mark", "app.help", "Help", id=f"{dialog}-help", key_display="?"),
    ]
    if rollback:
        tip = "Roll back to the checkpoint"
        keys.insert(0, Binding("R", "app.rollback", "Roll back", id=f"{dialog}-rollback", tooltip=tip))
    return keys


class FlowScreen(Screen[None]):
    """A screen of the flow: widgets are bound to slices of ``WizardApp.state`` with :meth:`bind`."""

    # Textual sets one class of each list on the screen, from its size, at every resize: the .tcss
    # files stack panels when -narrow (under 80 columns), trim them when -short (under 24 lines)
    # and give the room to what matters when -wide / -tall.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (80, "-normal"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (24, "-normal-height"), (40, "-tall")]

    @property
    def wizard(self) -> WizardApp:
        return cast("WizardApp", self.app)

    @property
    def wizard_state(self) -> WizardState:
        return self.wizard.state

    def bind(self, select: Callable[[WizardState], object], show: Callable[[WizardState], None]) -> None:
        """Call ``show(state)`` now, then whenever ``select(state)`` changes (Textual's ``watch`` on
        the app's reactive state): a widget is redrawn when, and only when, what it shows changed."""
        last: list[object] = []

        def changed(state: WizardState) -> None:
            value = select(state)
            if last and last[0] == value:
                return
            last[:] = [value]
            show(state)

        self.watch(self.app, "state", changed)

    def bind_output(self, show: Callable[[list[str]], object], clear: Callable[[], object]) -> None:
        """Call ``show(lines)`` with the output lines not shown yet, now and whenever more come;
        ``clear()`` when the output starts again (a new plan: :meth:`WizardApp.clear_output`)."""
        written = [0]

        def changed(total: int) -> None:
            if total < written[0]:
                written[0] = 0
                clear()
            lines = self.wizard.lines_since(written[0])
            written[0] = total
            if lines:
                show(lines)

        self.watch(self.app, "output_total", changed)
