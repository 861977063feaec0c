import torch

from personagraph.evaluation.ranker import Ranker, Scorer
from personagraph.evaluation.ranking_data import RankingData
from personagraph.evaluation.ranking_metrics import Targets, evaluate_scorer

# 2 users x 25 items scored 1..25 (item 24 highest); user 0 bought item 0; each user's next item is item 24.
SCORES = torch.arange(1.0, 26.0).repeat(2, 1)
EXCLUDED = (torch.tensor([0, 1, 1]), torch.tensor([0]))
TARGETS = torch.tensor([24, 24])


class FixedRanker(Ranker):
    """Scores ``SCORES`` raised to a chosen power: the setting tried by :meth:`Ranker.select`."""

    name = "fixed"

    def fit(self, train: RankingData, validation: Targets, progress: bool = False) -> None:
        self.select(train, validation, [{"power": -1.0}, {"power": 1.0}], self._scorer)

    def scorer(self, history: RankingData) -> Scorer:
        return self._scorer(self.chosen)

    @staticmethod
    def _scorer(setting) -> Scorer:
        return lambda users: SCORES[users].pow(setting["power"])


class History:
    """The one thing rankers under test read of a RankingData."""

    excluded = EXCLUDED


def test_select_keeps_the_best_setting_and_records_every_one():
    ranker = FixedRanker()
    ranker.fit(History(), TARGETS)
    # power -1 ranks the target last (beyond the top 20), power 1 first.
    assert [(row["power"], row["recall@20"], row["ndcg@20"]) for row in ranker.tuning] == [(-1.0, 0.0, 0.0),
                                                                                             (1.0, 1.0, 1.0)]
    assert ranker.chosen == {"power": 1.0}
    assert ranker.validation_metrics() == {"recall@20": 1.0, "ndcg@20": 1.0}


def test_evaluate_is_the_shared_ranking_loop():
    ranker = FixedRanker()
    ranker.fit(History(), TARGETS)
    expected = evaluate_scorer(FixedRanker._scorer({"power": 1.0}), EXCLUDED, TARGETS, (1, 2))
    assert ranker.evaluate(History(), TARGETS, (1, 2)) == expected
