"""Whole-run :class:`ProfileChanges` made up in microseconds, for tests of the sync on the real Neo4j.

Importable from tests/store modules (pytest puts a test file's folder on ``sys.path``).
"""
from __future__ import annotations

import numpy as np

from personagraph.store.profile_changes import ProfileChanges

VIEW, SEARCH = ("user", "view", "item"), ("user", "search", "query")
LEADS_TO, IN_CATEGORY = ("query", "leads_to", "item"), ("item", "in_category", "category")


def synthetic_run(users: list[str], items: int, dim: int, seed: int = 0, tag_prefix: str = "t",
                  segments: int = 2) -> ProfileChanges:
    """A shop where user ``k`` viewed items ``k`` and ``k+1`` and searched query ``q<k % 3>``;
    every user has two tags and a segment."""
    rng = np.random.default_rng(seed)
    user_rows = [{"id": user, "embedding": rng.standard_normal(dim), "segment": k % segments, "top_tags": ["x"]}
                 for k, user in enumerate(users)]
    item_ids = [f"i{j}" for j in range(items)]
    tags = [f"{tag_prefix}{j}" for j in range(3)]
    queries = ["q0", "q1", "q2"]
    return ProfileChanges(
        embedding_dim=dim,
        users=user_rows,
        interests=[{"start": user, "end": tags[(k + n) % 3], "weight": 1.0 - n / 2}
                   for k, user in enumerate(users) for n in range(2)],
        segments=[{"id": s, "name": f"segment {s}", "size": sum(k % segments == s for k in range(len(users)))}
                  for s in range(segments)],
        segment_links=[{"start": user, "end": k % segments} for k, user in enumerate(users)],
        # No neighbour lists, as `item_rows` writes a run that ranks by the profile vectors alone.
        items=[{"id": item, "title": f"Item {item}", "embedding": rng.standard_normal(dim), "neighbours": None,
                "neighbour_similarity": None} for item in item_ids],
        categories=[{"id": "c0", "name": "c0"}],
        queries=[{"id": query, "derived": False} for query in queries],
        tags=[{"name": tag, "kind": "category"} for tag in tags],
        edges={
            VIEW: [{"start": user, "end": item_ids[(k + d) % items], "count": 1}
                   for k, user in enumerate(users) for d in range(2)],
            SEARCH: [{"start": user, "end": queries[k % 3], "count": 1} for k, user in enumerate(users)],
            LEADS_TO: [{"start": query, "end": item_ids[n % items], "count": 1} for n, query in enumerate(queries)],
            IN_CATEGORY: [{"start": item, "end": "c0"} for item in item_ids],
        },
    )


def expected_counts(changes: ProfileChanges) -> dict[str, int]:
    """Nodes per label and relationships per type a store mirroring ``changes`` (a whole run) holds."""
    relationship = {VIEW: "VIEWED", SEARCH: "SEARCHED", LEADS_TO: "LEADS_TO", IN_CATEGORY: "IN_CATEGORY"}
    counts = {"User": len(list(changes.users)), "Item": len(list(changes.items)),
              "Query": len(list(changes.queries)), "Category": len(list(changes.categories)),
              "Tag": len(list(changes.tags)), "Segment": len(list(changes.segments)),
              "INTERESTED_IN": len(list(changes.interests)), "IN_SEGMENT": len(list(changes.segment_links))}
    for edge_type, rows in changes.edges.items():
        counts[relationship[edge_type]] = len(list(rows))
    return counts
