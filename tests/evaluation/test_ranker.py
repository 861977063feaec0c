import math

import pytest
import torch

from personagraph.evaluation.ranker import evaluate_scorer


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
