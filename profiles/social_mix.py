"""How much of a user's friends goes into their profile vector: only as much as validation says helps.

Friends often share tastes, but not always, and on real data naively blending their histories
in makes recommendations worse. So the friends enter after training, as one number chosen on
held-out data, like the spectral mix: a user's vector is

    normalise((1 − w) · own + w · mean of the friends' own vectors)

where *own* is the model's pooling of the user's own edges and a friend is anyone linked to the
user by any relation, either way. ``w`` is chosen from :data:`SOCIAL_WEIGHTS` by validation
Recall@20, and a weight above 0 must beat 0 by more than the standard error of the per-user
difference: with links that carry no signal the noise of one validation split never buys them
in. ``w = 0`` (also the choice without links) leaves every vector as the model made it. The
chosen weight is saved with the run's profile space and applied at train, update and profile time.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from personagraph.evaluation.ranking_metrics import (
    Targets,
    as_csr,
    csr_rows,
    dot_product_scorer,
    gain_and_standard_error,
    ndcg_at_k,
    recall_at_k,
    top_k_scored,
)
from personagraph.gnn.profile_model import ProfileModel
from personagraph.shop.social_links import SocialLinks

#: The weights tried, 0 (no friends) first: ties go to the smaller weight.
SOCIAL_WEIGHTS: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5)
SELECTION_K = 20


def mix_social(own: np.ndarray, adjacency: sp.csr_matrix, weight: float) -> np.ndarray:
    """``normalise((1 − w) · own + w · mean of neighbours' own)`` per row of a square ``adjacency``
    over the rows of ``own``; rows without neighbours (and every row when ``w`` is 0) stay ``own``."""
    own = np.asarray(own, dtype=np.float32)
    if weight <= 0 or adjacency.nnz == 0:
        return own
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    friends_mean = (adjacency @ own) / np.maximum(degree, 1.0)[:, None]
    mixed = (1.0 - weight) * own + weight * friends_mean
    norms = np.linalg.norm(mixed, axis=1, keepdims=True)
    mixed = np.divide(mixed, norms, out=np.zeros_like(mixed), where=norms > 0)
    return np.where(degree[:, None] > 0, mixed, own).astype(np.float32)


def mix_one(own: np.ndarray, friends_own: np.ndarray, weight: float) -> np.ndarray:
    """:func:`mix_social` of one user: ``own`` (``[dim]``) with their friends' own vectors (``[n, dim]``)."""
    friends_own = np.asarray(friends_own, dtype=np.float32).reshape(-1, np.asarray(own).shape[-1])
    star = sp.csr_matrix((np.ones(len(friends_own), dtype=np.float32),
                          (np.zeros(len(friends_own), dtype=np.int64), np.arange(1, len(friends_own) + 1))),
                         shape=(len(friends_own) + 1, len(friends_own) + 1))
    return mix_social(np.vstack([np.asarray(own, dtype=np.float32)[None], friends_own]), star, weight)[0]


@dataclass
class SocialMix:
    """The chosen weight of the friends' mean, and the validation figures of every weight tried."""

    weight: float = 0.0
    tried: list[dict[str, Any]] = field(default_factory=list)
    reason: str = "no social links"

    def to_dict(self) -> dict[str, Any]:
        return {"weight": self.weight, "reason": self.reason, "tried": self.tried}

    @classmethod
    def choose(cls, user_vectors: np.ndarray | Tensor, item_vectors: np.ndarray | Tensor, links: SocialLinks | None,
               targets: Targets, excluded: tuple[Tensor, Tensor], weights: tuple[float, ...] = SOCIAL_WEIGHTS,
               batch_size: int = 1024) -> "SocialMix":
        """The weight of :data:`SOCIAL_WEIGHTS` with the best validation Recall@20 of ``targets``.

        ``excluded`` (CSR over all users) are items never ranked for a user, as in evaluation.
        A weight above 0 is kept only when it beats 0 by more than one standard error of the
        per-user Recall@20 difference (users with a validation target).
        """
        if 0.0 not in weights:
            raise ValueError("the weights tried must include 0 (profiles without friends)")
        own = np.asarray(user_vectors, dtype=np.float32)
        num_users = own.shape[0]
        if links is None or not len(links):
            return cls()
        items = torch.as_tensor(np.asarray(item_vectors, dtype=np.float32))
        indptr, indices = as_csr(targets, num_users)
        users = torch.nonzero(indptr[1:] > indptr[:-1]).flatten()
        if users.numel() == 0:
            return cls(reason="no validation targets")
        user_targets = csr_rows(indptr, indices, users)
        adjacency = links.adjacency(num_users)
        recalls: dict[float, Tensor] = {}
        tried = []
        for weight in weights:
            mixed = torch.from_numpy(mix_social(own, adjacency, weight))
            ranked = top_k_scored(dot_product_scorer(mixed, items), excluded, users, SELECTION_K, batch_size)
            recalls[weight] = recall_at_k(ranked, user_targets, SELECTION_K)
            tried.append({"weight": weight, f"recall@{SELECTION_K}": float(recalls[weight].mean()),
                          f"ndcg@{SELECTION_K}": float(ndcg_at_k(ranked, user_targets, SELECTION_K).mean())})
        best = max(weights, key=lambda w: (float(recalls[w].mean()), -w))
        if best == 0:
            return cls(0.0, tried, "the friends did not help on validation")
        gain, standard_error = gain_and_standard_error(recalls[best], recalls[0.0])
        if gain <= standard_error:
            return cls(0.0, tried, f"w={best} gained {gain:+.4f} Recall@{SELECTION_K} on validation, "
                                   f"within one standard error ({standard_error:.4f})")
        return cls(best, tried, f"w={best} gained {gain:+.4f} Recall@{SELECTION_K} on validation "
                                f"(standard error {standard_error:.4f})")


def choose_social_mix(model: ProfileModel, graph: HeteroData, links: SocialLinks | None, targets: Targets,
                      excluded: tuple[Tensor, Tensor]) -> SocialMix:
    """:meth:`SocialMix.choose` with the vectors ``model`` gives on its training ``graph``."""
    if links is None or not len(links):
        return SocialMix()
    model.eval()
    with torch.no_grad():
        output = model(graph)
    return SocialMix.choose(output.user_vectors.numpy(), output.item_vectors.numpy(), links, targets, excluded)
