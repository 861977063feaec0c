"""A constant sparse matrix that the model multiplies by trainable states, with its transpose kept.

Autograd's backward of ``torch.sparse.mm(A, x)`` needs ``Aᵀ @ grad``; for a compressed-rows (CSR)
``A`` torch builds ``Aᵀ`` on every backward pass, a sort of all its entries. The propagation
operators are the same for every step of an epoch, so the transpose is built once with them, and
the operators that come in pairs (users → items and items → users; previous and following item)
share their index arrays with each other's transpose.
"""
from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor


class SparseOperator:
    """``matrix`` (CSR, constant) and ``transpose`` (its transpose, CSR): ``operator @ x`` is
    ``matrix @ x`` with gradient ``transpose @ grad`` for ``x`` and none for the operator."""

    def __init__(self, matrix: Tensor, transpose: Tensor) -> None:
        self.matrix = matrix
        self.transpose = transpose

    def __matmul__(self, x: Tensor) -> Tensor:
        return _ConstantProduct.apply(self.matrix, self.transpose, x)

    @classmethod
    def pair(cls, rows: Tensor, columns: Tensor, forward_values: Tensor, backward_values: Tensor,
             num_rows: int, num_columns: int) -> tuple["SparseOperator", "SparseOperator"]:
        """Two operators over the same pairs ``(rows[i], columns[i])``, repeated pairs adding up:

        ``[num_rows, num_columns]`` with ``forward_values`` at ``(rows, columns)``, and
        ``[num_columns, num_rows]`` with ``backward_values`` at ``(columns, rows)``. Each one's
        transpose has the other's sparsity pattern, so it shares the other's index arrays.
        """
        values = torch.stack([forward_values.float(), backward_values.float()], dim=1)
        forward, backward_t = _csr_pair(rows, columns, values, num_rows, num_columns)
        forward_t, backward = _csr_pair(columns, rows, values, num_columns, num_rows)
        return cls(forward, forward_t), cls(backward, backward_t)


class _ConstantProduct(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, matrix: Tensor, transpose: Tensor, x: Tensor) -> Tensor:
        ctx.transpose = transpose
        return torch.sparse.mm(matrix, x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, None, Tensor]:
        return None, None, torch.sparse.mm(ctx.transpose, grad.contiguous())


def _csr_pair(rows: Tensor, columns: Tensor, values: Tensor, num_rows: int,
              num_columns: int) -> tuple[Tensor, Tensor]:
    """Two CSR matrices over one index array: ``values[:, 0]`` and ``values[:, 1]`` at ``(rows, columns)``.

    Compressed rows: torch's CSR product, forward and backward, is faster than the coordinate
    format's for these operators (docs/BENCHMARKS.md, scale section).
    """
    coalesced = torch.sparse_coo_tensor(torch.stack([rows, columns]), values, (num_rows, num_columns, 2),
                                        check_invariants=False).coalesce()
    row, column = coalesced.indices()[0], coalesced.indices()[1].clone()  # the row array is not kept
    summed = coalesced.values()
    crow = torch.zeros(num_rows + 1, dtype=torch.long)
    torch.cumsum(torch.bincount(row, minlength=num_rows), dim=0, out=crow[1:])
    with warnings.catch_warnings():  # torch labels CSR "beta" once per process; nobody running us can act on it
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta state", category=UserWarning)
        return tuple(torch.sparse_csr_tensor(crow, column, summed[:, part].contiguous(), (num_rows, num_columns),
                                             check_invariants=False) for part in (0, 1))
