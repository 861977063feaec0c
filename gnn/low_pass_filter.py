"""A low-pass filter of the normalised item-item graph, the closed-form recommenders' signal.

The filters that hold the record on the public ID-only benchmarks (GF-CF, BSPM, ChebyCF) score
an item for a user by passing the user's items through a smooth function of the normalised
co-occurrence graph ``P = R~^T R~`` (``R~ = D_u^-1/2 R D_i^-1/2``, eigenvalues in [0, 1]): keep
the low frequencies (eigenvalues near 1), damp the high ones. Here the function is a Chebyshev
polynomial (ChebyCF, Kim et al., 2025) that follows a plateau (1 at the top, 1/2 in the middle,
0 at the bottom), plus a weight on the ``ideal_rank`` leading singular directions. A polynomial
of degree ``order`` costs ``2 * order`` sparse products over the interactions: linear in them,
but over every item at once, which is why :data:`LOW_PASS_MAX_MULTIPLY_ADDS` bounds where it is
tried. The profile vectors keep a few hundred directions of the same graph; this filter keeps
the whole spectrum, so ranking may add it as a neighbour table (each item's strongest items).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from personagraph.graph.item_neighbours import ItemNeighbours
from personagraph.gnn.spectral_filter import _inverse_sqrt, _top_right_singular_vectors

#: Multiply-adds of a whole item table (``2 * order * interactions * items``) above which the
#: filter is not tried: about three minutes on two cores; a million-user shop is far above it.
LOW_PASS_MAX_MULTIPLY_ADDS = 1e12
#: Columns the polynomial's sparse products run on at a time: each non-zero gathers a row of the
#: signal, and narrow rows stay in the CPU's caches (a block of ~500 columns at once runs at about half
#: the speed).
POLYNOMIAL_COLUMNS = 32


@dataclass(frozen=True)
class LowPassSettings:
    """The filter's shape: polynomial degree, plateau sharpness, the ideal part's rank and weight,
    and the item-degree exponent ``b`` of the scores (``r D^-b  filter  D^b``: how much popular
    items are favoured)."""

    order: int = 8
    flatness: float = 1.5
    ideal_rank: int = 512
    ideal_weight: float = 0.2
    degree_exponent: float = 0.4

    def coefficients(self) -> np.ndarray:
        """Chebyshev coefficients (``order + 1``) interpolating :meth:`target` at the Chebyshev nodes
        of ``x = 1 - 2 * eigenvalue``."""
        count = self.order + 1
        nodes = np.cos((np.arange(count) + 0.5) * math.pi / count)
        values = self.target((1.0 - nodes) / 2.0)
        basis = np.cos(np.outer(np.arange(count), np.arccos(nodes)))  # T_k(node_j)
        coefficients = basis @ values * (2.0 / count)
        coefficients[0] /= 2.0
        return coefficients

    def target(self, eigenvalue: np.ndarray) -> np.ndarray:
        """The plateau the polynomial follows: 1 at eigenvalue 1, 1/2 at 1/2, 0 at 0."""
        x = 1.0 - 2.0 * np.asarray(eigenvalue, dtype=np.float64)
        return np.where(x < 0, 0.5 + 0.5 * np.abs(x) ** self.flatness, 0.5 - 0.5 * np.abs(x) ** self.flatness)

    def response(self, eigenvalue: np.ndarray) -> np.ndarray:
        """The polynomial part's gain at ``eigenvalue`` of ``P`` (for checking the shape)."""
        x = 1.0 - 2.0 * np.asarray(eigenvalue, dtype=np.float64)
        return np.polynomial.chebyshev.chebval(x, self.coefficients())


class LowPassFilter:
    """The filter fitted on one interaction matrix (users x items; any non-zero is one interaction)."""

    def __init__(self, interactions: sp.spmatrix, settings: LowPassSettings = LowPassSettings(), seed: int = 0):
        binary = sp.csr_matrix(interactions, dtype=np.float32, copy=True)
        binary.data[:] = 1.0
        self.settings = settings
        self.num_items = binary.shape[1]
        item_degree = np.asarray(binary.sum(axis=0)).ravel()
        user_degree = np.asarray(binary.sum(axis=1)).ravel()
        normalised = (sp.diags(_inverse_sqrt(user_degree)) @ binary @ sp.diags(_inverse_sqrt(item_degree))).tocsr()
        normalised = normalised.astype(np.float32)
        self._forward = _torch_csr(normalised)
        self._backward = _torch_csr(normalised.T.tocsr())
        rank = min(settings.ideal_rank, max(min(binary.shape) - 1, 0))
        basis = (_top_right_singular_vectors(normalised, rank, seed)[0] if rank and settings.ideal_weight
                 else np.zeros((self.num_items, 0), np.float32))
        self._ideal = torch.from_numpy(basis)
        present = item_degree > 0
        exponent = settings.degree_exponent
        self._pre = torch.from_numpy(np.where(present, np.maximum(item_degree, 1) ** -exponent, 0).astype(np.float32))
        self._post = torch.from_numpy(np.where(present, np.maximum(item_degree, 1) ** exponent, 0).astype(np.float32))
        self._coefficients = [float(c) for c in settings.coefficients()]

    @staticmethod
    def affordable(interactions: int, items: int, order: int = LowPassSettings.order) -> bool:
        """Whether a whole item table stays under :data:`LOW_PASS_MAX_MULTIPLY_ADDS`."""
        return 2.0 * order * interactions * items <= LOW_PASS_MAX_MULTIPLY_ADDS

    def _apply(self, signal: Tensor, projection: Tensor | None = None) -> Tensor:
        """``filter @ signal`` for ``[items, B]`` columns: the polynomial part, :data:`POLYNOMIAL_COLUMNS`
        columns at a time, plus the ideal part from ``projection`` (``basis^T @ signal``, given when the
        caller has it cheaper), a dense product that is fastest over all columns at once."""
        out = torch.empty_like(signal)
        for start in range(0, signal.shape[1], POLYNOMIAL_COLUMNS):
            out[:, start:start + POLYNOMIAL_COLUMNS] = self._polynomial(
                signal[:, start:start + POLYNOMIAL_COLUMNS].contiguous())
        if self._ideal.shape[1]:
            projection = self._ideal.T @ signal if projection is None else projection
            out += self.settings.ideal_weight * (self._ideal @ projection)
        return out

    def _polynomial(self, signal: Tensor) -> Tensor:
        """The Chebyshev polynomial of ``x = I - 2P`` applied to ``signal``'s columns."""
        # T_{k+1} = 2 x T_k - T_{k-1} with x = I - 2P and P = R~^T R~: one addmm per step.
        previous = signal
        current = torch.addmm(signal, self._backward, self._forward @ signal, alpha=-2.0)
        out = self._coefficients[0] * previous
        out.add_(current, alpha=self._coefficients[1])
        for coefficient in self._coefficients[2:]:
            following = torch.addmm(previous, self._backward, self._forward @ current, beta=-1.0, alpha=-4.0)
            following.add_(current, alpha=2.0)
            previous, current = current, following
            out.add_(current, alpha=coefficient)
        return out

    def scores(self, history: sp.spmatrix) -> Tensor:
        """``[users, items]`` filtered scores of the rows of ``history`` (users x items, weighted as
        the caller likes, e.g. by recency)."""
        rows = torch.from_numpy(np.asarray(sp.csr_matrix(history, dtype=np.float32).toarray()))
        return (self._apply((rows * self._pre).T.contiguous()).T * self._post).contiguous()

    def neighbours(self, k: int) -> ItemNeighbours:
        """Each item's ``k`` strongest other items under the filter (``k``-wide rows of the item x
        item matrix ``D^-b filter D^b``; entries below 0, a polynomial's ripple, count as none)."""

        def strengths(start: int, stop: int) -> np.ndarray:
            rows = torch.arange(start, stop)
            signal = torch.zeros(self.num_items, stop - start)
            signal[rows, rows - start] = self._pre[start:stop]
            projection = (self._ideal[start:stop] * self._pre[start:stop, None]).T  # signal is one-hot
            return (self._apply(signal, projection) * self._post[:, None]).T.numpy()

        return ItemNeighbours.from_blocks(self.num_items, k, strengths)


def _torch_csr(matrix: sp.csr_matrix) -> Tensor:
    with warnings.catch_warnings():  # "CSR support is in beta": the products used here are stable
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(torch.from_numpy(matrix.indptr.astype(np.int64)),
                                       torch.from_numpy(matrix.indices.astype(np.int64)),
                                       torch.from_numpy(matrix.data), matrix.shape, check_invariants=False)
