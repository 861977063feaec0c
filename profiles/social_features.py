"""Readable social facts about each user: their links, their influence, their circle, and how
much they share their friends' interests.

* **links by relation**: how many distinct users each relation ties the user to (either direction).
* **influence**: PageRank over the directed links (a link ``u -> v`` passes standing to ``v``:
  being followed, invited or befriended by influential users counts most), scaled so that 1 is
  the average user; users without links get the teleport share only.
* **social community**: the user's circle, from Louvain modularity communities of the undirected
  link graph (seeded, so a run gives the same circles each time); numbered by size, largest 0;
  none for users without links.
* **friend tag agreement**: the mean, over the user's friends, of the share of the user's top tags
  the friend also has among theirs; none without friends or tags. It tells whether a circle is
  one of shared taste, which the social mix of the profile vectors relies on.

Influence and communities look at the whole link graph; agreement only at the user and their
friends, so recomputing it for the users whose tags or friends changed is enough.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from personagraph.shop.social_links import SocialLinks

PAGERANK_DAMPING = 0.85
#: Louvain's seed: fixed, so `train` and every later `update` find the same circles.
COMMUNITY_SEED = 0


@dataclass
class SocialFeatures:
    """Per-user social facts, row ``r`` for ``users[r]`` (indices into the shop's users)."""

    users: np.ndarray  # int64 [n]
    relation_names: list[str]
    relation_counts: np.ndarray  # int64 [n, num_relations]: distinct users linked by each relation
    linked_users: np.ndarray  # int64 [n]: distinct users linked by any relation
    influence: np.ndarray  # float64 [n]: PageRank x number of users (1 = average)
    community: np.ndarray  # int64 [n], -1 = no links
    agreement: np.ndarray  # float64 [n], NaN = no friends or no tags

    @classmethod
    def compute(cls, links: SocialLinks, num_users: int, top_tags: Sequence[Sequence[str]] | dict[int, Sequence[str]],
                users: np.ndarray | None = None, seed: int = COMMUNITY_SEED) -> "SocialFeatures":
        """Features of ``users`` (all when None); ``top_tags[u]`` are user ``u``'s top tags, needed
        for the users and their friends."""
        users = np.arange(num_users) if users is None else np.asarray(users, dtype=np.int64)
        adjacency = links.adjacency(num_users)
        per_relation = _distinct_per_relation(links, num_users)
        influence = pagerank(links, num_users)
        community = communities(links, num_users, seed)
        agreement = np.full(users.size, np.nan)
        for row, u in enumerate(users.tolist()):
            friends = adjacency.indices[adjacency.indptr[u]:adjacency.indptr[u + 1]]
            agreement[row] = tag_agreement(top_tags[u], [top_tags[f] for f in friends.tolist()])
        return cls(users=users, relation_names=list(links.relation_names), relation_counts=per_relation[users],
                   linked_users=np.diff(adjacency.indptr)[users].astype(np.int64), influence=influence[users],
                   community=community[users], agreement=agreement)

    def columns(self) -> dict[str, list[Any]]:
        """Plain columns for ``profiles.parquet`` and the ``User`` node (lists hold no None)."""
        names = self.relation_names
        return {
            "social_links": self.linked_users.tolist(),
            "social_relations": [[names[r] for r in np.flatnonzero(row).tolist()] for row in self.relation_counts],
            "social_relation_counts": [row[row > 0].tolist() for row in self.relation_counts],
            "influence": [round(float(v), 4) for v in self.influence],
            "social_community": [None if c < 0 else int(c) for c in self.community.tolist()],
            "friend_tag_agreement": [None if np.isnan(a) else round(float(a), 4) for a in self.agreement],
        }


def tag_agreement(own: Sequence[str], friends: Sequence[Sequence[str]]) -> float:
    """Mean over ``friends`` of the share of ``own`` tags a friend also has; NaN without either."""
    mine = set(own)
    if not mine or not friends:
        return float("nan")
    return float(np.mean([len(mine & set(theirs)) / len(mine) for theirs in friends]))


def pagerank(links: SocialLinks, num_users: int, damping: float = PAGERANK_DAMPING) -> np.ndarray:
    """``[num_users]`` PageRank of the directed link graph times ``num_users`` (mean 1)."""
    if not num_users:
        return np.zeros(0)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(num_users))
    graph.add_edges_from(zip(links.user.tolist(), links.other.tolist()))
    ranks = nx.pagerank(graph, alpha=damping)  # scipy backend
    return np.fromiter((ranks[u] for u in range(num_users)), dtype=np.float64, count=num_users) * num_users


def communities(links: SocialLinks, num_users: int, seed: int = COMMUNITY_SEED) -> np.ndarray:
    """``[num_users]`` Louvain community of each linked user (largest first, ties by lowest member), -1 unlinked."""
    labels = np.full(num_users, -1, dtype=np.int64)
    if not len(links):
        return labels
    graph = nx.Graph()
    graph.add_edges_from(zip(links.user.tolist(), links.other.tolist()))
    found = nx.community.louvain_communities(graph, seed=seed)
    for label, members in enumerate(sorted(found, key=lambda c: (-len(c), min(c)))):
        labels[list(members)] = label
    return labels


def _distinct_per_relation(links: SocialLinks, num_users: int) -> np.ndarray:
    """``[num_users, num_relations]``: distinct users each relation links to each user, either direction."""
    relations = len(links.relation_names)
    counts = np.zeros((num_users, relations), dtype=np.int64)
    if not len(links):
        return counts
    code = links.relation.astype(np.int64)
    triples = np.unique(np.stack([np.concatenate([links.user, links.other]),
                                  np.concatenate([links.other, links.user]),
                                  np.concatenate([code, code])], axis=1), axis=0)
    np.add.at(counts, (triples[:, 0], triples[:, 2]), 1)
    return counts
