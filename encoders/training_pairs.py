"""Pairs of texts that a shop's own logs say belong together, to fine-tune and judge an encoder.

Two kinds, both ending at an item (its text is ``Catalog.text``, what the pipeline embeds):

- query -> item: a search event that carries the item clicked or bought from its results;
- item -> item: two different items one user bought one after the other within a window.

Each distinct pair is kept once, however often it happened, so popular pairs do not
crowd out the rest.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from personagraph.encoders.text_encoder import TextEncoder
from personagraph.shop.schema import PURCHASE, shop_schema
from personagraph.shop.shop_data import ShopData

QUERY, ITEM = 0, 1
#: Two purchases at most this far apart are taken as related (3 days).
DEFAULT_WINDOW_SECONDS = 3 * 24 * 3600.0


@dataclass
class TrainingPairs:
    """Distinct (anchor, positive item) pairs of one shop.

    ``anchor_kind[i]`` is :data:`QUERY` (``anchor[i]`` indexes ``query_texts``) or
    :data:`ITEM` (``anchor[i]`` indexes the catalogue); ``positive[i]`` is an item index.
    """

    shop: ShopData
    anchor_kind: np.ndarray  # int8
    anchor: np.ndarray  # int64
    positive: np.ndarray  # int64

    @classmethod
    def mine(cls, shop: ShopData, window_seconds: float = DEFAULT_WINDOW_SECONDS) -> "TrainingPairs":
        """All distinct query -> item and item -> item pairs in ``shop``'s events."""
        events = shop.events
        schema = shop_schema()
        searched = np.isin(events.kind, schema.query_event_codes) & (events.query >= 0) & (events.item >= 0)
        bought = np.flatnonzero((events.kind == schema.event_code[PURCHASE.name]) & (events.item >= 0))
        # the log is sorted by (user, time): consecutive purchase rows of one user are in order
        first, second = bought[:-1], bought[1:]
        follows = ((events.user[first] == events.user[second])
                   & (events.item[first] != events.item[second])
                   & (events.timestamp[second] - events.timestamp[first] <= window_seconds))
        kind = np.concatenate([np.full(int(searched.sum()), QUERY), np.full(int(follows.sum()), ITEM)])
        anchor = np.concatenate([events.query[searched], events.item[first[follows]]])
        positive = np.concatenate([events.item[searched], events.item[second[follows]]])
        distinct = np.unique(np.stack([kind, anchor, positive]).astype(np.int64), axis=1)
        return cls(shop, distinct[0].astype(np.int8), distinct[1], distinct[2])

    def __len__(self) -> int:
        return int(self.positive.shape[0])

    def subset(self, rows: np.ndarray) -> "TrainingPairs":
        return TrainingPairs(self.shop, self.anchor_kind[rows], self.anchor[rows], self.positive[rows])

    def split(self, held_out: int, seed: int = 0) -> tuple["TrainingPairs", "TrainingPairs"]:
        """A random ``held_out`` pairs apart from the rest: (rest, held out)."""
        order = np.random.default_rng(seed).permutation(len(self))
        held_out = min(held_out, len(self))
        return self.subset(np.sort(order[held_out:])), self.subset(np.sort(order[:held_out]))

    def anchor_texts(self) -> list[str]:
        catalog, queries = self.shop.catalog, self.shop.events.query_texts
        return [queries[a] if k == QUERY else catalog.text(a) for k, a in zip(self.anchor_kind, self.anchor)]

    def positive_texts(self) -> list[str]:
        return [self.shop.catalog.text(i) for i in self.positive]

    def recall_at_k(self, encoder: TextEncoder, k: int = 10, batch_size: int = 64,
                    progress: bool = False) -> dict[str, float | None]:
        """How often each pair's positive is among the ``k`` items nearest its anchor, over all
        items (an item anchor itself excluded): overall and per kind of pair (``None`` where
        there is no such pair), with the counts."""
        catalog = self.shop.catalog
        item_vectors = encoder.encode([catalog.text(i) for i in range(len(catalog))], batch_size, progress)
        is_query = self.anchor_kind == QUERY
        anchor_vectors = np.empty((len(self), encoder.dim), dtype=np.float32)
        anchor_vectors[~is_query] = item_vectors[self.anchor[~is_query]]
        if is_query.any():
            queries = self.shop.events.query_texts
            anchor_vectors[is_query] = encoder.encode([queries[q] for q in self.anchor[is_query]], batch_size)
        scores = anchor_vectors @ item_vectors.T
        rows = np.flatnonzero(~is_query)
        scores[rows, self.anchor[rows]] = -np.inf
        positive_scores = scores[np.arange(len(self)), self.positive]
        hit = (scores > positive_scores[:, None]).sum(axis=1) < k
        result: dict[str, float | None] = {f"recall@{k}": float(hit.mean()) if len(self) else None,
                                            "pairs": len(self)}
        for name, mask in (("query", is_query), ("item", ~is_query)):
            result[f"{name}_recall@{k}"] = float(hit[mask].mean()) if mask.any() else None
            result[f"{name}_pairs"] = int(mask.sum())
        return result
