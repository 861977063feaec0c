"""The one interface evaluation treats every model through.

A ranker is fitted (and tuned, on validation targets only) on a training history, then
asked for a *scorer* over some input history: a function from a batch of user indices
to their scores for every item. Whether the ranker folds new history in with the same
weights or must be refitted is a property of the model, stated by
:attr:`Ranker.refits_on_new_history`, so evaluation can treat each one as deployed. Every
ranker is measured by the same loop,
:func:`~personagraph.evaluation.ranking_metrics.evaluate_scorer`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from personagraph.evaluation.ranking_data import RankingData
from personagraph.evaluation.ranking_metrics import Scorer, Targets, evaluate_scorer

#: The validation figure hyper-parameters are chosen by.
SELECTION_METRIC = "recall@20"
VALIDATION_KS: tuple[int, ...] = (20,)


class Ranker(ABC):
    """A recommender under evaluation.

    After :meth:`fit`, ``tuning`` holds one row per hyper-parameter setting tried (its
    validation metrics) and ``chosen`` the setting kept.
    """

    #: Name used on the command line and in reports.
    name: ClassVar[str]
    #: True when new history can only enter by refitting (per-user parameters).
    refits_on_new_history: ClassVar[bool] = False
    #: True when the result does not depend on the seed, so one run stands for all seeds.
    deterministic: ClassVar[bool] = True

    def __init__(self, seed: int = 0, batch_size: int = 1024) -> None:
        self.seed = seed
        self.batch_size = batch_size
        self.tuning: list[dict[str, Any]] = []
        self.chosen: dict[str, Any] = {}

    def not_applicable_reason(self, data: RankingData) -> str | None:
        """Why this model cannot run on ``data`` (e.g. no item text), or ``None``."""
        return None

    @abstractmethod
    def fit(self, train: RankingData, validation: Targets, progress: bool = False) -> None:
        """Fit on ``train`` and choose hyper-parameters by validation :data:`SELECTION_METRIC`."""

    def refit(self, data: RankingData, progress: bool = False) -> None:
        """Fit again on ``data`` with the chosen hyper-parameters (for rankers that cannot fold in)."""
        raise NotImplementedError(f"{self.name} folds new history in; it is not refitted")

    @abstractmethod
    def scorer(self, history: RankingData) -> Scorer:
        """Scores for users whose input history is ``history``."""

    def evaluate(self, history: RankingData, targets: Targets, ks: Sequence[int]) -> dict[str, float]:
        """Recall@K / NDCG@K of ranking all items for ``history``'s users, items they bought excluded."""
        return evaluate_scorer(self.scorer(history), history.excluded, targets, ks, self.batch_size)

    def select(self, train: RankingData, validation: Targets, settings: Iterable[dict[str, Any]],
               scorer_for: Callable[[dict[str, Any]], Scorer]) -> dict[str, Any]:
        """Try each setting, record its validation metrics in ``tuning``, keep the best in ``chosen``."""
        best = -1.0
        for setting in settings:
            metrics = evaluate_scorer(scorer_for(setting), train.excluded, validation, VALIDATION_KS, self.batch_size)
            metrics.pop("num_users")
            self.tuning.append(setting | metrics)
            if metrics[SELECTION_METRIC] > best:
                best, self.chosen = metrics[SELECTION_METRIC], dict(setting)
        return self.chosen

    def validation_metrics(self) -> dict[str, float]:
        """The validation figures of the chosen setting."""
        row = next((r for r in self.tuning if all(r.get(k) == v for k, v in self.chosen.items())), {})
        return {k: v for k, v in row.items() if "@" in k}
