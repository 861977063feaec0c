import numpy as np
import pytest

from personagraph.errors import PersonaGraphError
from personagraph.profiles.search_projection import SearchProjection


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def low_rank_profiles(users: int = 500, width: int = 60, rank: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return unit(rng.standard_normal((users, rank)) @ rng.standard_normal((rank, width)))


def test_the_directions_are_orthonormal():
    projection = SearchProjection.fit(np.random.default_rng(1).standard_normal((300, 40)), dim=12)
    assert projection.components.shape == (12, 40)
    np.testing.assert_allclose(projection.components @ projection.components.T, np.eye(12), atol=1e-5)


def test_the_same_seed_gives_the_same_projection_and_another_sample_another_one():
    vectors = np.random.default_rng(2).standard_normal((400, 30))
    first = SearchProjection.fit(vectors, dim=5, seed=3, sample_size=200)
    again = SearchProjection.fit(vectors, dim=5, seed=3, sample_size=200)
    other = SearchProjection.fit(vectors, dim=5, seed=4, sample_size=200)
    np.testing.assert_array_equal(first.components, again.components)
    assert not np.allclose(np.abs(first.components), np.abs(other.components), atol=1e-3)


def test_cosines_are_exact_when_the_width_covers_the_profiles_rank():
    vectors = low_rank_profiles(rank=6)
    projection = SearchProjection.fit(vectors, dim=8)
    searched = projection.apply(vectors)
    np.testing.assert_allclose(np.linalg.norm(searched, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(searched @ searched.T, vectors @ vectors.T, atol=1e-4)
    assert projection.energy_kept == pytest.approx(1.0, abs=1e-6)


def test_the_top_directions_keep_most_of_a_decaying_spectrum():
    rng = np.random.default_rng(5)
    vectors = unit(rng.standard_normal((2000, 80)) * (0.8 ** np.arange(80)))
    projection = SearchProjection.fit(vectors, dim=10)
    exact = np.linalg.svd(vectors, compute_uv=False)
    assert projection.energy_kept == pytest.approx(float((exact[:10] ** 2).sum() / (exact ** 2).sum()), abs=1e-3)


def test_save_and_load_give_the_same_projection(tmp_path):
    projection = SearchProjection.fit(low_rank_profiles(), dim=4, seed=7)
    loaded = SearchProjection.load(projection.save(tmp_path / "search_projection.npz"))
    np.testing.assert_array_equal(loaded.components, projection.components)
    assert (loaded.energy_kept, loaded.sample_size, loaded.seed) == (projection.energy_kept, 500, 7)
    assert loaded.summary() == projection.summary() and loaded.summary()["dim"] == 4


def test_a_damaged_file_is_one_clear_error(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a projection")
    with pytest.raises(PersonaGraphError, match="train again"):
        SearchProjection.load(tmp_path / "bad.npz")


def test_the_rule_leaves_narrow_profiles_and_small_shops_exact():
    vectors = low_rank_profiles(users=300, width=60)
    assert SearchProjection.for_profiles(vectors, dim=60, min_users=0) is None  # not wider than the search vector
    assert SearchProjection.for_profiles(vectors, dim=16, min_users=301) is None  # too few users
    assert SearchProjection.for_profiles(vectors, dim=16, min_users=300).dim == 16


def test_vectors_of_another_width_are_refused():
    projection = SearchProjection.fit(low_rank_profiles(width=60), dim=4)
    with pytest.raises(PersonaGraphError, match="60-d"):
        projection.apply(np.ones((2, 61)))
