import pytest

from personagraph.evaluation.lightgcn_ranker import LightGCNRanker, LightGCNSettings
from personagraph.evaluation.ranking_data import RankingData


def test_beats_random_on_planted_interests_after_refitting(planted, assert_beats_random):
    ranker = LightGCNRanker(layers_grid=(1, 2), settings=LightGCNSettings(max_epochs=5, train_batch_size=512))
    train, history = RankingData(planted.train), RankingData(planted.history)
    ranker.fit(train, planted.validation)
    assert [row["num_layers"] for row in ranker.tuning] == [1, 2]
    assert ranker.chosen["epochs"] > 0 and "recall@20" in ranker.validation_metrics()
    assert_beats_random(ranker, train, history)
    assert ranker.chosen["refit_epochs"] == ranker.chosen["epochs"]


def test_cannot_score_users_it_was_not_fitted_on(planted):
    ranker = LightGCNRanker(layers_grid=(1,), settings=LightGCNSettings(max_epochs=1))
    with pytest.raises(RuntimeError, match="refit first"):
        ranker.scorer(RankingData(planted.history))


def test_stops_at_its_time_budget(planted):
    ranker = LightGCNRanker(layers_grid=(1,), settings=LightGCNSettings(max_epochs=10_000, patience=10_000,
                                                                         time_budget_s=2.0))
    ranker.fit(RankingData(planted.train), planted.validation)
    assert ranker.tuning[0]["stopped"] == "time budget" and ranker.tuning[0]["seconds"] < 5
