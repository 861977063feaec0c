"""A training-free low-pass filter of the user–item graph: the structural part of a profile.

The top-k right singular vectors ``V`` (singular values ``σ``) of the degree-normalised
interaction matrix ``D_U^-1/2 R D_I^-1/2`` are the smoothest item signals on the graph; ``σ²``
are the eigenvalues of the normalised item–item graph ``P = V Σ² V^T``. Graph-filter
recommenders (GF-CF, BSPM, ChebyCF) score a user's items through a function ``h`` of that
spectrum plus degree normalisations; in embedding form that is a k-wide user part (the
attention-weighted sum of the user's items' rows of ``D_I^-a V``) and a k-wide item part
(``D_I^b V diag(h(σ))``), so it sits beside the GNN's vectors in one dot product. The shape
(``a``, ``b``, and ``h(σ) = σ^(2p) · σ² / (σ² + λ)``: ``p = λ = 0`` is GF-CF's ideal low-pass
filter, ``p = 1`` its linear filter ``P`` truncated to k components, ``λ > 0`` the ridge-regularised
item-item regression of the linear autoencoders (EASE, written on the normalised graph): it damps
the weak components smoothly instead of cutting them) is not one recipe for every shop: the
trainer chooses it, and the width k, on validation. Only the item part carries ``h`` and ``b``, so a
user's part stays a sum over their edges and new users and new events need no refit. The
filter is fitted once, from the training graph; items that arrive later have no row: they
rely on the GNN.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from personagraph.gnn.train_config import (APPROXIMATE_SPECTRAL_DIM, EXACT_SPECTRAL_DIM, ITEM_DEGREE_EXPONENT,
                                           SPECTRAL_MEMORY_BYTES, SPECTRAL_POWER, SPECTRAL_RIDGE,
                                           USER_DEGREE_EXPONENT)
from personagraph.gnn.user_interactions import UserInteractions

#: Matrices with at most this many cells are decomposed densely (exact, and any k works).
DENSE_SVD_CELLS = 4_000_000
#: Above that, the singular vectors come from the smaller Gram matrix: the users' ``R R^T``
#: (exact, all components, for shops with few users) or the items' ``R^T R``, decomposed densely
#: (exact) up to this size; beyond it (items only) a randomised solver on products ``R^T (R X)``,
#: which never forms the item Gram matrix.
DENSE_GRAM_ITEMS = 8192
#: The widest basis (items x components) the default width allows an exact decomposition (512 MB).
MAX_EXACT_BASIS_CELLS = 1 << 27
#: The randomised eigen-solver's extra columns and power iterations (Halko et al., 2011).
RANDOMISED_OVERSAMPLING = 64
RANDOMISED_POWER_ITERATIONS = 4
#: Columns of the block ``R^T (R X)`` is computed for at a time: a block of ``R X`` is
#: ``users x columns``, and narrow blocks keep the rows each non-zero touches in cache.
GRAM_PRODUCT_COLUMNS = 128


class SpectralFilter(nn.Module):
    """``basis``: ``[num_items, k]`` singular vectors; ``values``: their singular values (largest first);
    ``degree``: each item's training interactions.

    The shape: ``degree_exponent`` is ``a`` above (a user's part weighs each of their items by
    ``degree ** -a``), ``item_degree_exponent`` is ``b``, ``power`` is ``p`` and ``ridge`` is ``λ``.
    Checkpoints from before the values were kept load with ``values`` = 1, which with their
    ``p = λ = 0`` is the filter they always had.
    """

    def __init__(self, num_items: int, k: int, degree_exponent: float = USER_DEGREE_EXPONENT,
                 item_degree_exponent: float = ITEM_DEGREE_EXPONENT, power: float = SPECTRAL_POWER,
                 ridge: float = SPECTRAL_RIDGE) -> None:
        super().__init__()
        self.degree_exponent = float(degree_exponent)
        self.item_degree_exponent = float(item_degree_exponent)
        self.power = float(power)
        self.ridge = float(ridge)
        self.register_buffer("basis", torch.zeros(num_items, k))
        self.register_buffer("values", torch.ones(k))
        self.register_buffer("degree", torch.zeros(num_items))

    @staticmethod
    def default_width(num_users: int, num_items: int) -> int:
        """Components fitted when the config leaves the width open.

        Every component an exact decomposition gives (up to ``EXACT_SPECTRAL_DIM``) when one side of
        the graph is small enough for it; otherwise ``APPROXIMATE_SPECTRAL_DIM`` from the randomised
        solver, whose cost grows with the width. On shops with very many users, at most the power of
        two whose columns for every user fit ``SPECTRAL_MEMORY_BYTES`` (at least one component).
        """
        exact = num_users * num_items <= DENSE_SVD_CELLS or min(num_users, num_items) <= DENSE_GRAM_ITEMS
        small_basis = num_items * EXACT_SPECTRAL_DIM <= MAX_EXACT_BASIS_CELLS
        width = EXACT_SPECTRAL_DIM if exact and small_basis else APPROXIMATE_SPECTRAL_DIM
        affordable = SPECTRAL_MEMORY_BYTES // (4 * max(num_users, 1))
        return min(width, 1 << max(int(affordable).bit_length() - 1, 0))

    @classmethod
    def fit(cls, interactions: UserInteractions, num_items: int, k: int | None, seed: int = 0,
            degree_exponent: float = USER_DEGREE_EXPONENT, item_degree_exponent: float = ITEM_DEGREE_EXPONENT,
            power: float = SPECTRAL_POWER, ridge: float = SPECTRAL_RIDGE) -> "SpectralFilter | None":
        """The top-``k`` filter of the user→item edges (each pair once); ``None`` when the graph is too small.

        ``k=None``: :meth:`default_width`.
        """
        if k is None:
            k = cls.default_width(interactions.num_users, num_items)
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
        basis, values = _top_right_singular_vectors(normalised.tocsr(), k, seed)
        spectral = cls(num_items, basis.shape[1], degree_exponent, item_degree_exponent, power, ridge)
        spectral.basis.copy_(torch.from_numpy(basis))
        spectral.values.copy_(torch.from_numpy(values))
        spectral.degree.copy_(torch.from_numpy(item_degree.astype(np.float32)))
        return spectral

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # noqa: ANN001
        # Before the singular values were kept, the filter was ideal (p = 0): any values give it.
        if prefix + "basis" in state_dict and prefix + "values" not in state_dict:
            state_dict[prefix + "values"] = torch.ones(state_dict[prefix + "basis"].shape[1])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @property
    def k(self) -> int:
        return int(self.basis.shape[1])

    @property
    def shape(self) -> dict[str, float]:
        """The settings the trainer chooses on validation (besides the width ``k``)."""
        return {"user_degree_exponent": self.degree_exponent, "item_degree_exponent": self.item_degree_exponent,
                "spectral_power": self.power, "spectral_ridge": self.ridge}

    def reshaped(self, k: int | None = None, degree_exponent: float | None = None,
                 item_degree_exponent: float | None = None, power: float | None = None,
                 ridge: float | None = None) -> "SpectralFilter":
        """This filter with the ``k`` smoothest components and the given shape (``None`` keeps a setting)."""
        k = self.k if k is None else k
        spectral = SpectralFilter(
            self.basis.shape[0], k,
            self.degree_exponent if degree_exponent is None else degree_exponent,
            self.item_degree_exponent if item_degree_exponent is None else item_degree_exponent,
            self.power if power is None else power,
            self.ridge if ridge is None else ridge,
        )
        spectral.basis.copy_(self.basis[:, :k])
        spectral.values.copy_(self.values[:k])
        spectral.degree.copy_(self.degree)
        return spectral

    def truncated(self, k: int) -> "SpectralFilter":
        """The filter keeping only the ``k`` smoothest components."""
        return self.reshaped(k)

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

    def response(self) -> Tensor:
        """``[k]``: the filter's gain ``h(σ) = σ^(2p) · σ² / (σ² + λ)`` per component (all 1 for the ideal
        filter, ``p = λ = 0``)."""
        values = self.values.clamp(min=0.0)
        gain = torch.ones(self.k) if self.power == 0.0 else values.pow(2.0 * self.power)
        if self.ridge > 0.0:
            gain = gain * values.pow(2) / (values.pow(2) + self.ridge)
        return gain

    def item_part(self, num_items: int) -> Tensor:
        """``[num_items, k]``: item rows of ``D_I^b V diag(h(σ))`` scaled to unit root-mean-square norm; later items
        are zero.

        Only items' degrees count here (items without training interactions get a zero row).
        """
        scale = torch.where(self.degree > 0, self.degree.clamp(min=1e-12).pow(self.item_degree_exponent), 0.0)
        rows = self.basis * scale.unsqueeze(1) * self.response()
        rows = rows * rows.pow(2).sum(dim=1).mean().clamp(min=1e-12).rsqrt()
        known = min(num_items, rows.shape[0])
        out = torch.zeros(num_items, self.k)
        out[:known] = rows[:known]
        return out


def _inverse_sqrt(degree: np.ndarray) -> np.ndarray:
    return np.where(degree > 0, 1.0 / np.sqrt(np.maximum(degree, 1e-12)), 0.0).astype(np.float32)


def _top_right_singular_vectors(matrix: sp.csr_matrix, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``[num_items, k]`` right singular vectors, largest singular value first, signs fixed, and their values.

    Time and memory grow with the matrix's non-zeros and ``num_items x k``, never with
    ``num_users x num_items`` (except below ``DENSE_SVD_CELLS``). With at most ``DENSE_GRAM_ITEMS``
    users, the users' Gram matrix gives every component exactly (``V = R^T U / σ``).
    """
    num_users, num_items = matrix.shape
    if num_users * num_items <= DENSE_SVD_CELLS:
        _, values, vt = np.linalg.svd(matrix.toarray(), full_matrices=False)
        basis, values = vt[:k].T, values[:k]
    elif num_users <= DENSE_GRAM_ITEMS and num_users < num_items:
        eigenvalues, vectors = scipy.linalg.eigh((matrix @ matrix.T).toarray().astype(np.float64),
                                                 subset_by_index=[num_users - k, num_users - 1])
        values = np.sqrt(np.maximum(eigenvalues[::-1], 0.0))
        keep = values > values[0] * 1e-6 if values.size and values[0] > 0 else values > 0
        values = values[keep]  # a null direction has no right singular vector
        basis = (matrix.T @ vectors[:, ::-1][:, keep]) / values
    else:
        if num_items <= DENSE_GRAM_ITEMS:
            gram = (matrix.T @ matrix).toarray()
            eigenvalues, vectors = scipy.linalg.eigh(gram, subset_by_index=[num_items - k, num_items - 1])
        else:
            eigenvalues, vectors = _randomised_top_eigenvectors(matrix, k, seed)
        basis, values = vectors[:, ::-1], np.sqrt(np.maximum(eigenvalues[::-1], 0.0))
    # A singular vector's sign is arbitrary; fix it so that refits give the same vectors.
    signs = np.sign(basis[np.abs(basis).argmax(axis=0), np.arange(basis.shape[1])])
    return (np.ascontiguousarray(basis * np.where(signs == 0, 1.0, signs), dtype=np.float32),
            np.ascontiguousarray(values, dtype=np.float32))


def _randomised_top_eigenvectors(matrix: sp.csr_matrix, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The top-``k`` eigenvalues and eigenvectors of ``R^T R`` (``R`` = ``matrix``), smallest first (as eigh).

    Subspace iteration (Halko et al., 2011) on products ``R^T (R X)``: never forms the item Gram
    matrix, whose non-zeros (co-occurring pairs) outnumber ``R``'s many times over, so time and
    memory stay linear in ``R``'s non-zeros. Intermediate iterations are normalised by an LU
    factorisation (as scikit-learn's ``randomized_range_finder``), the last by a QR, all in float32.
    """
    width = min(matrix.shape[1], k + RANDOMISED_OVERSAMPLING)
    transposed = matrix.T.tocsr()
    basis = np.random.default_rng(seed).standard_normal((matrix.shape[1], width), dtype=np.float32)
    for iteration in range(RANDOMISED_POWER_ITERATIONS):
        product = _gram_product(matrix, transposed, basis)
        if iteration < RANDOMISED_POWER_ITERATIONS - 1:
            basis, _ = scipy.linalg.lu(product, permute_l=True, overwrite_a=True, check_finite=False)
        else:
            basis, _ = scipy.linalg.qr(product, mode="economic", overwrite_a=True, check_finite=False)
        del product
    projected = (basis.T @ _gram_product(matrix, transposed, basis)).astype(np.float64)
    eigenvalues, vectors = np.linalg.eigh((projected + projected.T) / 2)
    return eigenvalues[width - k:], basis @ vectors[:, width - k:].astype(np.float32)


def _gram_product(matrix: sp.csr_matrix, transposed: sp.csr_matrix, block: np.ndarray) -> np.ndarray:
    """``R^T (R block)``, ``GRAM_PRODUCT_COLUMNS`` columns at a time."""
    product = np.empty(block.shape, dtype=np.float32)
    for start in range(0, block.shape[1], GRAM_PRODUCT_COLUMNS):
        columns = np.ascontiguousarray(block[:, start:start + GRAM_PRODUCT_COLUMNS])
        product[:, start:start + GRAM_PRODUCT_COLUMNS] = transposed @ (matrix @ columns)
    return product
