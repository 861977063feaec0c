import torch

from personagraph.evaluation.item_knn_ranker import ItemKNNRanker
from personagraph.evaluation.ranking_data import RankingData
from personagraph.shop.shop_reader import shop_from_rows
from personagraph.graph.item_neighbours import NEIGHBOUR_COUNTS, RECENCY_DECAYS, USER_WEIGHT_EXPONENTS


def test_beats_random_on_planted_interests_with_a_printed_grid(planted, assert_beats_random):
    ranker = ItemKNNRanker()
    assert_beats_random(ranker, RankingData(planted.train), RankingData(planted.history))
    assert len(ranker.tuning) == len(NEIGHBOUR_COUNTS) * len(RECENCY_DECAYS) * len(USER_WEIGHT_EXPONENTS) and {"neighbours", "recency_decay", "user_weight_exponent"} == set(ranker.chosen)


def test_new_history_is_folded_in_without_refitting():
    items = [{"item_id": i, "title": i} for i in "ABCD"]
    base = [("u1", 1, "A"), ("u1", 2, "B"), ("u2", 1, "C"), ("u2", 2, "D"), ("u3", 1, "A")]
    ranker = ItemKNNRanker(neighbours_grid=(2,), recency_decay_grid=(1.0,), user_weight_grid=(0.0,))
    rows = lambda pairs: [{"user_id": u, "event": "purchase", "timestamp": t, "item_id": i} for u, t, i in pairs]
    ranker.fit(RankingData(shop_from_rows(items, rows(base))), torch.tensor([-1, -1, 1]))
    before = ranker.scorer(RankingData(shop_from_rows(items, rows(base))))(torch.tensor([2]))
    after = ranker.scorer(RankingData(shop_from_rows(items, rows(base + [("u3", 2, "C")]))))(torch.tensor([2]))
    assert before[0, 3] == 0 and after[0, 3] > 0  # D is C's neighbour: u3's new item brings it in
