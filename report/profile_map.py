"""A 2-D map of user profiles: a stratified sample of users, projected on the sample's two main axes.

Profiles are compared by cosine, so vectors are scaled to unit length before the projection
(PCA with numpy). The sample keeps every segment visible: each gets a share of the
points proportional to its size, and at least one.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ProfileMap:
    """``coordinates[i]`` places user row ``rows[i]``; ``explained`` is each axis's share of the sample's variance."""

    rows: np.ndarray
    coordinates: np.ndarray
    explained: tuple[float, float]

    @classmethod
    def project(cls, rows: np.ndarray, vectors: np.ndarray) -> "ProfileMap":
        unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        centred = unit - unit.mean(axis=0) if len(unit) else unit
        coordinates = np.zeros((len(rows), 2), dtype=np.float32)
        explained = (0.0, 0.0)
        if len(rows) >= 2 and centred.shape[1]:
            # The principal axes are the eigenvectors of the (dim x dim) scatter matrix: cheaper than an
            # SVD of the sample, and the same axes.
            centred = centred.astype(np.float64)
            variance, axes = np.linalg.eigh(centred.T @ centred)
            variance, axes = np.clip(variance[::-1], 0.0, None), axes[:, ::-1][:, :2].T
            axes = axes * np.sign(axes[:, [0]] + (axes[:, [0]] == 0))  # a fixed sign: the same map every time
            coordinates[:, : len(axes)] = centred @ axes.T
            share = variance[:2] / variance.sum() if variance.sum() > 0 else np.zeros(2)
            explained = (float(share[0]), float(share[1]) if len(share) > 1 else 0.0)
        return cls(rows=np.asarray(rows), coordinates=coordinates, explained=explained)


def stratified_sample(labels: np.ndarray, budget: int, seed: int = 0) -> np.ndarray:
    """Ascending row numbers of at most ``budget`` users (all when there are fewer), drawn per label
    in proportion to its size, with every label represented while the budget allows."""
    labels = np.asarray(labels)
    if len(labels) <= budget:
        return np.arange(len(labels))
    _, inverse, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    exact = budget * sizes / sizes.sum()
    quotas = np.floor(exact).astype(np.int64)
    quotas[(quotas == 0) & (sizes > 0)] = 1
    spare = budget - quotas.sum()
    if spare > 0:  # largest remainders first
        for label in np.argsort(-(exact - np.floor(exact)), kind="stable")[:spare]:
            quotas[label] += quotas[label] < sizes[label]
    while quotas.sum() > budget:  # the minimum of one pushed past the budget: trim the largest
        quotas[np.argmax(quotas)] -= 1
    rng = np.random.default_rng(seed)
    chosen = [rng.choice(np.flatnonzero(inverse == label), size=int(quota), replace=False)
              for label, quota in enumerate(quotas) if quota > 0]
    return np.sort(np.concatenate(chosen))
