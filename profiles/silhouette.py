"""Silhouette of a clustering under cosine distance, on a sample so it stays cheap."""
from __future__ import annotations

import numpy as np


def cosine_silhouette(unit_vectors: np.ndarray, labels: np.ndarray, sample_size: int = 2000, seed: int = 0) -> float:
    """Mean silhouette (Rousseeuw 1987) of ``labels`` with distance ``1 - cos``, over a seeded sample.

    ``unit_vectors`` must be L2-normalised rows (zero rows allowed: at distance 1 from all).
    Points alone in their cluster (within the sample) score 0, as in scikit-learn. Returns
    0 when the sample holds fewer than two clusters.
    """
    rng = np.random.default_rng(seed)
    n = unit_vectors.shape[0]
    pick = np.sort(rng.choice(n, sample_size, replace=False)) if n > sample_size else np.arange(n)
    unit = unit_vectors[pick].astype(np.float64)
    clusters, member_of = np.unique(labels[pick], return_inverse=True)
    if clusters.size < 2:
        return 0.0
    distance = 1.0 - unit @ unit.T
    np.fill_diagonal(distance, 0.0)
    membership = np.eye(clusters.size)[member_of]
    sizes = membership.sum(axis=0)
    totals = distance @ membership  # [n, clusters]: summed distance to each cluster
    own_size = sizes[member_of] - 1
    within = np.divide(totals[np.arange(pick.size), member_of], own_size, out=np.zeros(pick.size), where=own_size > 0)
    means = totals / sizes
    means[np.arange(pick.size), member_of] = np.inf
    nearest_other = means.min(axis=1)
    scale = np.maximum(within, nearest_other)
    score = np.divide(nearest_other - within, scale, out=np.zeros(pick.size), where=scale > 0)
    score[own_size == 0] = 0.0
    return float(score.mean())
