import numpy as np
import pytest
import scipy.sparse as sp

from personagraph.graph import item_neighbours
from personagraph.graph.item_neighbours import ItemNeighbours, recency_weighted

# Users x items: items 0 and 1 have the same two users; item 2 shares one of them.
SMALL = sp.csr_matrix(np.array([[1, 1, 0], [1, 1, 1], [0, 0, 1]], dtype=np.float32))


def test_neighbours_are_the_most_cosine_similar_other_items():
    table = ItemNeighbours.fit(SMALL, 2)
    assert table.nearest[0].tolist() == [1, 2]
    np.testing.assert_allclose(table.similarity[0], [1.0, 0.5], rtol=1e-6)
    assert sorted(table.nearest[2].tolist()) == [0, 1]
    np.testing.assert_allclose(table.similarity[2], [0.5, 0.5], rtol=1e-6)


def test_counts_and_weights_do_not_change_the_similarity():
    weighted = SMALL.multiply(np.array([[3.0], [0.5], [7.0]])).tocsr()
    np.testing.assert_allclose(ItemNeighbours.fit(weighted, 2).similarity, ItemNeighbours.fit(SMALL, 2).similarity)


def test_blocks_of_any_size_give_the_whole_table(monkeypatch):
    rng = np.random.default_rng(0)
    interactions = sp.random(60, 40, density=0.15, random_state=1, format="csr")
    whole = ItemNeighbours.fit(interactions, 5)
    monkeypatch.setattr(item_neighbours, "BLOCK_ENTRIES", 40 * 3)  # three items per block
    blocked = ItemNeighbours.fit(interactions, 5)
    np.testing.assert_allclose(blocked.similarity, whole.similarity, rtol=1e-6)
    dense = (interactions > 0).astype(np.float32).toarray()
    cosine = dense.T @ dense / np.outer(*[np.sqrt(np.maximum(dense.sum(0), 1))] * 2)
    np.fill_diagonal(cosine, 0)
    item = int(rng.integers(40))
    np.testing.assert_allclose(blocked.similarity[item], np.sort(cosine[item])[::-1][:5], rtol=1e-5)


def test_an_item_with_few_co_occurring_items_never_lists_itself():
    lonely = sp.csr_matrix(np.array([[1, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 1]], dtype=np.float32))
    table = ItemNeighbours.fit(lonely, 4)
    assert not (table.nearest == np.arange(5)[:, None]).any()
    assert table.nearest[2].tolist() != [] and (table.similarity[2] == 0).all()  # item 2 co-occurs with none
    assert table.nearest[0, 0] == 1 and (table.similarity[0, 1:] == 0).all()


def test_scores_sum_the_history_items_similarities():
    table = ItemNeighbours.fit(SMALL, 2)
    history = sp.csr_matrix(np.array([[1.0, 0.0, 0.5]], dtype=np.float32))
    expected = table.matrix().toarray()[0] + 0.5 * table.matrix().toarray()[2]
    np.testing.assert_allclose(table.scores(history)[0], expected, rtol=1e-6)
    assert table.cut(1).k == 1 and table.cut(1).matrix().nnz == 3


def test_saved_tables_load_back(tmp_path):
    table = ItemNeighbours.fit(SMALL, 2)
    table.save(tmp_path / "neighbours.npz")
    loaded = ItemNeighbours.load(tmp_path / "neighbours.npz")
    np.testing.assert_array_equal(loaded.nearest, table.nearest)
    np.testing.assert_array_equal(loaded.similarity, table.similarity)


def test_a_ragged_table_is_refused():
    with pytest.raises(ValueError, match="one \\[items, k\\] shape"):
        ItemNeighbours(np.zeros((3, 2)), np.zeros((3, 1)))


def test_recency_weights_count_newer_times_and_keep_each_pair_once():
    # user 0: item 2 at t=5 (and an older event of it), items 0 and 1 together at t=3, item 3 at t=1.
    user = np.array([0, 0, 0, 0, 0, 1, 1])
    item = np.array([2, 0, 2, 1, 3, 3, 0])
    time = np.array([5.0, 3.0, 1.0, 3.0, 1.0, 2.0, 2.0])
    matrix = recency_weighted(user, item, time, (2, 4), 0.5).toarray()
    np.testing.assert_allclose(matrix[0], [0.5, 0.5, 1.0, 0.25])
    np.testing.assert_allclose(matrix[1], [1.0, 0.0, 0.0, 1.0])  # one time: all newest
    np.testing.assert_allclose(recency_weighted(user, item, time, (2, 4)).toarray(), matrix > 0)
    shuffled = np.random.default_rng(3).permutation(len(user))
    np.testing.assert_allclose(recency_weighted(user[shuffled], item[shuffled], time[shuffled], (2, 4), 0.5).toarray(),
                               matrix)
    untimed = recency_weighted(user, item, np.full(len(user), np.nan), (2, 4), 0.5).toarray()
    np.testing.assert_allclose(untimed, matrix > 0)


def test_user_weights_make_a_weighted_cosine():
    # user 0 touched items 0, 1, 2; user 1 only items 0 and 1: weighted, the pair (0, 1) counts
    # user 1's evidence at 1/2 and user 0's at 1/3.
    interactions = sp.csr_matrix(np.array([[1, 1, 1], [1, 1, 0]], dtype=np.float32))
    table = ItemNeighbours.fit(interactions, 2, user_weight_exponent=1.0)
    weights = np.array([1 / 3, 1 / 2])
    dense = interactions.toarray()
    cosine = (dense.T * weights) @ dense / np.outer(*[np.sqrt(weights @ dense)] * 2)
    assert table.nearest[0].tolist() == [1, 2]
    np.testing.assert_allclose(table.similarity[0], [cosine[0, 1], cosine[0, 2]], rtol=1e-6)
    np.testing.assert_allclose(ItemNeighbours.fit(interactions, 2, 0.0).similarity,
                               ItemNeighbours.fit(interactions, 2).similarity)


def test_a_grown_catalogue_scores_its_new_items_zero():
    table = ItemNeighbours.fit(SMALL, 2)
    history = sp.csr_matrix(np.array([[1.0, 0.0, 0.0, 1.0, 0.0]], dtype=np.float32))  # items 3, 4 are new
    scores = table.scores(history)
    assert scores.shape == (1, 5) and scores[0, 3:].tolist() == [0.0, 0.0]
    np.testing.assert_allclose(scores[0, :3], table.matrix().toarray()[0], rtol=1e-6)


@pytest.mark.parametrize("exponent", [0.0, 0.5])
def test_each_item_lists_its_strongest_co_occurring_items_and_pads_with_zeros(exponent):
    interactions = sp.random(80, 50, density=0.08, random_state=7, format="csr")
    table = ItemNeighbours.fit(interactions, 6, exponent)
    dense = (interactions > 0).astype(np.float64).toarray()
    weights = np.maximum(dense.sum(1), 1) ** -exponent
    cosine = (dense.T * weights) @ dense / np.outer(*[np.sqrt(np.maximum(weights @ dense, 1e-30))] * 2)
    np.fill_diagonal(cosine, 0)
    for item in range(50):
        listed = table.similarity[item] > 0
        expected = np.sort(cosine[item][cosine[item] > 0])[::-1][:6]
        np.testing.assert_allclose(table.similarity[item][listed], expected, rtol=1e-5)
        np.testing.assert_allclose(cosine[item, table.nearest[item][listed]], expected, rtol=1e-5)
        assert listed.tolist() == sorted(listed.tolist(), reverse=True)  # padding only after the listed
        assert item not in table.nearest[item].tolist()


def test_ties_keep_the_lower_item_first():
    # Items 1..4 share item 0's only user, so all four are equally similar to it.
    interactions = sp.csr_matrix(np.array([[1, 1, 1, 1, 1], [0, 0, 1, 1, 0]], dtype=np.float32))
    assert ItemNeighbours.fit(interactions, 4).nearest[0].tolist()[:2] == [1, 4]
