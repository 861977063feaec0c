"""Full-ranking Recall@K and NDCG@K, the way LightGCN's evaluation computes them.

Every item is ranked for every user and the held-out items are looked up in the top K.
The user's history items are lowered by a *repeat weight*: 0 (the default) sets them to
-inf, i.e. excludes them (a recommender should not be credited for re-listing what the
user already has); under the rule of the text-aware sequential papers, which rank the
history too, a model may keep some of their score (1 = as scored), a weight it chooses on
validation. Users are ranked in batches so the score matrix never exceeds
``batch_size x num_items``.

Targets are either one item per user (a ``[num_users]`` tensor, -1 where the user
has none) or a set per user (a CSR pair ``(indptr, indices)`` or a list of item
lists, as in Gowalla's test file). Recall@K = |hits| / |targets|; NDCG@K divides
the DCG of the hits by the ideal DCG over ``min(|targets|, K)`` positions.

There is one ranking loop, :func:`evaluate_scorer`, for any model that can score a batch of
users against all items; :func:`evaluate_ranking` is its special case for user and item
vectors compared by dot product.
"""
from __future__ import annotations

import math

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

#: One item per user (``Tensor[num_users]``, -1 = none), a CSR pair, or a list of item lists.
Targets = Tensor | tuple[Tensor, Tensor] | Sequence[Sequence[int]]
#: History items per user: a CSR pair ``(indptr, indices)`` or an edge list ``Tensor[2, E]`` (user, item).
History = tuple[Tensor, Tensor] | Tensor
#: Batch of user indices -> a new ``[batch, num_items]`` score tensor (higher = better); it is written to.
Scorer = Callable[[Tensor], Tensor]
#: Most scores a ranking batch holds (128 MiB of float32): a batch of users over a big catalogue, and
#: the copies a blend of scores makes, would otherwise set a run's peak memory.
SCORE_BATCH_ENTRIES = 2**25
#: Most scores :func:`held_scorer` keeps (1 GiB of float32): a choice that ranks one sample of users
#: under many settings scores them once per part, within this bound.
HELD_SCORE_ENTRIES = 2**28


def as_csr(pairs: Targets | History, num_users: int) -> tuple[Tensor, Tensor]:
    """Any accepted per-user item collection as ``(indptr[num_users + 1], indices)``.

    Edge lists and item lists are sorted and de-duplicated; a given CSR pair is used as is.
    """
    if isinstance(pairs, tuple):
        indptr, indices = pairs
        return indptr.long(), indices.long()
    if isinstance(pairs, Tensor) and pairs.dim() == 1:
        users = torch.nonzero(pairs >= 0).flatten()
        return as_csr(torch.stack([users, pairs[users]]), num_users)
    if isinstance(pairs, Tensor):
        users, items = pairs[0].long(), pairs[1].long()
    else:
        users = torch.tensor([u for u, row in enumerate(pairs) for _ in row], dtype=torch.long)
        items = torch.tensor([i for row in pairs for i in row], dtype=torch.long)
    stride = int(items.max()) + 1 if items.numel() else 1
    keys = torch.unique(users * stride + items)  # sorted by user, duplicates dropped
    users, items = keys // stride, keys % stride
    indptr = torch.zeros(num_users + 1, dtype=torch.long)
    indptr[1:] = torch.cumsum(torch.bincount(users, minlength=num_users), 0)
    return indptr, items


def csr_rows(indptr: Tensor, indices: Tensor, rows: Tensor) -> tuple[Tensor, Tensor]:
    """The sub-CSR holding only ``rows`` (in that order)."""
    lengths = indptr[rows + 1] - indptr[rows]
    sub_indptr = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(lengths, 0)])
    positions = torch.repeat_interleave(indptr[rows] - sub_indptr[:-1], lengths) + torch.arange(int(sub_indptr[-1]))
    return sub_indptr, indices[positions]


def _row_ids(indptr: Tensor) -> Tensor:
    """For each stored entry of a CSR, the row it belongs to."""
    return torch.repeat_interleave(torch.arange(indptr.numel() - 1), indptr[1:] - indptr[:-1])


def dot_product_scorer(user_emb: Tensor, item_emb: Tensor) -> Scorer:
    """Scores of users for items as the dot product of their vectors."""
    return lambda users: user_emb[users] @ item_emb.T


def held_scorer(scorer: Scorer, num_users: int, num_items: int, max_entries: int = HELD_SCORE_ENTRIES) -> Scorer:
    """``scorer`` over users ``0..num_users``, each scored once and kept, for a choice that ranks the
    same users under many settings; ``scorer`` itself where the scores would exceed ``max_entries``."""
    if num_users * num_items > max_entries:
        return scorer
    step = max(1, SCORE_BATCH_ENTRIES // max(num_items, 1))
    scores = torch.empty(num_users, num_items)
    for start in range(0, num_users, step):
        scores[start:start + step] = scorer(torch.arange(start, min(start + step, num_users)))
    return lambda users: scores[users]  # a copy: the caller may write to it


def lower_repeats(scores: Tensor, rows: Tensor, items: Tensor, repeat_weight: float,
                  in_place: bool = False) -> Tensor:
    """``scores`` with each ``(rows, items)`` history entry lowered by ``1 - repeat_weight`` times its
    row's score range (max - min); weight 0 sets them to -inf (excluded), 1 leaves them as scored.

    Relative to each row's range, so one weight means the same for any model's score scale.
    ``in_place`` writes into ``scores`` (no copy of a possibly large batch).
    """
    if not 0.0 <= repeat_weight <= 1.0:
        raise ValueError(f"repeat weight must lie in [0, 1], got {repeat_weight}")
    if repeat_weight == 1.0 or rows.numel() == 0:
        return scores
    lowered = scores if in_place else scores.clone()
    if repeat_weight == 0.0:
        lowered[rows, items] = float("-inf")
        return lowered
    spread = scores.amax(dim=1) - scores.amin(dim=1)
    lowered[rows, items] = scores[rows, items] - (1.0 - repeat_weight) * spread[rows]  # reads before writing
    return lowered


def top_k_for_repeat_weights(scorer: Scorer, history: tuple[Tensor, Tensor] | None, users: Tensor, k: int,
                             repeat_weights: Sequence[float], batch_size: int = 1024) -> list[Tensor]:
    """Per repeat weight, ``[len(users), k]``: each user's ``k`` best items, best first, ``history`` (CSR)
    items lowered by that weight (:func:`lower_repeats`). Each batch is scored once for all weights;
    ``k`` is cut to the number of items."""
    ranked: list[list[Tensor]] = [[torch.empty(0, k, dtype=torch.long)] if users.numel() == 0 else []
                                  for _ in repeat_weights]
    start, size = 0, 1  # the first user's row says how wide the scores are, and so how many fit a batch
    while start < users.numel():
        batch = users[start : start + size]
        scores = scorer(batch).float()
        start, size = start + size, max(1, min(batch_size, SCORE_BATCH_ENTRIES // max(scores.shape[1], 1)))
        if history is not None:
            sub_indptr, items = csr_rows(*history, batch)
            rows = _row_ids(sub_indptr)
        else:
            rows = items = torch.zeros(0, dtype=torch.long)
        for lists, weight in zip(ranked, repeat_weights):
            lowered = lower_repeats(scores, rows, items, weight, in_place=len(repeat_weights) == 1)
            lists.append(torch.topk(lowered, min(k, scores.shape[1]), dim=1).indices)
    return [torch.cat(lists) for lists in ranked]


def top_k_scored(scorer: Scorer, excluded: tuple[Tensor, Tensor] | None, users: Tensor, k: int,
                 batch_size: int = 1024, repeat_weight: float = 0.0) -> Tensor:
    """``[len(users), k]``: each user's ``k`` best-scored items, best first; ``excluded`` (CSR) items never
    (or, with a ``repeat_weight`` above 0, lowered by it: :func:`lower_repeats`).

    Users are scored ``batch_size`` at a time, fewer where a batch would hold more than
    :data:`SCORE_BATCH_ENTRIES` scores, so scores never exceed ``batch_size x num_items`` or that bound.
    ``k`` is cut to the number of items.
    """
    return top_k_for_repeat_weights(scorer, excluded, users, k, (repeat_weight,), batch_size)[0]


def top_k_items(
    user_emb: Tensor,
    item_emb: Tensor,
    history: History | None,
    k: int,
    users: Tensor | None = None,
    batch_size: int = 1024,
) -> Tensor:
    """The ``k`` best-scored items per user (dot product), history items excluded."""
    users = torch.arange(user_emb.shape[0]) if users is None else users
    history_csr = as_csr(history, user_emb.shape[0]) if history is not None else None
    return top_k_scored(dot_product_scorer(user_emb, item_emb), history_csr, users, min(k, item_emb.shape[0]),
                        batch_size)


def _hits(ranked: Tensor, targets: Targets) -> Tensor:
    """Boolean ``[num_rows, K]``: is the item at each rank one of that row's targets."""
    indptr, indices = as_csr(targets, ranked.shape[0])
    stride = int(max(int(ranked.max()) if ranked.numel() else 0, int(indices.max()) if indices.numel() else 0)) + 1
    target_keys = _row_ids(indptr) * stride + indices
    ranked_keys = torch.arange(ranked.shape[0]).unsqueeze(1) * stride + ranked
    return torch.isin(ranked_keys, target_keys)


def _target_sizes(targets: Targets, num_rows: int) -> Tensor:
    indptr, _ = as_csr(targets, num_rows)
    return indptr[1:] - indptr[:-1]


def recall_at_k(ranked: Tensor, targets: Targets, k: int) -> Tensor:
    """Per-user |top-k ∩ targets| / |targets| for ranked lists ``[num_users, >= k]`` (0 without targets)."""
    hits = _hits(ranked[:, :k], targets)
    return hits.sum(1).float() / _target_sizes(targets, ranked.shape[0]).clamp(min=1).float()


def ndcg_at_k(ranked: Tensor, targets: Targets, k: int) -> Tensor:
    """Per-user NDCG@k with binary gains; the ideal DCG fills ``min(|targets|, k)`` ranks."""
    hits = _hits(ranked[:, :k], targets)
    discounts = 1.0 / torch.log2(torch.arange(hits.shape[1], dtype=torch.float) + 2.0)
    dcg = (hits.float() * discounts).sum(1)
    ideal_len = _target_sizes(targets, ranked.shape[0]).clamp(max=hits.shape[1])
    ideal = torch.cat([torch.zeros(1), torch.cumsum(discounts, 0)])[ideal_len]
    return dcg / ideal.clamp(min=1e-12)


def gain_and_standard_error(better: Tensor, baseline: Tensor) -> tuple[float, float]:
    """The mean per-user gain of ``better`` over ``baseline`` (per-user metrics of the same users) and its
    standard error (infinite for fewer than two users: no evidence).

    The choices that add a part or a weight only when it beats the simpler option by more than this
    error share it, so noise between close settings never buys a bigger model.
    """
    gain = (better - baseline).double()
    standard_error = float(gain.std()) / math.sqrt(gain.numel()) if gain.numel() > 1 else math.inf
    return (float(gain.mean()) if gain.numel() else 0.0), standard_error


def evaluate_scorer(scorer: Scorer, excluded: tuple[Tensor, Tensor], targets: Targets, ks: Sequence[int],
                    batch_size: int = 1024, repeat_weight: float = 0.0) -> dict[str, float]:
    """Mean Recall@K / NDCG@K over the users that have at least one target.

    ``excluded`` (a CSR pair over all users, which also gives their number) lists each user's
    history items: never ranked with ``repeat_weight`` 0, lowered by it otherwise
    (:func:`lower_repeats`). Returns ``{"recall@10": ..., "ndcg@10": ..., ..., "num_users": n}``.
    """
    return evaluate_repeat_weights(scorer, excluded, targets, ks, (repeat_weight,), batch_size)[0]


def evaluate_repeat_weights(scorer: Scorer, history: tuple[Tensor, Tensor], targets: Targets, ks: Sequence[int],
                            repeat_weights: Sequence[float], batch_size: int = 1024) -> list[dict[str, float]]:
    """:func:`evaluate_scorer` once per repeat weight, scoring every user only once."""
    num_users = history[0].numel() - 1
    indptr, indices = as_csr(targets, num_users)
    users = torch.nonzero(indptr[1:] > indptr[:-1]).flatten()
    if users.numel() == 0:
        empty = {"num_users": 0.0} | {f"{name}@{k}": 0.0 for k in ks for name in ("recall", "ndcg")}
        return [dict(empty) for _ in repeat_weights]
    user_targets = csr_rows(indptr, indices, users)
    results = []
    for ranked in top_k_for_repeat_weights(scorer, history, users, max(ks), repeat_weights, batch_size):
        metrics: dict[str, float] = {"num_users": float(users.numel())}
        for k in ks:
            metrics[f"recall@{k}"] = float(recall_at_k(ranked, user_targets, k).mean())
            metrics[f"ndcg@{k}"] = float(ndcg_at_k(ranked, user_targets, k).mean())
        results.append(metrics)
    return results


def evaluate_ranking(
    user_emb: Tensor,
    item_emb: Tensor,
    history: History | None,
    targets: Targets,
    ks: Sequence[int] = (10, 20),
    batch_size: int = 1024,
) -> dict[str, float]:
    """:func:`evaluate_scorer` for user and item vectors scored by dot product, ``history`` items excluded."""
    num_users = user_emb.shape[0]
    excluded = (as_csr(history, num_users) if history is not None
                else (torch.zeros(num_users + 1, dtype=torch.long), torch.zeros(0, dtype=torch.long)))
    return evaluate_scorer(dot_product_scorer(user_emb, item_emb), excluded, targets, ks, batch_size)
