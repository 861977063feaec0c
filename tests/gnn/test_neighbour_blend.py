import numpy as np
import pytest
import scipy.sparse as sp
import torch

from personagraph.evaluation.ranking_metrics import as_csr
from personagraph.gnn.low_pass_filter import LowPassFilter
from personagraph.gnn.neighbour_blend import LOW_PASS, SELECTION_SCORE, NeighbourBlend, choose_neighbour_blend
from personagraph.graph.item_neighbours import ItemNeighbours


def test_an_inactive_blend_ranks_by_the_profile_scores_alone():
    scores = torch.tensor([[0.2, -0.5, 0.9]])
    assert NeighbourBlend().combine(scores, torch.ones(1, 3)) is scores
    assert NeighbourBlend(0.5, 0).combine(scores, torch.ones(1, 3)) is scores
    assert NeighbourBlend.from_dict(None) == NeighbourBlend() and not NeighbourBlend().active


def test_each_part_counts_relative_to_its_rows_largest():
    blend = NeighbourBlend(0.5, 10, 0.8, 0.5)
    combined = blend.combine(torch.tensor([[0.2, 0.1, 0.0], [-0.2, -0.4, -0.6]]),
                             torch.tensor([[0.0, 2.0, 4.0], [0.0, 20.0, 40.0]]))
    np.testing.assert_allclose(combined.numpy(), [[1.0, 0.75, 0.5], [-1.0, -1.75, -2.5]], rtol=1e-6)
    part = blend.combine(torch.tensor([[0.1]]), torch.tensor([[2.0]]), profile_top=0.2, neighbour_top=4.0)
    assert float(part) == pytest.approx(0.75)
    assert NeighbourBlend.from_dict(blend.as_dict()) == blend


def _planted(num_users=400, num_items=60, seed=0):
    """Items come in pairs (2j, 2j+1) bought together; each user's history holds one item of a pair and
    the validation target is its partner: item-kNN finds it, random profile scores do not."""
    rng = np.random.default_rng(seed)
    pairs = rng.integers(0, num_items // 2, size=(num_users, 3))
    history_items = 2 * pairs  # even items
    rows = np.repeat(np.arange(num_users), 3)
    history = sp.csr_matrix((np.ones(rows.size, np.float32), (rows, history_items.ravel())), shape=(num_users, num_items))
    # Other users (in the table only) buy both items of a pair.
    both = np.concatenate([2 * pairs.ravel(), 2 * pairs.ravel() + 1])
    owners = np.concatenate([np.arange(pairs.size)] * 2)
    table = ItemNeighbours.fit(sp.csr_matrix((np.ones(both.size, np.float32), (owners, both)),
                                             shape=(pairs.size, num_items)), 5)
    targets = torch.from_numpy(np.stack([np.arange(num_users), 2 * pairs[:, 0] + 1]))
    excluded = as_csr(torch.from_numpy(np.stack([rows, history_items.ravel()])), num_users)
    noise = torch.from_numpy(rng.normal(size=(num_users, num_items)).astype(np.float32)) * 0.1
    return history, table, as_csr(targets, num_users), excluded, (lambda users: noise[users])


def test_a_helpful_neighbour_score_is_chosen():
    history, table, targets, excluded, profile = _planted()
    blend, tried = choose_neighbour_blend(profile, lambda decay: history, excluded, targets, lambda exponent: table,
                                          counts=(1, 5), decays=(1.0,), exponents=(0.0,), weights=(0.0, 0.5, 1.0))
    assert blend.active and blend.neighbours in (1, 5)
    assert tried[-1]["neighbour_gain"] > tried[-1]["neighbour_standard_error"] > 0
    assert {row.get("neighbours_alone") for row in tried[:2]} == {1.0}
    coarse = max((row for row in tried[2:5]), key=lambda row: row[SELECTION_SCORE])["neighbour_weight"]
    assert [row["neighbour_weight"] for row in tried[5:7]] == [coarse * 0.7, coarse * 1.4]  # refined around it


def test_a_useless_neighbour_score_is_left_out():
    history, table, targets, excluded, profile = _planted()
    perfect = torch.full((history.shape[0], history.shape[1]), -1.0)
    perfect[torch.arange(history.shape[0]), targets[1]] = 1.0  # the profile already finds every target
    shuffled = ItemNeighbours(np.random.default_rng(1).permutation(table.nearest.ravel()).reshape(table.nearest.shape),
                              table.similarity)
    blend, tried = choose_neighbour_blend(lambda users: perfect[users], lambda decay: history, excluded, targets,
                                          lambda exponent: shuffled, counts=(5,), decays=(1.0,), exponents=(0.0,),
                                          weights=(0.0, 0.5))
    assert not blend.active and tried[-1]["neighbour_weight"] == 0.0


def test_a_neighbour_score_that_only_lifts_targets_within_the_top_20_is_chosen():
    # 22 items, 3 in each history: every target is in any top 20, so Recall@20 cannot tell settings apart;
    # the neighbour score lifts each target to the first place, which NDCG@20 sees.
    history, table, targets, excluded, profile = _planted(num_items=22)
    assert history.shape[1] - 3 <= 20
    blend, tried = choose_neighbour_blend(profile, lambda decay: history, excluded, targets, lambda exponent: table,
                                          counts=(1,), decays=(1.0,), exponents=(0.0,), weights=(0.0, 0.5, 1.0))
    assert blend.active
    assert tried[-1]["neighbour_gain"] > tried[-1]["neighbour_standard_error"] > 0


def test_a_fixed_weight_is_taken_as_given_and_weights_start_at_zero():
    history, table, targets, excluded, profile = _planted()
    fitted = []

    def table_for(exponent):
        fitted.append(exponent)
        return table

    blend, tried = choose_neighbour_blend(profile, lambda decay: history, excluded, targets, table_for,
                                          counts=(5,), decays=(1.0,), fixed_weight=0.05)
    assert blend == NeighbourBlend(0.05, 5, 1.0, 0.0) and fitted[:3] == [0.0, 0.5, 1.0]
    weighed = [row["neighbour_weight"] for row in tried if SELECTION_SCORE in row and "neighbours_alone" not in row]
    assert weighed == [0.0, 0.05]
    assert choose_neighbour_blend(profile, lambda decay: history, excluded, targets, table_for,
                                  fixed_weight=0.0) == (NeighbourBlend(), [])
    with pytest.raises(ValueError, match="start with 0"):
        choose_neighbour_blend(profile, lambda decay: history, excluded, targets, table_for, weights=(0.5,))


def test_the_low_pass_table_is_chosen_where_it_ranks_better_alone():
    history, table, targets, excluded, profile = _planted()
    shuffled = ItemNeighbours(np.random.default_rng(1).permutation(table.nearest.ravel()).reshape(table.nearest.shape),
                              table.similarity)
    fitted = []

    def low_pass_table():
        fitted.append(1)
        return table

    blend, tried = choose_neighbour_blend(profile, lambda decay: history, excluded, targets, lambda exponent: shuffled,
                                          low_pass_table, counts=(5,), decays=(1.0, 0.5), exponents=(0.0,),
                                          weights=(0.0, 0.5, 1.0))
    assert blend.active and blend.similarity == LOW_PASS and blend.neighbours == table.k
    assert fitted == [1]  # one table for all its settings
    assert [row["low_pass"] for row in tried if "neighbours_alone" in row] == [0.0, 1.0]  # decays alike: one each
    assert NeighbourBlend.from_dict(blend.as_dict()) == blend


def test_a_low_pass_blend_fits_its_own_table_and_unknown_kinds_are_refused():
    rng = np.random.default_rng(3)
    interactions = sp.csr_matrix((rng.random((50, 30)) < 0.2).astype(np.float32))
    fitted = NeighbourBlend(1.0, 7, similarity=LOW_PASS).fit_table(interactions)
    assert fitted.nearest.shape == (30, 7)
    np.testing.assert_allclose(fitted.similarity, LowPassFilter(interactions).neighbours(7).similarity)
    with pytest.raises(ValueError, match="unknown neighbour similarity 'jaccard'"):
        NeighbourBlend.from_dict({"weight": 1.0, "neighbours": 5, "similarity": "jaccard"})


def test_decays_that_weigh_the_history_alike_are_tried_once():
    history, table, targets, excluded, profile = _planted()
    _, tried = choose_neighbour_blend(profile, lambda decay: history, excluded, targets, lambda exponent: table,
                                      counts=(5,), decays=(1.0, 0.8, 0.4), exponents=(0.0,), weights=(0.0, 0.5))
    assert [row["recency_decay"] for row in tried if "neighbours_alone" in row] == [1.0]
    older = history.copy()
    older.data = older.data * 0.5  # times differ: each decay weighs the history differently
    _, tried = choose_neighbour_blend(profile, lambda decay: history if decay == 1.0 else older * decay, excluded,
                                      targets, lambda exponent: table, counts=(5,), decays=(1.0, 0.8, 0.4),
                                      exponents=(0.0,), weights=(0.0, 0.5))
    assert [row["recency_decay"] for row in tried if "neighbours_alone" in row] == [1.0, 0.8, 0.4]


def test_each_kind_is_searched_and_none_is_kept_where_nothing_helps():
    history, table, targets, excluded, profile = _planted()
    shuffled = ItemNeighbours(np.random.default_rng(1).permutation(table.nearest.ravel()).reshape(table.nearest.shape),
                              table.similarity)
    searched = lambda tried: [row["low_pass"] for row in tried
                              if row.get("neighbour_weight") == 0.0 and SELECTION_SCORE in row]
    blend, tried = choose_neighbour_blend(profile, lambda decay: history, excluded, targets, lambda exponent: shuffled,
                                          lambda: table, counts=(5,), decays=(1.0,), exponents=(0.0,),
                                          weights=(0.0, 0.5, 1.0))
    assert blend.similarity == LOW_PASS and searched(tried) == [1.0, 0.0]  # the stronger alone first, then the other
    perfect = torch.full((history.shape[0], history.shape[1]), -1.0)
    perfect[torch.arange(history.shape[0]), targets[1]] = 1.0  # nothing can help the profile
    blend, tried = choose_neighbour_blend(lambda users: perfect[users], lambda decay: history, excluded, targets,
                                          lambda exponent: shuffled, lambda: table, counts=(5,), decays=(1.0,),
                                          exponents=(0.0,), weights=(0.0, 0.5))
    assert not blend.active and searched(tried) == [1.0, 0.0]
    assert tried[-1] == {"neighbour_weight": 0.0, "neighbour_gain": 0.0, "neighbour_standard_error": 0.0,
                         "low_pass": 0.0}


def test_the_table_that_helps_the_profile_most_wins_over_the_one_that_ranks_better_alone():
    """Table A knows the partners of most users' items, but the profile already finds most of those; table B
    knows the rest. A ranks better alone, B adds more beside the profile."""
    rng = np.random.default_rng(4)
    num_users, num_pairs, known_pairs = 800, 30, 20  # pairs below 20 are A's, the rest B's
    num_items = 2 * num_pairs
    first = np.where(rng.random(num_users) < 0.7, rng.integers(0, known_pairs, num_users),
                     rng.integers(known_pairs, num_pairs, num_users))
    history_items = np.stack([2 * first, 2 * rng.integers(0, num_pairs, num_users)], axis=1)
    rows = np.repeat(np.arange(num_users), 2)
    history = sp.csr_matrix((np.ones(rows.size, np.float32), (rows, history_items.ravel())), shape=(num_users, num_items))
    targets = as_csr(torch.from_numpy(np.stack([np.arange(num_users), 2 * first + 1])), num_users)
    excluded = as_csr(torch.from_numpy(np.stack([rows, history_items.ravel()])), num_users)

    def table_knowing(pairs: range) -> ItemNeighbours:
        nearest = rng.integers(0, num_items, (num_items, 1))
        nearest[[2 * pair for pair in pairs], 0] = [2 * pair + 1 for pair in pairs]
        return ItemNeighbours(nearest, np.ones((num_items, 1), np.float32))

    table_a, table_b = table_knowing(range(known_pairs)), table_knowing(range(known_pairs, num_pairs))
    scores = torch.from_numpy(rng.normal(size=(num_users, num_items)).astype(np.float32))
    found = torch.from_numpy((first < known_pairs) & (rng.random(num_users) < 0.8))  # the profile finds most of A's
    scores[found, targets[1][found]] = 10.0
    blend, tried = choose_neighbour_blend(lambda users: scores[users], lambda decay: history, excluded, targets,
                                          lambda exponent: table_b, lambda: table_a, counts=(1,), decays=(1.0,),
                                          exponents=(0.0,), weights=(0.0, 0.5, 1.0))
    alone = {row["low_pass"]: row[SELECTION_SCORE] for row in tried if "neighbours_alone" in row}
    assert alone[1.0] > alone[0.0]  # A (the low-pass slot) ranks better alone
    assert blend.active and blend.similarity != LOW_PASS  # B helps the profile more
    best_a = max(row[SELECTION_SCORE] for row in tried if row.get("low_pass") == 1.0 and row.get("neighbour_weight"))
    assert best_a > tried[[row.get("neighbour_weight") for row in tried].index(0.0)][SELECTION_SCORE]  # A helped too


def test_tables_are_let_go_once_scored_unless_best_of_their_kind():
    """On a big catalogue every table is large: the choice holds the one it scores and the best so far."""
    import gc
    import weakref

    history, table, targets, excluded, profile = _planted()
    alive: list[weakref.ref] = []
    most_alive = 0

    def table_for(exponent: float) -> ItemNeighbours:
        nonlocal most_alive
        gc.collect()
        fitted = ItemNeighbours(table.nearest.copy(), table.similarity.copy())
        alive.append(weakref.ref(fitted))
        most_alive = max(most_alive, sum(ref() is not None for ref in alive))
        return fitted

    blend, _ = choose_neighbour_blend(profile, lambda decay: history, excluded, targets, table_for,
                                      counts=(1, 5), decays=(1.0,), exponents=(0.0, 0.5, 1.0, 2.0),
                                      weights=(0.0, 0.5))
    assert len(alive) == 4 and most_alive == 2  # every table scored once, never more than two held
    assert blend.active
