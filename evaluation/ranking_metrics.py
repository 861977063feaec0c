"""Full-ranking Recall@K and NDCG@K, the way LightGCN's evaluation computes them.

Every item is ranked for every user, the user's history items are set to -inf (a
recommender should not be credited for re-listing what the user already has), and
the held-out items are looked up in the top K. Users are ranked in batches so the
score matrix never exceeds ``batch_size x num_items``.

Targets are either one item per user (a ``[num_users]`` tensor, -1 where the user
has none) or a set per user (a CSR pair ``(indptr, indices)`` or a list of item
lists, as in Gowalla's test file). Recall@K = |hits| / |targets|; NDCG@K divides
the DCG of the hits by the ideal DCG over ``min(|targets|, K)`` positions.

There is one ranking loop, :func:`evaluate_scorer`, for any model that can score a batch of
users against all items; :func:`evaluate_ranking` is its special case for user and item
vectors compared by dot product.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

#: One item per user (``Tensor[num_users]``, -1 = none), a CSR pair, or a list of item lists.
Targets = Tensor | tuple[Tensor, Tensor] | Sequence[Sequence[int]]
#: History items per user: a CSR pair ``(indptr, indices)`` or an edge list ``Tensor[2, E]`` (user, item).
History = tuple[Tensor, Tensor] | Tensor
#: Batch of user indices -> a new ``[batch, num_items]`` score tensor (higher = better); it is written to.
Scorer = Callable[[Tensor], Tensor]


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


def top_k_scored(scorer: Scorer, excluded: tuple[Tensor, Tensor] | None, users: Tensor, k: int,
                 batch_size: int = 1024) -> Tensor:
    """``[len(users), k]``: each user's ``k`` best-scored items, best first; ``excluded`` (CSR) items never.

    Users are scored ``batch_size`` at a time, so scores never exceed ``batch_size x num_items``.
    ``k`` is cut to the number of items.
    """
    ranked = [torch.empty(0, k, dtype=torch.long)] if users.numel() == 0 else []
    for start in range(0, users.numel(), batch_size):
        batch = users[start : start + batch_size]
        scores = scorer(batch).float()
        if excluded is not None:
            sub_indptr, items = csr_rows(*excluded, batch)
            scores[_row_ids(sub_indptr), items] = float("-inf")
        ranked.append(torch.topk(scores, min(k, scores.shape[1]), dim=1).indices)
    return torch.cat(ranked)


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


def evaluate_scorer(scorer: Scorer, excluded: tuple[Tensor, Tensor], targets: Targets, ks: Sequence[int],
                    batch_size: int = 1024) -> dict[str, float]:
    """Mean Recall@K / NDCG@K over the users that have at least one target.

    ``excluded`` (a CSR pair over all users, which also gives their number) lists the items
    never ranked for a user. Returns ``{"recall@10": ..., "ndcg@10": ..., ..., "num_users": n}``.
    """
    num_users = excluded[0].numel() - 1
    indptr, indices = as_csr(targets, num_users)
    users = torch.nonzero(indptr[1:] > indptr[:-1]).flatten()
    metrics: dict[str, float] = {"num_users": float(users.numel())}
    if users.numel() == 0:
        return metrics | {f"{name}@{k}": 0.0 for k in ks for name in ("recall", "ndcg")}
    ranked = top_k_scored(scorer, excluded, users, max(ks), batch_size)
    user_targets = csr_rows(indptr, indices, users)
    for k in ks:
        metrics[f"recall@{k}"] = float(recall_at_k(ranked, user_targets, k).mean())
        metrics[f"ndcg@{k}"] = float(ndcg_at_k(ranked, user_targets, k).mean())
    return metrics


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
