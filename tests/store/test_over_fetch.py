"""The one over-fetch policy of every vector search: how many candidates, and how it widens."""
from __future__ import annotations

import pytest

from personagraph.store.over_fetch import GROWTH, MIN_CANDIDATES, OVERSAMPLE, candidate_counts


def _never() -> int:
    raise AssertionError("the node count is needed only when a first search comes up short")


def test_a_first_search_asks_well_above_k():
    assert next(candidate_counts(1, _never)) == MIN_CANDIDATES
    assert next(candidate_counts(100, _never)) == OVERSAMPLE * 101


def test_it_widens_by_the_growth_factor_up_to_every_node():
    first = MIN_CANDIDATES
    assert list(candidate_counts(10, lambda: 1000)) == [first, first * GROWTH, 1000]


def test_it_stops_at_once_when_the_first_search_saw_every_node():
    assert list(candidate_counts(10, lambda: 40)) == [MIN_CANDIDATES]


def test_the_node_count_is_asked_for_once_and_only_when_needed():
    calls = []

    def total() -> int:
        calls.append(1)
        return 10_000

    counts = candidate_counts(5, total)
    next(counts)
    assert calls == []
    assert list(counts)[-1] == 10_000 and calls == [1]


@pytest.mark.parametrize("k", [1, 10, 50])
def test_counts_grow_strictly(k):
    counts = list(candidate_counts(k, lambda: 100_000))
    assert counts == sorted(set(counts)) and counts[-1] == 100_000
