import pytest

from personagraph.gnn.profile_model_ranker import ProfileModelRanker
from personagraph.gnn.train_config import TrainConfig


@pytest.mark.slow
def test_beats_random_on_planted_interests_with_the_train_defaults(planted, planted_data, assert_beats_random):
    assert ProfileModelRanker(seed=3).config == TrainConfig(seed=3)
    ranker = ProfileModelRanker(config=TrainConfig(epochs=10))
    assert_beats_random(ranker, *planted_data)
    assert 1 <= ranker.chosen["best_epoch"] <= 10 and "recall@20" in ranker.validation_metrics()
