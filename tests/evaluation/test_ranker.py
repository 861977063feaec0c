import torch

from personagraph.evaluation.ranker import REPEAT_WEIGHTS, Ranker, Scorer
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


class Training:
    """Training history for the repeat-weight choice: each of 4 users bought items 0-2 (of 40)."""

    excluded = (torch.tensor([0, 3, 6, 9, 12]), torch.tensor([0, 1, 2] * 4))


class HistoryFirst(Ranker):
    """Scores items 0..39 as 40..1: the bought items 0-2 come first unless lowered."""

    name = "history-first"

    def fit(self, train: RankingData, validation: Targets, progress: bool = False) -> None:
        self.chosen = {}

    def scorer(self, history: RankingData) -> Scorer:
        return lambda users: torch.arange(40.0, 0.0, -1.0).repeat(users.numel(), 1)


def test_repeat_weight_is_chosen_on_validation_and_is_0_when_repeats_do_not_help():
    # New items only: item 22 is 20th once the bought items 0-2 are gone, and pushed out of the top 20
    # by them at any weight above 0 (at 0.5 they score 20.5, 19.5, 18.5 against its 18).
    new_items = HistoryFirst()
    assert new_items.choose_repeat_weight(Training(), torch.tensor([3, 4, 5, 22])) == 0.0
    assert [row["recall@20"] for row in new_items.repeat_tuning] == [1.0] + [0.75] * 6
    assert new_items.repeat_validation_metrics()["recall@20"] == 1.0
    # Repeats: weight 0 (the history excluded) misses them all; 0.5 lowers item 2 to 22nd; from 0.8 on
    # all are found, and the first such weight is kept.
    repeats = HistoryFirst()
    assert repeats.choose_repeat_weight(Training(), torch.tensor([0, 1, 2, 0])) == 0.8
    assert [row["repeat_weight"] for row in repeats.repeat_tuning] == list(REPEAT_WEIGHTS)
    assert [row["recall@20"] for row in repeats.repeat_tuning] == [0.0, 0.75] + [1.0] * 5
    assert repeats.repeat_validation_metrics()["recall@20"] == 1.0


def test_a_repeat_weight_that_finds_one_more_target_only_is_within_noise_and_0_is_kept():
    # User 0's target repeats a bought item: every weight from 0.5 finds it (recall 1.0 against 0.75),
    # but one user in four is a gain of exactly one standard error of the per-user difference.
    ranker = HistoryFirst()
    assert ranker.choose_repeat_weight(Training(), torch.tensor([0, 3, 4, 5])) == 0.0
    assert [row["recall@20"] for row in ranker.repeat_tuning] == [0.75] + [1.0] * 6
