"""A training-free low-pass filter of the user–item graph: the structural part of a profile.

The top-k right singular vectors ``V`` of the degree-normalised interaction matrix
``D_U^-1/2 R D_I^-1/2`` are the smoothest item signals on the graph. Projecting a user's
items onto them and back is the "ideal low-pass filter" of GF-CF (Shen et al., CIKM 2021),
which on ID-only data such as Gowalla ranks about as well as a LightGCN trained for
hundreds of epochs. In embedding form it is a k-wide user part (the attention-weighted
sum of the user's items' rows of ``D_I^-a V``) and a k-wide item part (``D_I^1/2 V``), so
it sits beside the GNN's vectors in one dot product. GF-CF has ``a = 1/2``; the filter's
``degree_exponent`` (``TrainConfig.user_degree_exponent``, saved with the model) sets it. It is
fitted once, from the training graph; users are pooled with the model's weights, so new users
and new events need no refit. Items that arrive later have no row: they rely on the GNN.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from personagraph.gnn.train_config import USER_DEGREE_EXPONENT
from personagraph.gnn.user_interactions import UserInteractions
#: Matrices with at most this many cells are decomposed densely (exact, and any k works).
DENSE_SVD_CELLS = 4_000_000
#: Above that, the right singular vectors are eigenvectors of the item Gram matrix ``R^T R``
#: (its non-zeros are the co-occurring item pairs, so it grows with the log, not with users x
#: items): an exact dense eigen-solver up to this many items, a randomised one beyond.
DENSE_GRAM_ITEMS = 8192
#: The randomised eigen-solver's extra columns and power iterations (Halko et al., 2011).
RANDOMISED_OVERSAMPLING = 64
RANDOMISED_POWER_ITERATIONS = 4


class SpectralFilter(nn.Module):
    """``basis``: ``[num_items, k]`` singular vectors; ``degree``: each item's training interactions.

    ``degree_exponent`` is ``a`` above: a user's part weighs each of their items by ``degree ** -a``.
    """

    def __init__(self, num_items: int, k: int, degree_exponent: float = USER_DEGREE_EXPONENT) -> None:
        super().__init__()
        self.degree_exponent = float(degree_exponent)
        self.register_buffer("basis", torch.zeros(num_items, k))
        self.register_buffer("degree", torch.zeros(num_items))

    @classmethod
    def fit(cls, interactions: UserInteractions, num_items: int, k: int, seed: int = 0,
            degree_exponent: float = USER_DEGREE_EXPONENT) -> "SpectralFilter | None":
        """The top-``k`` filter of the user→item edges (each pair once); ``None`` when the graph is too small."""
        rows = interactions.is_item()
        pairs = np.unique(np.stack([interactions.user[rows].numpy(), interactions.node[rows].numpy()]), axis=1)
        matrix = sp.csr_matrix((np.ones(pairs.shape[1], dtype=np.float32), (pairs[0], pairs[1])),
                               shape=(interactions.num_users, num_items))
        k = min(k, min(matrix.shape) - 1)
        if k < 1 or matrix.nnz == 0:
            return None
        user_degree = np.asarray(matrix.sum(axis=1)).ravel()
        item_degree = np.asarray(matrix.sum(axis=0)).ravel()
        normalised = sp.diags(_inverse_sqrt(user_degree)) @ matrix @ sp.diags(_inverse_sqrt(item_degree))
        basis = _top_right_singular_vectors(normalised.tocsr(), k, seed)
        spectral = cls(num_items, k, degree_exponent)
        spectral.basis.copy_(torch.from_numpy(basis))
        spectral.degree.copy_(torch.from_numpy(item_degree.astype(np.float32)))
        return spectral

    @property
    def k(self) -> int:
        return int(self.basis.shape[1])

    def truncated(self, k: int) -> "SpectralFilter":
        """The filter keeping only the ``k`` smoothest components."""
        spectral = SpectralFilter(self.basis.shape[0], k, self.degree_exponent)
        spectral.basis.copy_(self.basis[:, :k])
        spectral.degree.copy_(self.degree)
        return spectral

    def user_part(self, interactions: UserInteractions, weight: Tensor) -> Tensor:
        """``[num_users, k]`` unit rows: each user's items (weighted by ``weight``, one per edge) in the basis.

        A sparse (user x item) product, so no ``[num_edges, k]`` array is ever built.
        """
        known, edge_weight = self._edge_weights(interactions, weight)
        users_by_items = torch.sparse_coo_tensor(
            torch.stack([interactions.user[known], interactions.node[known]]), edge_weight,
            (interactions.num_users, self.basis.shape[0]), check_invariants=True,
        )
        return nn.functional.normalize(torch.sparse.mm(users_by_items, self.basis), dim=-1)

    def edge_rows(self, interactions: UserInteractions, weight: Tensor) -> Tensor:
        """``[num_edges, k]``: what each edge adds to its user's part (zero for queries and unknown items)."""
        known, edge_weight = self._edge_weights(interactions, weight)
        rows = torch.zeros(len(interactions), self.k)
        rows[known] = self.basis[interactions.node[known]] * edge_weight.unsqueeze(1)
        return rows

    def _edge_weights(self, interactions: UserInteractions, weight: Tensor) -> tuple[Tensor, Tensor]:
        """Which edges end at an item of the basis, and their weight times the item's degree discount."""
        known = interactions.is_item() & (interactions.node < self.basis.shape[0])
        item = interactions.node[known]
        return known, weight[known] * self.degree[item].clamp(min=1.0).pow(-self.degree_exponent)

    def item_part(self, num_items: int) -> Tensor:
        """``[num_items, k]``: item rows of ``D_I^1/2 V`` scaled to unit root-mean-square norm; later items are zero."""
        rows = self.basis * self.degree.sqrt().unsqueeze(1)
        rows = rows * rows.pow(2).sum(dim=1).mean().clamp(min=1e-12).rsqrt()
        known = min(num_items, rows.shape[0])
        out = torch.zeros(num_items, self.k)
        out[:known] = rows[:known]
        return out


def _inverse_sqrt(degree: np.ndarray) -> np.ndarray:
    return np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1e-12)), 0.0).astype(np.float32)


def _top_right_singular_vectors(matrix: sp.csr_matrix, k: int, seed: int) -> np.ndarray:
    """``[num_items, k]`` right singular vectors, largest singular value first, signs fixed.

    Time and memory grow with the matrix's non-zeros and ``num_items x k``, never with
    ``num_users x num_items`` (except below ``DENSE_SVD_CELLS``).
    """
    if matrix.shape[0] * matrix.shape[1] <= DENSE_SVD_CELLS:
        _, _, vt = np.linalg.svd(matrix.toarray(), full_matrices=False)
        basis = vt[:k].T
    else:
        gram = (matrix.T @ matrix).tocsr()
        num_items = gram.shape[0]
        if num_items <= DENSE_GRAM_ITEMS:
            _, vectors = scipy.linalg.eigh(gram.toarray(), subset_by_index=[num_items - k, num_items - 1])
        else:
            vectors = _randomised_top_eigenvectors(gram, k, seed)
        basis = vectors[:, ::-1]
    # A singular vector's sign is arbitrary; fix it so that refits give the same vectors.
    signs = np.sign(basis[np.abs(basis).argmax(axis=0), np.arange(basis.shape[1])])
    return np.ascontiguousarray(basis * np.where(signs == 0, 1.0, signs), dtype=np.float32)


def _randomised_top_eigenvectors(gram: sp.csr_matrix, k: int, seed: int) -> np.ndarray:
    """The top-``k`` eigenvectors of a symmetric PSD sparse matrix, smallest eigenvalue first (as eigh)."""
    width = min(gram.shape[0], k + RANDOMISED_OVERSAMPLING)
    basis = np.random.default_rng(seed).standard_normal((gram.shape[0], width)).astype(np.float32)
    basis, _ = np.linalg.qr(basis)
    for _ in range(RANDOMISED_POWER_ITERATIONS):
        basis, _ = np.linalg.qr(gram @ basis)
    _, vectors = np.linalg.eigh(basis.T @ (gram @ basis))
    return basis @ vectors[:, width - k:]
