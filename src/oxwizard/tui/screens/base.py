"""What the three flow screens share: the title bar, and redrawing from :class:`WizardState`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

if TYPE_CHECKING:
    from oxwizard.tui.state import WizardState

# Parts of the state a redraw may be limited to.
ALL = frozenset({"env", "targets", "plan", "steps", "output", "checks", "question", "outcome"})


class FlowScreen(Screen[None]):
    """A screen of the flow. ``render_state`` redraws the named parts from the app's state."""

    # Textual sets one class of each list on the screen, from its size, at every resize: the .tcss
    # files stack panels when -narrow (under 80 columns), trim them when -short (under 24 lines)
    # and give the room to what matters when -wide / -tall.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (80, "-normal"), (120, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (24, "-normal-height"), (40, "-tall")]

    def on_screen_resume(self) -> None:
        self.render_state(self.wizard_state, ALL)

    @property
    def wizard_state(self) -> WizardState:
        return self.app.state  # type: ignore[attr-defined, no-any-return]

    def render_state(self, state: WizardState, parts: frozenset[str]) -> None:
        raise NotImplementedError
