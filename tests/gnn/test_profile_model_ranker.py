import pytest

from personagraph.gnn.profile_model_ranker import ProfileModelRanker
from personagraph.gnn.train_config import TrainConfig


@pytest.mark.slow
def test_beats_random_on_planted_interests_with_the_train_defaults(planted, planted_data, assert_beats_random):
    assert ProfileModelRanker(seed=3).config == TrainConfig(seed=3)
    ranker = ProfileModelRanker(config=TrainConfig(epochs=10))
    assert_beats_random(ranker, *planted_data)
    assert 1 <= ranker.chosen["best_epoch"] <= 10 and "recall@20" in ranker.validation_metrics()


def _history(epochs: int, evaluated: bool = True) -> list[dict[str, float]]:
    return [{"epoch": float(e), "loss": 1.0, "seconds": 1.0} | ({"recall@20": 0.1} if evaluated else {})
            for e in range(1, epochs + 1)]


def test_a_budget_stop_is_told_from_early_stopping_and_from_running_every_epoch():
    from personagraph.gnn.profile_model_ranker import stopped_by_budget
    from personagraph.gnn.profile_trainer import TrainResult

    budget = TrainConfig(epochs=100, patience=10, max_minutes=5.0)
    # 30 epochs, best at 25: only 5 evaluations without gain, so early stopping had not ended it.
    assert stopped_by_budget(TrainResult(model=None, history=_history(30), best_epoch=25), budget)
    # Best at 20 and 10 evaluations without gain since: early stopping ended it.
    assert not stopped_by_budget(TrainResult(model=None, history=_history(30), best_epoch=20), budget)
    # Every epoch ran, or no budget was set: nothing stopped it early.
    assert not stopped_by_budget(TrainResult(model=None, history=_history(100), best_epoch=95), budget)
    no_budget = TrainConfig(epochs=100, patience=10, max_minutes=None)
    assert not stopped_by_budget(TrainResult(model=None, history=_history(30), best_epoch=25), no_budget)
    # Epochs without an evaluation (eval_every > 1) do not count towards patience.
    sparse = _history(30, evaluated=False)
    assert stopped_by_budget(TrainResult(model=None, history=sparse, best_epoch=5), budget)
