"""Text laid out for the width it is shown at, and shortening that never cuts a word.

A screen puts a :class:`Fitted` into a ``Static`` like any ``Text``; Textual then asks it for a
rendering at the widget's real width (on every resize too), so the renderers in this package can
choose a layout per width — choices on one line or one per line, a plan as columns or a compact
list — without each widget having to track its size. As a ``Text`` it reads as its rendering at
``default`` columns (``.plain``, ``str()``), which is what tests and ``Text.assemble`` see.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text
from textual.content import Content  # both already imported by Textual's Static
from textual.visual import Visual

if TYPE_CHECKING:
    from textual.css.styles import RulesMap
    from textual.strip import Strip
    from textual.style import Style
    from textual.visual import RenderOptions

ELLIPSIS = "…"
# a word, or a parenthesised group kept whole ("(Python 3.11.7)")
_WORD = re.compile(r"\([^)]*\)|\S+")


def shorten(text: str, width: int) -> str:
    """``text`` if it fits in ``width`` cells, else its longest run of whole words that fits,
    followed by "…" (a lone separator such as "·" or "-" before the cut is dropped too).
    Returns "" when not even the first word fits."""
    if len(text) <= width:
        return text
    kept = ""
    for match in _WORD.finditer(text):
        candidate = text[: match.end()]
        if len(candidate.rstrip()) + 2 > width:
            break
        kept = candidate
    kept = kept.rstrip().rstrip("·,;:-–—→").rstrip()
    return f"{kept} {ELLIPSIS}" if kept else ""


def shorten_text(text: Text, width: int) -> Text:
    """:func:`shorten` for a styled ``Text`` (styles kept on the part that stays)."""
    short = shorten(text.plain, width)
    if short == text.plain:
        return text
    kept = short[: -len(ELLIPSIS)]
    out = text[: len(kept)] if kept else Text()
    out.append(ELLIPSIS, style="dim")
    return out


class Fitted(Text):
    """A ``Text`` rebuilt by ``build(width)`` for the width it is shown at."""

    def __init__(self, build: Callable[[int], Text], default: int = 78) -> None:
        first = build(default)
        super().__init__(
            first.plain,
            style=first.style,
            justify=first.justify,
            overflow=first.overflow,
            no_wrap=first.no_wrap,
        )
        self._spans = list(first.spans)
        self.build = build
        self.default_width = default

    def visualize(self) -> Visual:
        """Textual's visual protocol: called by ``Static.update`` instead of converting the text."""
        return _FittedVisual(self)


class _FittedVisual(Visual):
    """The visual of a :class:`Fitted`: one ``Content`` per width asked for."""

    def __init__(self, fitted: Fitted) -> None:
        self.fitted = fitted
        self._cache: dict[int, Content] = {}

    def at(self, width: int) -> Content:
        width = max(1, width)
        content = self._cache.get(width)
        if content is None:
            content = self._cache[width] = Content.from_rich_text(self.fitted.build(width))
        return content

    def __str__(self) -> str:
        return self.fitted.plain

    def render_strips(
        self, width: int, height: int | None, style: Style, options: RenderOptions
    ) -> list[Strip]:
        return self.at(width).render_strips(width, height, style, options)

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return self.at(container_width).get_optimal_width(rules, container_width)

    def get_minimal_width(self, rules: RulesMap) -> int:
        return self.at(self.fitted.default_width).get_minimal_width(rules)

    def get_height(self, rules: RulesMap, width: int) -> int:
        return self.at(width).get_height(rules, width)
