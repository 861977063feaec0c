import pytest

from personagraph.evaluation.ranking_data import RankingData
from personagraph.evaluation.text_mean_ranker import TextMeanRanker
from personagraph.shop.shop_reader import shop_from_rows


@pytest.mark.slow
def test_beats_random_on_planted_interests(planted, planted_data, assert_beats_random):
    ranker = TextMeanRanker()
    assert_beats_random(ranker, *planted_data)
    assert [row["recency_decay"] for row in ranker.tuning] == [1.0, 0.7, 0.4, 0.1]


def test_is_not_applicable_without_item_text():
    shop = shop_from_rows([{"item_id": "1", "title": ""}],
                          [{"user_id": "u", "event": "purchase", "timestamp": 1, "item_id": "1"}])
    assert "no text" in TextMeanRanker().not_applicable_reason(RankingData(shop))
