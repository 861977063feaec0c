"""One input history as every ranker reads it: the shop, its graph, and the user-item matrix.

Evaluation hands the same object to all models, so the profile model sees the graph
(with the text features the evaluation attached), the ID baselines see the interaction
matrix, and all of them exclude exactly the same items (those already bought) from
their rankings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from personagraph.evaluation.ranking_metrics import as_csr
from personagraph.graph.hetero_graph_builder import build_hetero_graph
from personagraph.shop.schema import PURCHASE, shop_schema
from personagraph.shop.shop_data import ShopData


@dataclass
class RankingData:
    """A shop as model input; ``graph`` is built from ``shop`` unless given."""

    shop: ShopData
    graph: HeteroData = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.graph is None:
            self.graph = build_hetero_graph(self.shop)

    @property
    def num_users(self) -> int:
        return self.shop.events.num_users

    @property
    def num_items(self) -> int:
        return len(self.shop.catalog)

    @cached_property
    def _pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distinct (user, item) pairs of item events with their latest timestamp, sorted by user
        then newest first (ties: later in the log first)."""
        events = self.shop.events
        rows = np.flatnonzero(np.isin(events.kind, shop_schema().item_event_codes) & (events.item >= 0))
        user, item, ts = events.user[rows], events.item[rows], events.timestamp[rows]
        # The log is sorted by (user, timestamp): the last row of a pair is its latest event.
        order = np.lexsort((-np.arange(rows.size), -ts, user))
        user, item, ts = user[order], item[order], ts[order]
        key = user * max(self.num_items, 1) + item
        _, first = np.unique(key, return_index=True)
        first = np.sort(first)
        return user[first], item[first], ts[first]

    @cached_property
    def excluded(self) -> tuple[Tensor, Tensor]:
        """CSR ``(indptr, items)`` of the items a ranking must not list for a user: those they bought.

        Viewed, clicked or carted items stay rankable: on a shop, most purchases follow
        views and clicks of the same item, so excluding those would rule out the very items
        users go on to buy. On purchase-only data (Amazon, Gowalla) this is the whole history.
        """
        events = self.shop.events
        bought = (events.kind == shop_schema().event_code[PURCHASE.name]) & (events.item >= 0)
        return as_csr(torch.from_numpy(np.stack([events.user[bought], events.item[bought]])), self.num_users)

    def recency_rank(self) -> np.ndarray:
        """Per pair of :meth:`interaction_matrix`'s order: 0 for the user's newest item, 1 for the next, ..."""
        user, _, _ = self._pairs
        starts = np.r_[0, np.flatnonzero(user[1:] != user[:-1]) + 1]
        lengths = np.diff(np.r_[starts, user.size])
        return np.arange(user.size) - np.repeat(starts, lengths)

    def interaction_matrix(self, recency_decay: float = 1.0) -> sp.csr_matrix:
        """Users x items; a user's k-th newest item weighs ``recency_decay ** k`` (1.0: binary)."""
        user, item, _ = self._pairs
        weight = np.power(recency_decay, self.recency_rank(), dtype=np.float64).astype(np.float32)
        return sp.csr_matrix((weight, (user, item)), shape=(self.num_users, self.num_items))

    def item_text(self) -> Tensor | None:
        """The items' text embeddings (``graph['item'].x``), or ``None`` when the shop has none."""
        return getattr(self.graph["item"], "x", None)
