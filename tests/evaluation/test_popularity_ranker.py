import torch

from personagraph.evaluation.popularity_ranker import PopularityRanker
from personagraph.evaluation.ranking_data import RankingData
from personagraph.shop.shop_reader import shop_from_rows


def test_beats_random_on_planted_interests(planted, assert_beats_random):
    ranker = PopularityRanker()
    assert_beats_random(ranker, RankingData(planted.train), RankingData(planted.history))
    assert ranker.chosen == {} and len(ranker.tuning) == 1 and "recall@20" in ranker.validation_metrics()


def test_counts_distinct_users_in_the_input_history():
    items = [{"item_id": i, "title": i} for i in "ABC"]
    events = [{"user_id": u, "event": e, "timestamp": t, "item_id": i}
              for u, e, t, i in [("u1", "view", 1, "A"), ("u1", "purchase", 2, "A"), ("u2", "purchase", 1, "C"),
                                 ("u3", "view", 1, "C"), ("u3", "purchase", 2, "B")]]
    scores = PopularityRanker().scorer(RankingData(shop_from_rows(items, events)))(torch.tensor([0, 2]))
    assert scores.tolist() == [[1.0, 1.0, 2.0], [1.0, 1.0, 2.0]]
