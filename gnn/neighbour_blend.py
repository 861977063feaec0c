"""Ranking by the profile vectors with item-kNN's neighbour score beside them, where it helps.

A profile is a few hundred numbers; the pairwise long tail of which items go together (the
signal item-kNN ranks by) does not fit in it. So an item's ranking score for a user may add
its summed similarity to the user's (recency-weighted) items, from the
:class:`~personagraph.graph.item_neighbours.ItemNeighbours` table. Each part is scaled by its
row's largest magnitude, so one weight means the same on any shop. The table's size, the
recency decay and the weight are chosen on validation, and the weight stays 0 unless the blend
beats the profile vectors alone by more than one standard error of the per-user difference.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from personagraph.evaluation.ranking_metrics import gain_and_standard_error, recall_at_k, top_k_scored
from personagraph.graph.item_neighbours import ItemNeighbours

#: Neighbours per item and history recency decays tried for the neighbour score (item-kNN's grid).
NEIGHBOUR_COUNTS: tuple[int, ...] = (50, 200, 800)
RECENCY_DECAYS: tuple[float, ...] = (1.0, 0.8, 0.6, 0.4)
#: Weights of the neighbour score tried beside the profile score (0: the profile vectors alone).
NEIGHBOUR_WEIGHTS: tuple[float, ...] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5)
SELECTION_K = 20


@dataclass(frozen=True)
class NeighbourBlend:
    """How an item's score mixes in the neighbour score: ``weight`` 0 means profile vectors alone."""

    weight: float = 0.0
    neighbours: int = 0
    recency_decay: float = 1.0

    @property
    def active(self) -> bool:
        return self.weight > 0 and self.neighbours > 0

    def combine(self, profile_scores: Tensor, neighbour_scores: Tensor | None,
                neighbour_top: float | None = None) -> Tensor:
        """``[users, items]`` ranking scores: the profile score (a cosine) plus ``weight`` times the
        neighbour score over its row's largest (``neighbour_top`` when the caller holds only part of
        the row); the profile scores as they are when inactive."""
        if not self.active or neighbour_scores is None:
            return profile_scores
        top = (neighbour_scores.amax(dim=1, keepdim=True) if neighbour_top is None
               else torch.tensor(float(neighbour_top)))
        return profile_scores + self.weight * neighbour_scores / top.clamp_min(1e-12)

    def scorer(self, profile_scorer: Callable[[Tensor], Tensor], table: ItemNeighbours | None,
               history: sp.csr_matrix | None) -> Callable[[Tensor], Tensor]:
        """A batch scorer ranking by :meth:`combine`; ``history`` is users x items weighted by
        :attr:`recency_decay` (rows indexed as ``profile_scorer``'s users)."""
        if not self.active or table is None or history is None:
            return profile_scorer
        neighbour_scorer = neighbour_scores(table.cut(self.neighbours), history)
        return lambda users: self.combine(profile_scorer(users).float(), neighbour_scorer(users))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> "NeighbourBlend":
        values = values or {}
        return cls(float(values.get("weight", 0.0)), int(values.get("neighbours", 0)),
                   float(values.get("recency_decay", 1.0)))


def neighbour_scores(table: ItemNeighbours, history: sp.csr_matrix) -> Callable[[Tensor], Tensor]:
    """A batch scorer: each item's summed similarity to the rows of ``history`` (users x items)."""
    item_item = table.matrix()
    return lambda users: torch.from_numpy(table.scores(history[users.numpy()], item_item))


def choose_neighbour_blend(profile_scorer: Callable[[Tensor], Tensor], history_matrix: Callable[[float], sp.csr_matrix],
                           excluded: tuple[Tensor, Tensor], targets: tuple[Tensor, Tensor], table: ItemNeighbours,
                           counts: tuple[int, ...] = NEIGHBOUR_COUNTS, decays: tuple[float, ...] = RECENCY_DECAYS,
                           weights: tuple[float, ...] = NEIGHBOUR_WEIGHTS, fixed_weight: float | None = None,
                           batch_size: int = 1024) -> tuple[NeighbourBlend, list[dict[str, float]]]:
    """The blend that ranks ``targets`` best by Recall@20, and one row per setting tried.

    All arguments are over the same selected users (row ``i`` is user ``i``): ``profile_scorer``
    their profile scores, ``history_matrix(decay)`` their items weighted by recency, ``excluded``
    and ``targets`` CSR item lists. The table's size and the decay are chosen for the neighbour
    score alone (as item-kNN chooses them), then the weight beside the profile score; a weight
    above 0 is kept only when it beats 0 by more than one standard error. ``fixed_weight`` (a
    user's setting) is taken as given, 0 meaning none.
    """
    if fixed_weight is not None:
        weights = (0.0, fixed_weight) if fixed_weight > 0 else (0.0,)
    if weights[:1] != (0.0,):
        raise ValueError(f"neighbour weights must start with 0, got {weights}")
    num_users = excluded[0].numel() - 1
    users = torch.arange(num_users)
    tried: list[dict[str, float]] = []

    def recall(scorer: Callable[[Tensor], Tensor]) -> Tensor:
        return recall_at_k(top_k_scored(scorer, excluded, users, SELECTION_K, batch_size), targets, SELECTION_K)

    if num_users == 0:
        return NeighbourBlend(), tried
    best_alone, neighbours, decay = -1.0, counts[0], decays[0]
    for count in counts:
        for candidate in decays:
            score = float(recall(neighbour_scores(table.cut(count), history_matrix(candidate))).mean())
            tried.append({"neighbours": float(min(count, table.k)), "recency_decay": candidate,
                          "neighbours_alone": 1.0, "recall@20": score})
            if score > best_alone:
                best_alone, neighbours, decay = score, min(count, table.k), candidate
    per_user: dict[float, Tensor] = {}
    for weight in weights:
        blend = NeighbourBlend(weight, neighbours, decay)
        per_user[weight] = recall(blend.scorer(profile_scorer, table, history_matrix(decay)))
        tried.append({"neighbours": float(neighbours), "recency_decay": decay, "neighbour_weight": weight,
                      "recall@20": float(per_user[weight].mean())})
    base, chosen = per_user[0.0], 0.0
    for weight, values in per_user.items():
        gain, standard_error = gain_and_standard_error(values, base)
        if weight > 0 and (weight == fixed_weight or (
                fixed_weight is None and gain > standard_error and float(values.mean()) > float(per_user[chosen].mean()))):
            chosen = weight
    gain, standard_error = gain_and_standard_error(per_user[chosen], base)
    tried.append({"neighbour_weight": chosen, "neighbour_gain": gain if chosen else 0.0,
                  "neighbour_standard_error": standard_error})
    return NeighbourBlend(chosen, neighbours, decay) if chosen > 0 else NeighbourBlend(), tried
