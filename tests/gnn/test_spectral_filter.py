import numpy as np
import pytest
import torch

from personagraph.gnn import spectral_filter
from personagraph.gnn.spectral_filter import SpectralFilter
from personagraph.gnn.user_interactions import UserInteractions


def random_interactions(num_users=30, num_items=20, density=0.25, seed=0):
    rng = np.random.default_rng(seed)
    matrix = rng.random((num_users, num_items)) < density
    matrix[np.arange(num_users), rng.integers(0, num_items, num_users)] = True  # nobody is empty
    user, item = np.nonzero(matrix)
    n = user.size
    interactions = UserInteractions(
        user=torch.from_numpy(user), node=torch.from_numpy(item), kind=torch.zeros(n, dtype=torch.long),
        count=torch.ones(n), last_ts=torch.zeros(n, dtype=torch.float64), num_users=num_users,
    )
    return interactions, matrix.astype(np.float64)


def ideal_low_pass_scores(matrix, k, a):
    """GF-CF's ideal low-pass filter written out: r_u D^-a V V^T D^1/2 (GF-CF: a = 1/2)."""
    du, di = matrix.sum(1), matrix.sum(0)
    normalised = matrix / np.sqrt(du)[:, None] / np.sqrt(di)[None, :]
    v = np.linalg.svd(normalised)[2][:k].T
    return (matrix * di ** -a) @ v @ v.T * np.sqrt(di)


@pytest.mark.parametrize("exponent", [spectral_filter.USER_DEGREE_EXPONENT, 0.5], ids=["default", "gf-cf"])
def test_user_times_item_part_ranks_like_the_ideal_low_pass_filter(exponent):
    interactions, matrix = random_interactions()
    spectral = SpectralFilter.fit(interactions, matrix.shape[1], k=5, degree_exponent=exponent)
    uniform = torch.ones(len(interactions))
    scores = (spectral.user_part(interactions, uniform) @ spectral.item_part(matrix.shape[1]).T).numpy()
    expected = ideal_low_pass_scores(matrix, 5, exponent)
    # Same scores up to a positive factor per user (user normalisation, item scaling).
    ratio = scores / expected
    np.testing.assert_allclose(ratio, ratio[:, :1].repeat(matrix.shape[1], 1), rtol=1e-3)
    assert (ratio > 0).all()


@pytest.mark.parametrize("gram_items", [spectral_filter.DENSE_GRAM_ITEMS, 0], ids=["dense-gram", "randomised"])
def test_sparse_and_dense_decompositions_agree(monkeypatch, gram_items):
    interactions, matrix = random_interactions(num_users=60, num_items=40)
    dense = SpectralFilter.fit(interactions, 40, k=6)
    monkeypatch.setattr(spectral_filter, "DENSE_SVD_CELLS", 0)
    monkeypatch.setattr(spectral_filter, "DENSE_GRAM_ITEMS", gram_items)
    sparse = SpectralFilter.fit(interactions, 40, k=6)
    np.testing.assert_allclose(sparse.basis.numpy(), dense.basis.numpy(), atol=1e-4)
    gram = dense.basis.T @ dense.basis
    torch.testing.assert_close(gram, torch.eye(6), atol=1e-5, rtol=0)


def test_items_beyond_the_basis_and_width_limits():
    interactions, matrix = random_interactions(num_users=5, num_items=8)
    spectral = SpectralFilter.fit(interactions, 8, k=50)
    assert spectral.k == 4  # at most min(users, items) - 1 components
    item_part = spectral.item_part(10)
    assert item_part.shape == (10, 4) and torch.all(item_part[8:] == 0)
    narrow = spectral.truncated(2)
    assert torch.equal(narrow.basis, spectral.basis[:, :2]) and torch.equal(narrow.degree, spectral.degree)
    # Edges to items the filter does not know add nothing.
    with_unknown = UserInteractions(
        user=torch.cat([interactions.user, torch.tensor([0])]), node=torch.cat([interactions.node, torch.tensor([9])]),
        kind=torch.zeros(len(interactions) + 1, dtype=torch.long), count=torch.ones(len(interactions) + 1),
        last_ts=torch.zeros(len(interactions) + 1, dtype=torch.float64), num_users=5,
    )
    torch.testing.assert_close(spectral.user_part(with_unknown, torch.ones(len(with_unknown)))[0],
                               spectral.user_part(interactions, torch.ones(len(interactions)))[0])


def test_a_graph_too_small_to_filter_gives_none():
    interactions, _ = random_interactions(num_users=1, num_items=3)
    assert SpectralFilter.fit(interactions, 3, k=8) is None


@pytest.mark.parametrize("mix", [0.0, 0.3, 1.0])
def test_model_vectors_mix_the_two_scores(mix):
    from planted_interests import planted_shop

    from personagraph.gnn.profile_model import ProfileModel

    shop = planted_shop()
    model = ProfileModel.from_graph(shop.graph, dim=8, spectral_dim=4)
    model.set_spectral(model.spectral, mix)
    model.eval()
    with torch.no_grad():
        users, items = model.user_embeddings(shop.graph), model.item_embeddings(shop.graph)
        states = model.item_states(shop.graph)
        interactions = UserInteractions.from_graph(shop.graph)
        gnn, spectral = model.user_parts(interactions, model.pool(interactions, states,
                                                                  model.query_states(shop.graph, states)))
    assert users.shape == (users.shape[0], 13) and items.shape[1] == model.out_dim == 13
    # Unit users and items, so cosine (Neo4j's vector index) ranks as the dot product does.
    torch.testing.assert_close(users.norm(dim=1), torch.ones(users.shape[0]))
    torch.testing.assert_close(items.norm(dim=1), torch.ones(items.shape[0]))
    expected = (1 - mix) * gnn @ torch.nn.functional.normalize(states, dim=-1).T \
        + mix * spectral @ model.spectral.item_part(items.shape[0]).T
    torch.testing.assert_close(users @ items.T, expected / model.spectral_bound, atol=1e-5, rtol=1e-5)


def test_id_only_models_start_item_ids_from_the_smoothest_components():
    from planted_interests import planted_shop

    from personagraph.gnn.profile_model import ProfileModel

    shop = planted_shop(text=False)
    model = ProfileModel.from_graph(shop.graph, dim=8, spectral_dim=4)
    ids, basis = model.item_id.weight.detach(), model.spectral.basis
    torch.testing.assert_close(ids[:, :4], basis * basis.pow(2).sum(1).mean().rsqrt())  # one common scale
    assert ids.pow(2).sum(1).mean() == pytest.approx(1.0, rel=0.05)
    # Items of one planted cluster start closer to each other than to the other cluster.
    unit = torch.nn.functional.normalize(ids, dim=1)
    same = shop.item_cluster[:, None] == shop.item_cluster[None, :]
    similarity = unit @ unit.T
    assert similarity[same].mean() > similarity[~same].mean() + 0.3


def test_refit_keeps_width_mix_and_exponent_and_follows_the_new_graph():
    from planted_interests import planted_shop

    from personagraph.gnn.profile_model import ProfileModel

    shop = planted_shop()
    model = ProfileModel.from_graph(shop.graph, dim=8, spectral_dim=6, user_degree_exponent=0.5)
    model.set_spectral(model.spectral.truncated(3), 0.6)
    model.eval()
    before = model.user_embeddings(shop.graph)
    model.refit_spectral(shop.graph)  # same graph: the same filter (signs are fixed)
    torch.testing.assert_close(model.user_embeddings(shop.graph), before, atol=1e-5, rtol=0)
    other = planted_shop(seed=1).graph
    model.refit_spectral(other)
    assert model.spectral.k == 3 and float(model.spectral_mix) == pytest.approx(0.6)
    assert model.spectral.degree_exponent == 0.5 and model.hparams["user_degree_exponent"] == 0.5
    assert not torch.allclose(model.user_embeddings(shop.graph), before, atol=1e-3)


@pytest.mark.parametrize("block_columns", [spectral_filter.GRAM_PRODUCT_COLUMNS, 3], ids=["one-block", "blocks"])
def test_randomised_solver_finds_the_top_subspace_of_r_transpose_r(monkeypatch, block_columns):
    monkeypatch.setattr(spectral_filter, "GRAM_PRODUCT_COLUMNS", block_columns)
    rng = np.random.default_rng(1)
    num_users, num_items, k = 900, 400, 8
    # R with k strong directions (singular values 2k .. k+1) over a weak random rest.
    left, _ = np.linalg.qr(rng.standard_normal((num_users, k)))
    right, _ = np.linalg.qr(rng.standard_normal((num_items, k)))
    matrix = left @ np.diag(np.arange(2 * k, k, -1.0)) @ right.T + 0.01 * rng.standard_normal((num_users, num_items))
    values, vectors = spectral_filter._randomised_top_eigenvectors(
        spectral_filter.sp.csr_matrix(matrix.astype(np.float32)), k, 0)
    exact_values, exact_vectors = np.linalg.eigh(matrix.T @ matrix)
    cosines = np.linalg.svd(exact_vectors[:, -k:].T @ vectors, compute_uv=False)
    assert vectors.shape == (num_items, k) and cosines.min() > 0.999
    np.testing.assert_allclose(values, exact_values[-k:], rtol=1e-3)


def shaped_scores(matrix, k, a, b, p, ridge=0.0):
    """The filter written out: r_u D^-a V diag(σ^2p σ²/(σ²+λ)) V^T D^b (λ = 0: no ridge factor)."""
    du, di = matrix.sum(1), matrix.sum(0)
    normalised = matrix / np.sqrt(du)[:, None] / np.sqrt(di)[None, :]
    _, sigma, vt = np.linalg.svd(normalised)
    v = vt[:k].T
    gain = sigma[:k] ** (2 * p) * (sigma[:k] ** 2 / (sigma[:k] ** 2 + ridge) if ridge else 1.0)
    return (matrix * di ** -a) @ v @ np.diag(gain) @ v.T * di ** b


@pytest.mark.parametrize("a, b, p, ridge", [(0.0, 0.0, 1.0, 0.0), (0.4, 0.3, 0.25, 0.0), (0.5, 0.5, 0.0, 0.0),
                                           (0.25, 0.2, 0.0, 0.2), (0.0, 0.4, 0.5, 0.1)],
                         ids=["linear", "smooth", "ideal", "ridge", "smooth-ridge"])
def test_every_shape_scores_like_its_closed_form(a, b, p, ridge):
    interactions, matrix = random_interactions()
    spectral = SpectralFilter.fit(interactions, matrix.shape[1], k=6, degree_exponent=a, item_degree_exponent=b,
                                  power=p, ridge=ridge)
    uniform = torch.ones(len(interactions))
    scores = (spectral.user_part(interactions, uniform) @ spectral.item_part(matrix.shape[1]).T).numpy()
    ratio = scores / shaped_scores(matrix, 6, a, b, p, ridge)
    np.testing.assert_allclose(ratio, ratio[:, :1].repeat(matrix.shape[1], 1), rtol=1e-3)
    assert (ratio > 0).all()
    # Reshaping a filter gives the filter fitted with that shape.
    reshaped = SpectralFilter.fit(interactions, matrix.shape[1], k=6).reshaped(4, a, b, p, ridge)
    expected = spectral.truncated(4)
    for name in ("basis", "values", "degree"):
        torch.testing.assert_close(getattr(reshaped, name), getattr(expected, name))
    assert reshaped.shape == expected.shape == {"user_degree_exponent": a, "item_degree_exponent": b,
                                                "spectral_power": p, "spectral_ridge": ridge}


@pytest.mark.parametrize("users, items, width", [(1_892, 17_632, 2048), (30_000, 5_000, 2048), (1_500, 1_000, 2048),
                                                 (30_000, 41_000, 1024), (1_000, 200_000, 1024),
                                                 (100_000, 10_000, 1024), (1_000_000, 100_000, 256),
                                                 (10_000_000, 1_000_000, 32), (10**10, 10**6, 1)],
                         ids=["few-users", "few-items", "dense", "both-large", "basis-too-wide", "100k-users",
                              "1M-users-memory", "10M-users-memory", "at-least-one"])
def test_default_width_is_every_exact_component_up_to_the_cap(users, items, width):
    """All components where one side is small enough for an exact decomposition and the basis fits in
    memory; the randomised solver's width otherwise; bounded by the users' columns' memory."""
    assert SpectralFilter.default_width(users, items) == width


def test_a_default_width_fit_keeps_every_component_of_a_small_graph():
    interactions, matrix = random_interactions(num_users=25, num_items=60)
    assert SpectralFilter.fit(interactions, 60, k=None).k == 24 == min(matrix.shape) - 1


def test_few_users_are_decomposed_exactly_through_their_gram_matrix(monkeypatch):
    interactions, matrix = random_interactions(num_users=25, num_items=60)
    dense = SpectralFilter.fit(interactions, 60, k=30)
    monkeypatch.setattr(spectral_filter, "DENSE_SVD_CELLS", 0)
    from_users = SpectralFilter.fit(interactions, 60, k=30)
    assert from_users.k == dense.k == 24
    np.testing.assert_allclose(from_users.values.numpy(), dense.values.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(from_users.basis.numpy(), dense.basis.numpy(), atol=1e-4)
    expected = np.linalg.svd(matrix / np.sqrt(matrix.sum(1))[:, None] / np.sqrt(matrix.sum(0))[None, :],
                             compute_uv=False)[:24]
    np.testing.assert_allclose(dense.values.numpy(), expected, rtol=1e-4)


def test_a_model_saved_before_the_filter_kept_its_values_loads_and_scores_as_before():
    from planted_interests import planted_shop

    from personagraph.gnn.profile_model import ProfileModel

    shop = planted_shop()
    model = ProfileModel.from_graph(shop.graph, dim=8, spectral_dim=6)
    model.set_spectral(model.spectral, 0.5)
    model.eval()
    old_state = {name: tensor for name, tensor in model.state_dict().items() if name != "spectral.values"}
    old_hparams = {name: value for name, value in model.hparams.items()
                   if name not in ("item_degree_exponent", "spectral_power", "spectral_ridge")}
    loaded = ProfileModel(**old_hparams)
    loaded.load_state_dict(old_state)
    loaded.eval()
    assert loaded.spectral.shape == {"user_degree_exponent": 0.25, "item_degree_exponent": 0.5, "spectral_power": 0.0,
                                     "spectral_ridge": 0.0}
    torch.testing.assert_close(loaded.user_embeddings(shop.graph), model.user_embeddings(shop.graph))
    torch.testing.assert_close(loaded.item_embeddings(shop.graph), model.item_embeddings(shop.graph))


def test_the_shape_is_saved_and_kept_by_a_refit(tmp_path):
    from planted_interests import planted_shop

    from personagraph.gnn.checkpoint import load_checkpoint, save_checkpoint
    from personagraph.gnn.profile_model import ProfileModel
    from personagraph.gnn.train_config import TrainConfig

    shop = planted_shop()
    model = ProfileModel.from_graph(shop.graph, dim=8, spectral_dim=6)
    model.set_spectral(model.spectral.reshaped(4, 0.4, 0.3, 0.5, 0.2), 0.7)
    model.eval()
    loaded = load_checkpoint(save_checkpoint(tmp_path / "model.pt", model, TrainConfig(dim=8), None)).model
    assert loaded.spectral.shape == model.spectral.shape and loaded.spectral.k == 4
    torch.testing.assert_close(loaded.user_embeddings(shop.graph), model.user_embeddings(shop.graph))
    torch.testing.assert_close(loaded.item_embeddings(shop.graph), model.item_embeddings(shop.graph))
    loaded.refit_spectral(shop.graph)  # same graph: the same filter
    assert loaded.spectral.shape == model.spectral.shape and loaded.spectral.k == 4
    torch.testing.assert_close(loaded.user_embeddings(shop.graph), model.user_embeddings(shop.graph), atol=1e-5,
                               rtol=0)
