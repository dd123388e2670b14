"""The culprit search (flow/isolate.py) over a fake predicate: pure logic, counted trials."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from oxwizard.flow.isolate import estimate, isolate, units

Names = frozenset[str]


def checks(*breaking: Names) -> tuple[Callable[[list[Names]], list[bool]], list[Names]]:
    """A trial that fails when a set holds every member of any of ``breaking``; and its call log."""
    log: list[Names] = []

    def trial(batch: list[Names]) -> list[bool]:
        log.extend(batch)
        return [not any(b <= applied for b in breaking) for applied in batch]

    return trial, log


TARGETS = [f"p{i:02}" for i in range(16)]


@pytest.mark.parametrize("culprit", TARGETS)
def test_one_culprit_among_16_in_at_most_8_more_trials(culprit: str) -> None:
    trial, log = checks(frozenset([culprit]))
    found = isolate(TARGETS, trial)
    assert found.culprits == [frozenset([culprit])]
    assert found.passing == frozenset(TARGETS) - {culprit}
    # the first run (all 16 together) failed already: with it, at most 9 test runs (ncu's doctor: 17)
    assert len(log) + 1 <= 9 and len(log) <= estimate(16) == 6
    assert len(set(log)) == len(log), "no set is tried twice"
    assert [t.applied for t in found.trials] == log


def test_a_pair_that_only_breaks_together_is_named_as_a_pair() -> None:
    trial, log = checks(frozenset(["p03", "p11"]))
    found = isolate(TARGETS, trial)
    assert found.culprits == [frozenset(["p03", "p11"])]
    assert found.passing == frozenset(TARGETS) - {"p03", "p11"}
    assert len(log) <= 2 * estimate(16)


def test_a_culprit_and_a_pair_are_both_found() -> None:
    trial, _ = checks(frozenset(["p05"]), frozenset(["p01", "p09"]))
    found = isolate(TARGETS, trial)
    assert sorted(map(sorted, found.culprits)) == [["p01", "p09"], ["p05"]]
    assert found.passing == frozenset(TARGETS) - {"p01", "p05", "p09"}


def test_parallel_batches_ask_for_the_suspect_alone_and_the_rest_at_once() -> None:
    batches: list[int] = []
    trial, log = checks(frozenset(["p13"]))

    def batched(batch: list[Names]) -> list[bool]:
        batches.append(len(batch))
        return trial(batch)

    found = isolate(TARGETS, batched, parallel=2)
    assert found.culprits == [frozenset(["p13"])]
    assert 2 in batches and len(batches) < len(log)  # one round fewer than trials
    assert len(log) + 1 <= 9


def test_when_nothing_passes_the_passing_set_is_empty() -> None:
    trial, _ = checks(frozenset(["a"]), frozenset(["b"]))
    found = isolate(["a", "b"], trial)
    assert found.culprits == [frozenset(["a"]), frozenset(["b"])]
    assert found.passing == frozenset()


def test_units_keep_together_what_must_move_together() -> None:
    # gamma's new version requires delta's new version: one unit; the others alone, in order
    grouped = units(["alpha", "gamma", "beta", "delta"], {"gamma": ["delta"], "beta": ["not-a-target"]})
    assert grouped == [frozenset(["alpha"]), frozenset(["gamma", "delta"]), frozenset(["beta"])]
    # the search over units never tries gamma without delta
    tried: list[frozenset[frozenset[str]]] = []

    def trial(batch: list[frozenset[frozenset[str]]]) -> list[bool]:
        tried.extend(batch)
        return [grouped[1] not in applied for applied in batch]

    found = isolate(grouped, trial)
    assert found.culprits == [frozenset([grouped[1]])]
    assert found.passing == frozenset([grouped[0], grouped[2]])
    assert all(grouped[1] in s or not ({"gamma", "delta"} & set().union(*s)) for s in tried)


def test_a_culprit_is_named_as_a_pair_or_as_one_unit_that_cannot_be_split() -> None:
    from oxwizard.flow.trials import Culprits, TrialResult

    proof = TrialResult(
        3, ("alpha==2.0.0", "beta==2.0.0"), False, "FAILED tests", ("tests: newly failing: x",)
    )
    found = Culprits(units=[], culprits=[(("alpha==2.0.0", "beta==2.0.0"), proof, 2),
                                         (("delta==2.0.0", "gamma==2.0.0"), None, 1)])  # fmt: skip
    assert found.lines() == [
        "alpha 2.0.0 + beta 2.0.0 together: tests: newly failing: x",
        "delta 2.0.0 + gamma 2.0.0 (they must move together): checks failed",
    ]
