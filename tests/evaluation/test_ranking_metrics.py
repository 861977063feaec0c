import math

import pytest
import torch

from personagraph.evaluation.ranking_metrics import (
    as_csr,
    dot_product_scorer,
    evaluate_ranking,
    evaluate_scorer,
    gain_and_standard_error,
    held_scorer,
    ndcg_at_k,
    recall_at_k,
    top_k_items,
    top_k_scored,
)

# Scores of 2 users for 5 items: user 0 prefers items 4 > 3 > 2 > 1 > 0, user 1 the reverse.
USERS = torch.tensor([[1.0], [-1.0]])
ITEMS = torch.tensor([[0.0], [1.0], [2.0], [3.0], [4.0]])


def test_top_k_excludes_history_items():
    history = torch.tensor([[0, 1], [4, 0]])  # user 0 has item 4, user 1 has item 0
    assert top_k_items(USERS, ITEMS, history, k=2).tolist() == [[3, 2], [1, 2]]
    assert top_k_items(USERS, ITEMS, None, k=2).tolist() == [[4, 3], [0, 1]]


def test_top_k_is_the_same_in_any_batch_size():
    generator = torch.Generator().manual_seed(0)
    users, items = torch.randn(7, 4, generator=generator), torch.randn(30, 4, generator=generator)
    history = torch.stack([torch.randint(7, (20,), generator=generator), torch.randint(30, (20,), generator=generator)])
    assert torch.equal(top_k_items(users, items, history, 5, batch_size=2), top_k_items(users, items, history, 5))


def test_single_target_metrics_by_hand():
    ranked = torch.tensor([[4, 3, 2], [0, 1, 2]])
    targets = torch.tensor([3, 2])  # rank 2 for user 0, rank 3 for user 1
    assert recall_at_k(ranked, targets, 1).tolist() == [0.0, 0.0]
    assert recall_at_k(ranked, targets, 3).tolist() == [1.0, 1.0]
    assert ndcg_at_k(ranked, targets, 3).tolist() == pytest.approx([1 / math.log2(3), 1 / math.log2(4)])


def test_target_sets_follow_lightgcn():
    ranked = torch.tensor([[3, 1, 4], [0, 1, 2]])
    targets = [[1, 4, 0, 2], [9]]
    # user 0: hits at ranks 2 and 3 of 4 targets; ideal DCG over min(4, 3) = 3 ranks.
    ideal = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert recall_at_k(ranked, targets, 3).tolist() == [0.5, 0.0]
    assert ndcg_at_k(ranked, targets, 3).tolist() == pytest.approx([(1 / math.log2(3) + 1 / math.log2(4)) / ideal, 0.0])


def test_evaluate_ranking_averages_over_users_with_targets():
    history = torch.tensor([[0], [4]])  # user 0 already has item 4
    metrics = evaluate_ranking(USERS, ITEMS, history, torch.tensor([3, -1]), ks=(1, 2))
    assert metrics == pytest.approx({"num_users": 1.0, "recall@1": 1.0, "ndcg@1": 1.0, "recall@2": 1.0, "ndcg@2": 1.0})
    sets = evaluate_ranking(USERS, ITEMS, None, [[4, 0], [2]], ks=(1,))
    assert sets == pytest.approx({"num_users": 2.0, "recall@1": 0.25, "ndcg@1": 0.5})


def test_as_csr_accepts_every_form_alike():
    expected = as_csr([[2, 0], [], [1, 1]], 3)
    assert expected[0].tolist() == [0, 2, 2, 3] and expected[1].tolist() == [0, 2, 1]
    from_edges = as_csr(torch.tensor([[2, 0, 0], [1, 2, 0]]), 3)
    assert all(torch.equal(a, b) for a, b in zip(from_edges, expected))


def test_metrics_rank_all_items_skip_excluded_ones_and_follow_the_lightgcn_formulas():
    # 3 users x 5 items; user 2 has no target and is not counted.
    scores = torch.tensor([[5.0, 4.0, 3.0, 2.0, 1.0],
                           [1.0, 2.0, 3.0, 4.0, 5.0],
                           [1.0, 1.0, 1.0, 1.0, 1.0]])
    excluded = (torch.tensor([0, 1, 1, 1]), torch.tensor([0]))  # user 0 bought item 0
    targets = [[1, 3], [0, 2], []]
    metrics = evaluate_scorer(lambda users: scores[users].clone(), excluded, targets, ks=(2, 4))

    # user 0 ranks 1, 2, 3, 4 (item 0 excluded): hits at ranks 1 and 3; user 1 ranks 4, 3, 2, 1: a hit at rank 3.
    assert metrics["num_users"] == 2
    assert metrics["recall@2"] == pytest.approx((1 / 2 + 0) / 2)
    assert metrics["recall@4"] == pytest.approx((1 + 1 / 2) / 2)
    ideal = 1 + 1 / math.log2(3)  # two targets each
    assert metrics["ndcg@2"] == pytest.approx((1 / ideal + 0) / 2)
    assert metrics["ndcg@4"] == pytest.approx(((1 + 1 / math.log2(4)) / ideal + (1 / math.log2(4)) / ideal) / 2)


def test_an_excluded_target_is_a_miss_for_every_scorer():
    scores = torch.tensor([[9.0, 1.0, 0.0]])
    metrics = evaluate_scorer(lambda users: scores[users].clone(), (torch.tensor([0, 1]), torch.tensor([0])),
                              torch.tensor([0]), ks=(2,))
    assert metrics["recall@2"] == 0.0 and metrics["ndcg@2"] == 0.0


def test_users_are_scored_in_batches_with_the_same_result():
    torch.manual_seed(0)
    scores = torch.rand(50, 30)
    excluded = (torch.arange(51) * 2, torch.randint(0, 30, (100,)))
    targets = torch.randint(0, 30, (50,))
    one = evaluate_scorer(lambda users: scores[users].clone(), excluded, targets, ks=(5, 10), batch_size=1000)
    many = evaluate_scorer(lambda users: scores[users].clone(), excluded, targets, ks=(5, 10), batch_size=7)
    assert one == many


def test_vectors_are_ranked_by_the_same_loop_as_any_scorer():
    generator = torch.Generator().manual_seed(1)
    users, items = torch.randn(40, 6, generator=generator), torch.randn(25, 6, generator=generator)
    history = torch.stack([torch.randint(40, (90,), generator=generator),
                           torch.randint(25, (90,), generator=generator)])
    targets = torch.randint(-1, 25, (40,), generator=generator)
    by_vectors = evaluate_ranking(users, items, history, targets, ks=(5, 10), batch_size=9)
    by_scorer = evaluate_scorer(dot_product_scorer(users, items), as_csr(history, 40), targets, ks=(5, 10),
                                batch_size=9)
    assert by_vectors == by_scorer
    assert torch.equal(top_k_items(users, items, history, 5),
                       top_k_scored(dot_product_scorer(users, items), as_csr(history, 40), torch.arange(40), 5))


def test_no_users_or_no_targets_give_empty_results():
    empty = (torch.zeros(3, dtype=torch.long), torch.zeros(0, dtype=torch.long))
    assert top_k_scored(dot_product_scorer(USERS, ITEMS), None, torch.zeros(0, dtype=torch.long), 2).shape == (0, 2)
    assert top_k_items(USERS, ITEMS, None, k=9).shape == (2, 5)  # k is cut to the number of items
    metrics = evaluate_scorer(dot_product_scorer(USERS, ITEMS), empty, torch.tensor([-1, -1]), ks=(1,))
    assert metrics == {"num_users": 0.0, "recall@1": 0.0, "ndcg@1": 0.0}


# 1 user x 60 items scored 0..59 (item 59 best); the user's history is items 59 and 58.
RANKED_SCORES = torch.arange(60.0).unsqueeze(0)
ONE_USER_HISTORY = (torch.tensor([0, 2]), torch.tensor([58, 59]))


def test_excluded_rule_never_ranks_history_and_included_rule_does():
    scorer = lambda users: RANKED_SCORES[users].clone()  # noqa: E731
    excluded = top_k_scored(scorer, ONE_USER_HISTORY, torch.tensor([0]), k=60)
    assert not set(excluded[0, :58].tolist()) & {58, 59} and excluded.shape == (1, 60)
    assert excluded[0, :3].tolist() == [57, 56, 55]
    included = top_k_scored(scorer, ONE_USER_HISTORY, torch.tensor([0]), k=3, repeat_weight=1.0)
    assert included[0].tolist() == [59, 58, 57]
    # A repeat target: a miss with the history excluded, a hit at rank 1 with it ranked as scored.
    repeat = torch.tensor([59])
    assert evaluate_scorer(scorer, ONE_USER_HISTORY, repeat, (10, 50))["recall@50"] == 0.0
    assert evaluate_scorer(scorer, ONE_USER_HISTORY, repeat, (10, 50), repeat_weight=1.0)["ndcg@10"] == 1.0


def test_repeat_weight_lowers_history_by_a_share_of_the_score_range_and_50_is_computed():
    scorer = lambda users: RANKED_SCORES[users].clone()  # noqa: E731
    # Range 59: weight 0.9 lowers item 59 by 5.9 to 53.1 (just above item 53), item 58 to 52.1.
    ranked = top_k_scored(scorer, ONE_USER_HISTORY, torch.tensor([0]), k=10, repeat_weight=0.9)
    assert ranked[0].tolist() == [57, 56, 55, 54, 59, 53, 58, 52, 51, 50]
    # Item 9 is 51st with the history ranked as scored (a miss at 50) and 49th without it (a hit).
    target = torch.tensor([9])
    assert evaluate_scorer(scorer, ONE_USER_HISTORY, target, (50,), repeat_weight=1.0)["recall@50"] == 0.0
    assert evaluate_scorer(scorer, ONE_USER_HISTORY, target, (50,))["recall@50"] == 1.0
    with pytest.raises(ValueError, match="repeat weight"):
        top_k_scored(scorer, ONE_USER_HISTORY, torch.tensor([0]), k=3, repeat_weight=1.5)


def test_several_repeat_weights_score_once_and_match_one_at_a_time():
    from personagraph.evaluation.ranking_metrics import evaluate_repeat_weights

    calls = []
    generator = torch.Generator().manual_seed(1)
    scores = torch.randn(9, 40, generator=generator)

    def scorer(users):
        calls.append(users.numel())
        return scores[users].clone()

    history = as_csr(torch.stack([torch.randint(9, (30,), generator=generator),
                                  torch.randint(40, (30,), generator=generator)]), 9)
    targets = torch.randint(40, (9,), generator=generator)
    weights = (0.0, 0.5, 1.0)
    together = evaluate_repeat_weights(scorer, history, targets, (5, 20), weights, batch_size=4)
    assert sum(calls) == 9  # every user scored once for the three weights
    for weight, metrics in zip(weights, together):
        assert metrics == evaluate_scorer(scorer, history, targets, (5, 20), batch_size=4, repeat_weight=weight)


def test_gain_and_standard_error_by_hand():
    better, baseline = torch.tensor([1.0, 0.0, 1.0, 1.0]), torch.tensor([0.0, 0.0, 1.0, 0.0])
    gain, standard_error = gain_and_standard_error(better, baseline)
    # per-user gains 1, 0, 0, 1: mean 0.5, sample std sqrt(1/3), over sqrt(4) users
    assert gain == pytest.approx(0.5) and standard_error == pytest.approx((1 / 3) ** 0.5 / 2)
    assert gain_and_standard_error(torch.tensor([1.0]), torch.tensor([0.0])) == (1.0, float("inf"))


def test_batches_hold_a_bounded_number_of_scores(monkeypatch):
    from personagraph.evaluation import ranking_metrics
    shapes = []
    scores = torch.randn(10, 7)

    def scorer(users):
        shapes.append(users.numel())
        return scores[users].clone()

    whole = top_k_scored(scorer, None, torch.arange(10), 3, batch_size=8)
    monkeypatch.setattr(ranking_metrics, "SCORE_BATCH_ENTRIES", 21)  # three users of 7 items
    shapes.clear()
    bounded = top_k_scored(scorer, None, torch.arange(10), 3, batch_size=8)
    assert max(shapes[1:]) == 3 and torch.equal(bounded, whole)


def test_held_scorer_scores_each_user_once_and_hands_out_copies():
    user_emb, item_emb = torch.randn(7, 3), torch.randn(5, 3)
    calls = []

    def scorer(users):
        calls.append(users.clone())
        return user_emb[users] @ item_emb.T

    held = held_scorer(scorer, 7, 5)
    rows = torch.tensor([4, 0, 6])
    first = held(rows)
    torch.testing.assert_close(first, user_emb[rows] @ item_emb.T)
    first.fill_(0.0)  # a ranking writes to its scores
    torch.testing.assert_close(held(rows), user_emb[rows] @ item_emb.T)
    assert torch.equal(torch.cat(calls), torch.arange(7))  # every user scored once, up front
    assert held_scorer(scorer, 7, 5, max_entries=34) is scorer  # over the bound: scored as asked
