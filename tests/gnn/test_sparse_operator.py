"""A constant sparse operator with its transpose kept: products and gradients as the dense matrix gives."""
from __future__ import annotations

import torch

from personagraph.gnn.profile_model import co_occurrence_tile_users
from personagraph.gnn.sparse_operator import SparseOperator


def _dense(rows: torch.Tensor, columns: torch.Tensor, values: torch.Tensor, shape: tuple[int, int]) -> torch.Tensor:
    return torch.zeros(shape, dtype=torch.float64).index_put_((rows, columns), values.double(), accumulate=True)


def test_a_pair_is_each_matrix_and_repeated_pairs_add_up():
    rows = torch.tensor([0, 2, 2, 1, 2, 0])
    columns = torch.tensor([3, 1, 1, 0, 4, 3])  # (2, 1) and (0, 3) twice
    forward_values = torch.tensor([0.5, 1.0, 2.0, 3.0, 4.0, 0.25])
    backward_values = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    forward, backward = SparseOperator.pair(rows, columns, forward_values, backward_values, 4, 5)
    expected_forward = _dense(rows, columns, forward_values, (4, 5))
    expected_backward = _dense(columns, rows, backward_values, (5, 4))
    torch.testing.assert_close(forward.matrix.to_dense().double(), expected_forward)
    torch.testing.assert_close(forward.transpose.to_dense().double(), expected_forward.T)
    torch.testing.assert_close(backward.matrix.to_dense().double(), expected_backward)
    torch.testing.assert_close(backward.transpose.to_dense().double(), expected_backward.T)
    assert forward.transpose.col_indices().data_ptr() == backward.matrix.col_indices().data_ptr()  # shared


def test_the_gradient_is_the_dense_products():
    generator = torch.Generator().manual_seed(3)
    rows = torch.randint(0, 30, (200,), generator=generator)
    columns = torch.randint(0, 20, (200,), generator=generator)
    values = torch.rand(200, generator=generator)
    forward, backward = SparseOperator.pair(rows, columns, values, 2 * values, 30, 20)
    x = torch.randn(20, 4, dtype=torch.float32, requires_grad=True)
    weight = torch.randn(20, 4)
    ((backward @ (forward @ x)) * weight).sum().backward()
    a, b = _dense(rows, columns, values, (30, 20)), _dense(columns, rows, 2 * values, (20, 30))
    reference = x.detach().double().requires_grad_()
    ((b @ (a @ reference)) * weight.double()).sum().backward()
    torch.testing.assert_close(x.grad.double(), reference.grad, rtol=1e-5, atol=1e-5)


def test_no_pairs_give_zero_operators():
    empty = torch.zeros(0, dtype=torch.long)
    forward, backward = SparseOperator.pair(empty, empty, torch.zeros(0), torch.zeros(0), 3, 2)
    x = torch.ones(2, 5, requires_grad=True)
    (forward @ x).sum().backward()
    assert torch.equal(forward @ x.detach(), torch.zeros(3, 5)) and torch.equal(x.grad, torch.zeros(2, 5))
    assert torch.equal(backward @ torch.ones(3, 5), torch.zeros(2, 5))


def test_the_number_of_co_occurrence_tiles_stays_bounded_as_the_shop_grows():
    """Each tile writes an ``[items, dim]`` block: with users ∝ items, a bounded tile count keeps that linear."""
    import math

    tiles = [math.ceil(10 * items / co_occurrence_tile_users(items)) for items in (10_000, 100_000, 10_000_000)]
    assert max(tiles) <= 5 and tiles[0] == 1
