"""A small shop with planted interests, split for evaluation once per test session (fixtures registered in conftest)."""
from __future__ import annotations

import pytest
import torch

from personagraph.evaluation.evaluation_protocol import EvaluationProtocol
from personagraph.evaluation.ranking_data import RankingData
from personagraph.evaluation.ranking_metrics import as_csr
from personagraph.datasets.sample_shop import generate_sample_shop


@pytest.fixture(scope="session")
def planted() -> EvaluationProtocol:
    return EvaluationProtocol.leave_one_out(generate_sample_shop(users=200, items=100, seed=0).shop)


def random_recall(history: RankingData, targets, k: int = 20) -> float:
    """Expected Recall@k of a uniformly random ranking of the items a user has not bought."""
    indptr, items = as_csr(targets, history.num_users)
    excluded_indptr, excluded = history.excluded
    recalls = []
    for user in torch.nonzero(indptr.diff() > 0).flatten().tolist():
        own = set(excluded[excluded_indptr[user]:excluded_indptr[user + 1]].tolist())
        candidates = history.num_items - len(own)
        reachable = [i for i in items[indptr[user]:indptr[user + 1]].tolist() if i not in own]
        recalls.append(min(1.0, k / candidates) * len(reachable) / (indptr[user + 1] - indptr[user]).item())
    return sum(recalls) / len(recalls)


@pytest.fixture(scope="session")
def planted_data(planted: EvaluationProtocol) -> tuple[RankingData, RankingData]:
    """Training and test-input histories of :func:`planted`, with item and query text features."""
    from personagraph.encoders.load_text_encoder import load_text_encoder
    from personagraph.encoders.text_features import attach_text_features

    train, history = RankingData(planted.train), RankingData(planted.history)
    attach_text_features(planted.history, [train.graph, history.graph], load_text_encoder(), 64, progress=False)
    return train, history


@pytest.fixture
def assert_beats_random(planted: EvaluationProtocol):
    """Fit a ranker on the planted shop; its test Recall@20 must clearly beat a random ranking's."""
    def check(ranker, train: RankingData, history: RankingData) -> dict:
        ranker.fit(train, planted.validation)
        if ranker.refits_on_new_history:
            ranker.refit(history)
        metrics = ranker.evaluate(history, planted.test, ks=(20,))
        chance = random_recall(history, planted.test)
        assert metrics["recall@20"] > 1.5 * chance, (metrics, chance)
        return metrics

    return check
