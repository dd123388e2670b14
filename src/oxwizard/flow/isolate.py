"""Which of many upgrades break the checks: delta debugging over the targets, pure logic.

The flow tried every target together in staging and the checks failed. :func:`isolate` finds the
culprits with as few trials as it can, each trial being "apply this set of units, run the checks":

- a binary search over prefixes of the units (the empty set passes: it is the baseline; the whole
  set fails) finds the unit ``x`` whose addition makes a prefix fail: ``ceil(log2 n)`` trials;
- ``x`` alone is then tried: when it fails, ``x`` is a culprit by itself; when it passes, ``x``
  breaks only together with something before it in the prefix, and the same search runs over that
  prefix with ``x`` kept applied (ddmin's "the culprits are across the halves"), naming the pair
  (or the larger set) that only breaks together;
- the culprit is set aside and everything else is tried again; when it passes it is the largest set
  found passing, else the search goes on among the rest.

One culprit among 16 units takes at most 4 + 1 + 1 trials, plus the first run that failed. A
``trial`` receives a batch of sets and returns one verdict per set, so the caller may run a batch in
parallel; the search asks for two at once where both are needed in the common case (the suspect
alone and everything but the suspect). A unit is a group of targets that must move together (one
requires the other's new version): :func:`units` forms them; the search never splits one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item", bound=Hashable)
Trial = Callable[[list[frozenset[Item]]], list[bool]]


@dataclass(frozen=True)
class Tried(Generic[Item]):
    """One trial the search ran: the set applied and whether the checks passed."""

    number: int
    applied: frozenset[Item]
    ok: bool


@dataclass
class Isolation(Generic[Item]):
    """What the search found: the culprits (each a set that fails: one unit alone, or units that only
    fail together), the largest set found passing (empty when none did) and every trial it ran."""

    culprits: list[frozenset[Item]] = field(default_factory=list)
    passing: frozenset[Item] = frozenset()
    trials: list[Tried[Item]] = field(default_factory=list)


def estimate(n: int) -> int:
    """The most trials one culprit among ``n`` units needs (after the first run that failed):
    the binary search, the suspect alone, everything but the suspect."""
    return math.ceil(math.log2(n)) + 2 if n > 1 else 0


def isolate(
    items: Sequence[Item],
    trial: Trial[Item],
    *,
    parallel: int = 1,
    on_trial: Callable[[Tried[Item]], None] | None = None,
) -> Isolation[Item]:
    """The culprits among ``items``, whose whole set is known to fail and whose empty set passes."""
    search = _Search(trial, parallel, on_trial)
    rest = list(items)
    search.known[frozenset(rest)] = False
    search.known[frozenset()] = True
    found = Isolation[Item](trials=search.tried)
    while rest:
        culprit = search.minimal(rest, frozenset(), whole=rest)
        found.culprits.append(culprit)
        rest = [i for i in rest if i not in culprit]
        if rest and search.test([frozenset(rest)])[0]:
            found.passing = frozenset(rest)
            break
    return found


class _Search(Generic[Item]):
    def __init__(self, trial: Trial[Item], parallel: int, on_trial: Callable[[Tried[Item]], None] | None):
        self.trial = trial
        self.parallel = max(1, parallel)
        self.on_trial = on_trial
        self.known: dict[frozenset[Item], bool] = {}
        self.tried: list[Tried[Item]] = []

    def test(self, sets: list[frozenset[Item]]) -> list[bool]:
        """The verdict of each set: known ones from memory, the others tried (in one batch)."""
        wanted = [s for s in dict.fromkeys(sets) if s not in self.known]
        for start in range(0, len(wanted), self.parallel):
            batch = wanted[start : start + self.parallel]
            for applied, ok in zip(batch, self.trial(batch), strict=True):
                self.known[applied] = ok
                tried = Tried(len(self.tried) + 1, applied, ok)
                self.tried.append(tried)
                if self.on_trial is not None:
                    self.on_trial(tried)
        return [self.known[s] for s in sets]

    def minimal(self, units: list[Item], base: frozenset[Item], *, whole: list[Item]) -> frozenset[Item]:
        """A smallest set of ``units`` that fails with ``base`` applied; ``base`` alone passes and
        ``base`` with all of ``units`` fails."""
        lo, hi = 0, len(units)  # base + units[:lo] passes, base + units[:hi] fails
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.test([base | frozenset(units[:mid])])[0]:
                lo = mid
            else:
                hi = mid
        suspect, before = units[hi - 1], units[: hi - 1]
        if not before:
            return frozenset([suspect])
        alone = base | {suspect}
        batch = [alone]
        if not base and self.parallel > 1:  # needed next when the suspect is a culprit by itself
            batch.append(frozenset(whole) - {suspect})
        if not self.test(batch)[0]:
            return frozenset([suspect])
        # it passes alone: what it breaks with is in ``before`` (which passed without it)
        return self.minimal(before, alone, whole=whole) | {suspect}


def units(targets: Iterable[str], needs: Mapping[str, Iterable[str]]) -> list[frozenset[str]]:
    """Group ``targets`` that must move together: ``needs[a]`` names the targets whose new version
    ``a``'s new version requires (so neither can be tried without the other). In target order."""
    order = list(dict.fromkeys(targets))
    parent = {t: t for t in order}

    def root(t: str) -> str:
        while parent[t] != t:
            parent[t] = parent[parent[t]]
            t = parent[t]
        return t

    for a in order:
        for b in needs.get(a, ()):
            if b in parent:
                parent[root(a)] = root(b)
    groups: dict[str, list[str]] = {}
    for t in order:
        groups.setdefault(root(t), []).append(t)
    return [frozenset(g) for g in sorted(groups.values(), key=lambda g: order.index(g[0]))]


__all__ = ["Isolation", "Tried", "estimate", "isolate", "units"]
