import numpy as np
import pytest
import scipy.sparse as sp
import torch

from personagraph.gnn.low_pass_filter import LOW_PASS_MAX_MULTIPLY_ADDS, LowPassFilter, LowPassSettings


def _shop(seed=0, users=40, items=25, density=0.2):
    rng = np.random.default_rng(seed)
    dense = (rng.random((users, items)) < density).astype(np.float32)
    dense[np.arange(users), rng.integers(0, items - 1, users)] = 1.0  # everyone has an item
    dense[:, -1] = 0.0  # an item nobody touched
    return sp.csr_matrix(dense)


def _dense_filter(matrix, settings):
    """The filter as the docstring defines it, from an exact eigendecomposition."""
    dense = matrix.toarray().astype(np.float64)
    user_degree, item_degree = dense.sum(1), dense.sum(0)
    inv = lambda d: np.where(d > 0, 1 / np.sqrt(np.maximum(d, 1e-12)), 0.0)
    normalised = inv(user_degree)[:, None] * dense * inv(item_degree)[None, :]
    eigenvalues, vectors = np.linalg.eigh(normalised.T @ normalised)
    polynomial = vectors @ np.diag(settings.response(np.clip(eigenvalues, 0, 1))) @ vectors.T
    top = vectors[:, ::-1][:, :settings.ideal_rank]
    whole = polynomial + settings.ideal_weight * top @ top.T
    pre = np.where(item_degree > 0, np.maximum(item_degree, 1) ** -settings.degree_exponent, 0)
    post = np.where(item_degree > 0, np.maximum(item_degree, 1) ** settings.degree_exponent, 0)
    return pre[:, None] * whole * post[None, :]


def test_the_polynomial_follows_the_plateau():
    settings = LowPassSettings()
    grid = np.linspace(0, 1, 101)
    assert np.abs(settings.response(grid) - settings.target(grid)).max() < 0.06
    assert settings.target(np.array([0.0, 0.5, 1.0])).tolist() == [0.0, 0.5, 1.0]
    assert settings.response(np.array([1.0]))[0] > 0.95 and abs(settings.response(np.array([0.0]))[0]) < 0.05


def test_scores_equal_the_dense_definition():
    matrix = _shop()
    settings = LowPassSettings(ideal_rank=5, ideal_weight=0.3)
    history = sp.csr_matrix(matrix.multiply(np.random.default_rng(1).random(matrix.shape)).astype(np.float32))
    expected = history.toarray() @ _dense_filter(matrix, settings)
    got = LowPassFilter(matrix, settings).scores(history).numpy()
    np.testing.assert_allclose(got, expected, atol=2e-4)


@pytest.mark.parametrize("k", [3, 24])
def test_neighbours_are_the_strongest_other_items_of_each_row(k, monkeypatch):
    monkeypatch.setattr("personagraph.graph.item_neighbours.BLOCK_ENTRIES", 60)  # several blocks
    matrix = _shop(2)
    settings = LowPassSettings(ideal_rank=4)
    strength = _dense_filter(matrix, settings)
    np.fill_diagonal(strength, -np.inf)
    table = LowPassFilter(matrix, settings).neighbours(k)
    k = min(k, matrix.shape[1] - 1)
    assert table.nearest.shape == (matrix.shape[1], k)
    expected = np.clip(-np.sort(-strength, axis=1)[:, :k], 0, None)
    np.testing.assert_allclose(table.similarity, expected, atol=2e-4)
    assert not (table.nearest == np.arange(matrix.shape[1])[:, None]).any()  # never itself
    assert (table.similarity[-1] == 0).all()  # the untouched item has no neighbours
    rows = np.arange(matrix.shape[1] - 1)
    got = strength[rows[:, None], table.nearest[rows]]
    np.testing.assert_allclose(np.clip(got, 0, None), table.similarity[rows], atol=2e-4)


def test_affordable_bounds_the_table_work():
    assert LowPassFilter.affordable(1_000_000, 40_000)
    assert not LowPassFilter.affordable(15_000_000, 100_000)
    assert LowPassFilter.affordable(int(LOW_PASS_MAX_MULTIPLY_ADDS / 16 / 10), 10, order=8)
