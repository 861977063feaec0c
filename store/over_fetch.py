"""How many candidates a filtered vector search asks its index for: one policy for every search.

An approximate (HNSW) index finds the true neighbours more reliably when asked for more than
it must return, and filters applied after the index (attributes, items a user already saw)
drop some of what it returns. So a search starts well above ``k`` and, while the filtered hits
stay short of ``k``, widens until it has looked at every node.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator

#: Candidates per wanted hit at first (recall@10 of a 64-d HNSW index rises with the candidates asked for).
OVERSAMPLE = 10
#: Fewest candidates of a first search, so small ``k`` still gets a reliable neighbourhood.
MIN_CANDIDATES = 150
#: How much each widening multiplies the candidates by.
GROWTH = 4
#: How many times wider an index over narrow search vectors searches: it has to bring the true
#: neighbours (by the full profiles) among its candidates. Of what it returns, only the best
#: candidate count by search vector is re-ranked by the full profiles: the search breadth
#: (HNSW's beam) buys recall cheaply, reading full profiles does not.
PROJECTED_FACTOR = 8


def candidate_counts(k: int, total: Callable[[], int]) -> Iterator[int]:
    """The candidate counts to try in turn for ``k`` hits; stop iterating once a search has ``k``.

    ``total`` counts the indexed nodes; it is called only when a first search came up short,
    and the widening stops at it (asking for every node finds every match). An index over search
    vectors is asked for ``PROJECTED_FACTOR`` times each count, of which each count is re-ranked.
    """
    candidates = max(OVERSAMPLE * (k + 1), MIN_CANDIDATES)
    yield candidates
    size = total()
    while candidates < size:
        candidates = min(candidates * GROWTH, size)
        yield candidates
