"""Ranking by the profile vectors with a neighbour score beside them, where it helps.

A profile is a few hundred numbers; the pairwise long tail of which items go together (the
signal item-kNN ranks by) does not fit in it. So an item's ranking score for a user may add
its summed similarity to the user's (recency-weighted) items, from an
:class:`~personagraph.graph.item_neighbours.ItemNeighbours` table: item-kNN's cosine table, or
the rows of a :class:`~personagraph.gnn.low_pass_filter.LowPassFilter` (the closed-form
filters' whole-spectrum signal). Each part is divided by its row's largest value (over all
items), so one weight means the same on any shop. The table (its kind, size and how it weighs
users), the recency decay and the weight are chosen on validation by Recall@20 + NDCG@20 per user
(:func:`selection_scores`), and the weight stays 0 unless the blend beats the profile vectors alone
by more than one standard error of the per-user difference.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

import scipy.sparse as sp
import torch
from torch import Tensor

from personagraph.evaluation.ranking_metrics import (Targets, gain_and_standard_error, held_scorer, ndcg_at_k,
                                                     recall_at_k, top_k_scored)
from personagraph.gnn.low_pass_filter import LowPassFilter
from personagraph.graph.item_neighbours import (NEIGHBOUR_COUNTS, RECENCY_DECAYS, USER_WEIGHT_EXPONENTS,
                                                ItemNeighbours)

#: Kinds of table: item-kNN's cosine, or the rows of the low-pass filter (this wide: the filter
#: spreads over many items).
COSINE, LOW_PASS = "cosine", "low-pass"
LOW_PASS_NEIGHBOURS = 800
#: Weights of the neighbour score tried beside the profile score (0: the profile vectors alone), a
#: coarse doubling grid; the best is then refined by ``REFINE_FACTORS``.
NEIGHBOUR_WEIGHTS: tuple[float, ...] = (0.0, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4)
REFINE_FACTORS: tuple[float, ...] = (0.7, 1.4)
SELECTION_K = 20
#: The name of :func:`selection_scores` in the rows a choice records.
SELECTION_SCORE = f"recall+ndcg@{SELECTION_K}"
Scorer = Callable[[Tensor], Tensor]


def selection_scores(ranked: Tensor, targets: Targets) -> Tensor:
    """Per user, Recall@20 + NDCG@20 of ``ranked``: what a blend is chosen by.

    A neighbour score mostly reorders the top of a list the profile already found, which Recall@20
    alone cannot see (a target moved from 18th to 2nd counts the same); NDCG@20 sees it, and being
    graded, it also tells close settings apart with less noise than a hit or miss per user. Recall
    stays in the sum so that a weight which lifts a few targets while pushing others off the list
    does not win.
    """
    return recall_at_k(ranked, targets, SELECTION_K) + ndcg_at_k(ranked, targets, SELECTION_K)


@dataclass(frozen=True)
class NeighbourBlend:
    """How an item's score mixes in the neighbour score: ``weight`` 0 means profile vectors alone."""

    weight: float = 0.0
    neighbours: int = 0
    recency_decay: float = 1.0
    user_weight_exponent: float = 0.0
    similarity: str = COSINE

    @property
    def active(self) -> bool:
        return self.weight > 0 and self.neighbours > 0

    def fit_table(self, interactions: sp.spmatrix) -> ItemNeighbours:
        """The neighbour table this blend ranks with, counted on ``interactions`` (users x items)."""
        if self.similarity == LOW_PASS:
            return LowPassFilter(interactions).neighbours(self.neighbours)
        return ItemNeighbours.fit(interactions, self.neighbours, self.user_weight_exponent)

    def combine(self, profile_scores: Tensor, neighbour_scores: Tensor | None, profile_top: float | None = None,
                neighbour_top: float | None = None) -> Tensor:
        """``[users, items]`` ranking scores: the profile score over its row's largest magnitude plus
        ``weight`` times the neighbour score over its row's largest (``profile_top`` / ``neighbour_top``
        when the caller holds only part of a row); the profile scores as they are when inactive."""
        if not self.active or neighbour_scores is None:
            return profile_scores
        return (_over(profile_scores, profile_top, magnitude=True)
                + self.weight * _over(neighbour_scores, neighbour_top, magnitude=False))

    def scorer(self, profile_scorer: Scorer, table: ItemNeighbours | None, history: sp.csr_matrix | None) -> Scorer:
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
        similarity = str(values.get("similarity", COSINE))
        if similarity not in (COSINE, LOW_PASS):
            raise ValueError(f"unknown neighbour similarity {similarity!r} (expected {COSINE!r} or {LOW_PASS!r})")
        return cls(float(values.get("weight", 0.0)), int(values.get("neighbours", 0)),
                   float(values.get("recency_decay", 1.0)), float(values.get("user_weight_exponent", 0.0)),
                   similarity)


def _over(scores: Tensor, top: float | None, magnitude: bool) -> Tensor:
    """``scores`` divided by their row's largest (its magnitude for the profile part, which may be
    negative), or by ``top`` when given."""
    if top is None:
        largest = scores.amax(dim=1, keepdim=True)
        scale = largest.abs() if magnitude else largest
    else:
        scale = torch.tensor(abs(float(top)))
    return scores / scale.clamp_min(1e-12)


def neighbour_scores(table: ItemNeighbours, history: sp.csr_matrix, item_item: sp.csr_matrix | None = None) -> Scorer:
    """A batch scorer: each item's summed similarity to the rows of ``history`` (users x items);
    ``item_item`` is ``table.matrix()`` where the caller already holds it."""
    item_item = table.matrix() if item_item is None else item_item
    return lambda users: torch.from_numpy(table.scores(history[users.numpy()], item_item))


def choose_neighbour_blend(profile_scorer: Scorer, history_matrix: Callable[[float], sp.csr_matrix],
                           excluded: tuple[Tensor, Tensor], targets: tuple[Tensor, Tensor],
                           table_for: Callable[[float], ItemNeighbours],
                           low_pass_table: Callable[[], ItemNeighbours] | None = None,
                           counts: tuple[int, ...] = NEIGHBOUR_COUNTS, decays: tuple[float, ...] = RECENCY_DECAYS,
                           exponents: tuple[float, ...] = USER_WEIGHT_EXPONENTS,
                           weights: tuple[float, ...] = NEIGHBOUR_WEIGHTS, fixed_weight: float | None = None,
                           batch_size: int = 1024) -> tuple[NeighbourBlend, list[dict[str, float]]]:
    """The blend that ranks ``targets`` best by :func:`selection_scores`, and one row per setting tried.

    All arguments are over the same selected users (row ``i`` is user ``i``): ``profile_scorer``
    their profile scores, ``history_matrix(decay)`` their items weighted by recency, ``excluded``
    and ``targets`` CSR item lists; ``table_for(exponent)`` is the cosine table (at least
    ``max(counts)`` wide) with that user-weight exponent, ``low_pass_table()`` the low-pass
    filter's table (:data:`LOW_PASS_NEIGHBOURS` wide; None: not tried). The table's kind, size and
    weighting and the decay are chosen for the neighbour score alone, the best of each kind (as
    item-kNN chooses them); then, for each kind, its weight beside the profile score: the best of
    ``weights``, refined by :data:`REFINE_FACTORS`, kept only when it beats 0 by more than one standard
    error. The kind whose blend scores best wins: a table that ranks better alone may know mostly
    what the profile already knows, and the weaker one may be its complement. ``fixed_weight`` (a
    user's setting) is taken as given, 0 meaning none. Decays that weigh the history as the first
    does (a log without distinct times) are tried once.
    """
    if weights[:1] != (0.0,):
        raise ValueError(f"neighbour weights must start with 0, got {weights}")
    num_users = excluded[0].numel() - 1
    users = torch.arange(num_users)
    tried: list[dict[str, float]] = []
    if num_users == 0 or fixed_weight == 0:
        return NeighbourBlend(), tried

    def measure(scorer: Scorer) -> Tensor:
        return selection_scores(top_k_scored(scorer, excluded, users, SELECTION_K, batch_size), targets)

    # Fitted once each (by exponent, or the low-pass one) and kept while scored or best of their kind;
    # the item-item matrix of the last (table, size) scored is kept for the next decay. On a big
    # catalogue each is as large as the table, so holding every one at once would set the run's peak.
    tables: dict[float | str, ItemNeighbours] = {}
    matrix: dict[tuple[float | str, int], sp.csr_matrix] = {}
    best_of_kind: dict[str, tuple[float, NeighbourBlend]] = {}

    def key_of(setting: NeighbourBlend) -> float | str:
        return LOW_PASS if setting.similarity == LOW_PASS else setting.user_weight_exponent

    def scorer_of(setting: NeighbourBlend) -> Scorer:
        """The neighbour score alone of ``setting`` over the selected users."""
        history = history_matrix(setting.recency_decay)
        key = key_of(setting)
        if key not in tables:
            matrix.clear()
            best = {key_of(chosen) for _, chosen in best_of_kind.values()}
            for done in [done for done in tables if done not in best]:
                del tables[done]
            tables[key] = low_pass_table() if key == LOW_PASS else table_for(setting.user_weight_exponent)
        table = tables[key].cut(setting.neighbours)
        if (key, setting.neighbours) not in matrix:
            matrix.clear()
            matrix[key, setting.neighbours] = table.matrix()
        return neighbour_scores(table, history, matrix[key, setting.neighbours])

    first = history_matrix(decays[0])  # a log without distinct times weighs every decay the same
    decays = tuple(decay for index, decay in enumerate(decays) if index == 0 or (history_matrix(decay) != first).nnz)
    settings = [NeighbourBlend(1.0, count, decay, exponent) for exponent in exponents for count in counts
                for decay in decays]
    if low_pass_table is not None:
        settings += [NeighbourBlend(1.0, LOW_PASS_NEIGHBOURS, decay, 0.0, LOW_PASS) for decay in decays]
    for setting in settings:
        score = float(measure(scorer_of(setting)).mean())
        setting = replace(setting, neighbours=min(setting.neighbours, tables[key_of(setting)].k))
        tried.append({"neighbours": float(setting.neighbours), "recency_decay": setting.recency_decay,
                      "user_weight_exponent": setting.user_weight_exponent,
                      "low_pass": float(setting.similarity == LOW_PASS), "neighbours_alone": 1.0,
                      SELECTION_SCORE: score})
        if score > best_of_kind.get(setting.similarity, (-1.0, None))[0]:
            best_of_kind[setting.similarity] = (score, setting)
    # Every weight blends the same two parts: each is scored once (within memory), not once per weight.
    num_items = first.shape[1]
    profile_scorer = held_scorer(profile_scorer, num_users, num_items)
    base = measure(profile_scorer)
    chosen, gain, standard_error = NeighbourBlend(), 0.0, 0.0
    for _, alone in sorted(best_of_kind.values(), key=lambda pair: -pair[0]):  # the stronger kind alone first
        neighbour_scorer = held_scorer(scorer_of(alone), num_users, num_items)
        candidate, candidate_gain, candidate_error = _choose_weight(alone, neighbour_scorer, profile_scorer, measure,
                                                                    base, weights, fixed_weight, tried)
        del neighbour_scorer  # one kind's scores held at a time
        if candidate.active and (not chosen.active or candidate_gain > gain):
            chosen, gain, standard_error = candidate, candidate_gain, candidate_error
        elif not chosen.active:
            standard_error = candidate_error
    tried.append({"neighbour_weight": chosen.weight, "neighbour_gain": gain if chosen.active else 0.0,
                  "neighbour_standard_error": standard_error, "low_pass": float(chosen.similarity == LOW_PASS)})
    return chosen, tried


def _choose_weight(alone: NeighbourBlend, neighbour_scorer: Scorer, profile_scorer: Scorer,
                   scores_of: Callable[[Scorer], Tensor], base: Tensor, weights: tuple[float, ...],
                   fixed_weight: float | None, tried: list[dict[str, float]]) -> tuple[NeighbourBlend, float, float]:
    """The weight of ``alone``'s neighbour score beside the profile score (its blend, or the inactive
    blend), with its gain over the profile score alone (``base``, per user) and that gain's standard error."""
    per_user: dict[float, Tensor] = {0.0: base}
    row = {key: value for key, value in replace(alone, weight=0.0).as_dict().items() if key != "similarity"}
    tried.append(row | {"low_pass": float(alone.similarity == LOW_PASS), "neighbour_weight": 0.0,
                        SELECTION_SCORE: float(base.mean())})

    def measure(weight: float) -> None:
        if weight in per_user:
            return
        blend = replace(alone, weight=weight)
        per_user[weight] = scores_of(lambda rows: blend.combine(profile_scorer(rows).float(), neighbour_scorer(rows)))
        row = {key: value for key, value in blend.as_dict().items() if key != "similarity"}
        tried.append(row | {"low_pass": float(blend.similarity == LOW_PASS), "neighbour_weight": weight,
                            SELECTION_SCORE: float(per_user[weight].mean())})

    for weight in (fixed_weight,) if fixed_weight is not None else weights:
        measure(weight)
    if fixed_weight is None:
        coarse = max(per_user, key=lambda weight: float(per_user[weight].mean()))
        for factor in REFINE_FACTORS if coarse > 0 else ():
            measure(round(coarse * factor, 6))
    chosen = 0.0
    for weight, values in per_user.items():
        gain, standard_error = gain_and_standard_error(values, base)
        better = gain > standard_error and float(values.mean()) > float(per_user[chosen].mean())
        if weight > 0 and (weight == fixed_weight or (fixed_weight is None and better)):
            chosen = weight
    gain, standard_error = gain_and_standard_error(per_user[chosen], base)
    return (replace(alone, weight=chosen) if chosen else NeighbourBlend()), gain, standard_error
