"""The one interface evaluation treats every model through.

A ranker is fitted (and tuned, on validation targets only) on a training history, then
asked for a *scorer* over some input history: a function from a batch of user indices
to their scores for every item. Whether the ranker folds new history in with the same
weights or must be refitted is a property of the model, stated by
:attr:`Ranker.refits_on_new_history`, so evaluation can treat each one as deployed. Every
ranker is measured by the same loop,
:func:`~personagraph.evaluation.ranking_metrics.evaluate_scorer`.

Under the history rule that ranks a user's history items too, whether to re-list them is the
model's decision: every ranker gets a *repeat weight* (how much of its score a history item
keeps, :func:`~personagraph.evaluation.ranking_metrics.lower_repeats`), chosen on validation
under that rule by :meth:`Ranker.choose_repeat_weight`, the same way for every model.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from personagraph.evaluation.ranking_data import RankingData
from personagraph.evaluation.ranking_metrics import (
    Scorer,
    Targets,
    as_csr,
    csr_rows,
    evaluate_scorer,
    gain_and_standard_error,
    ndcg_at_k,
    recall_at_k,
    top_k_for_repeat_weights,
)

#: The validation figure hyper-parameters are chosen by.
SELECTION_METRIC = "recall@20"
VALIDATION_KS: tuple[int, ...] = (20,)
#: Repeat weights tried on validation, 0 first (history items below every other item, as when
#: excluded): 0 is kept unless re-listing history items ranks validation targets clearly better.
REPEAT_WEIGHTS: tuple[float, ...] = (0.0, 0.5, 0.8, 0.9, 0.95, 0.98, 1.0)


class Ranker(ABC):
    """A recommender under evaluation.

    After :meth:`fit`, ``tuning`` holds one row per hyper-parameter setting tried (its
    validation metrics) and ``chosen`` the setting kept; ``stopped_by_budget`` names the
    training runs a wall-time budget cut short. After :meth:`choose_repeat_weight`,
    ``repeat_tuning`` and ``repeat_weight`` say the same of the repeat weight.
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
        self.stopped_by_budget: list[str] = []
        self.repeat_weight = 0.0
        self.repeat_tuning: list[dict[str, Any]] = []

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

    def evaluate(self, history: RankingData, targets: Targets, ks: Sequence[int],
                 repeat_weight: float = 0.0) -> dict[str, float]:
        """Recall@K / NDCG@K of ranking all items for ``history``'s users, items they bought excluded
        (or, with a ``repeat_weight`` above 0, lowered by it)."""
        return evaluate_scorer(self.scorer(history), history.excluded, targets, ks, self.batch_size, repeat_weight)

    def validation_scorer(self, train: RankingData) -> Scorer:
        """Scores for the training users, as validation saw them (a ranker may reuse what fit computed)."""
        return self.scorer(train)

    def choose_repeat_weight(self, train: RankingData, validation: Targets,
                             weights: Sequence[float] = REPEAT_WEIGHTS) -> float:
        """Keep the repeat weight that ranks the validation targets best with the history ranked too;
        call after :meth:`fit` (before any refit: validation's input is the training history)."""
        self.repeat_weight, self.repeat_tuning = choose_repeat_weight(
            self.validation_scorer(train), train.excluded, validation, weights, self.batch_size)
        return self.repeat_weight

    def repeat_validation_metrics(self) -> dict[str, float]:
        """The validation figures of the chosen repeat weight (history ranked too)."""
        row = next((r for r in self.repeat_tuning if r["repeat_weight"] == self.repeat_weight), {})
        return {k: v for k, v in row.items() if "@" in k}

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


def choose_repeat_weight(scorer: Scorer, history: tuple[Tensor, Tensor], validation: Targets,
                         weights: Sequence[float] = REPEAT_WEIGHTS,
                         batch_size: int = 1024) -> tuple[float, list[dict[str, Any]]]:
    """The repeat weight whose ranking (``history`` items lowered by it) finds the validation targets
    best by :data:`SELECTION_METRIC`, and one row per weight tried.

    ``weights`` start with 0 (the history ranked last); another weight is kept only when it beats 0
    by more than one standard error of the per-user difference, so noise does not re-list history.
    """
    if not weights or weights[0] != 0.0:
        raise ValueError(f"repeat weights must start with 0, got {tuple(weights)}")
    num_users = history[0].numel() - 1
    indptr, items = as_csr(validation, num_users)
    users = torch.nonzero(indptr[1:] > indptr[:-1]).flatten()
    targets = csr_rows(indptr, items, users)
    k = max(VALIDATION_KS)
    rankings = top_k_for_repeat_weights(scorer, history, users, k, weights, batch_size)
    tried, per_user = [], []
    for weight, ranked in zip(weights, rankings):
        row: dict[str, Any] = {"repeat_weight": weight}
        for cut in VALIDATION_KS:
            recall = recall_at_k(ranked, targets, cut)
            row[f"recall@{cut}"] = float(recall.mean()) if users.numel() else 0.0
            row[f"ndcg@{cut}"] = float(ndcg_at_k(ranked, targets, cut).mean()) if users.numel() else 0.0
            if f"recall@{cut}" == SELECTION_METRIC:
                per_user.append(recall)
        tried.append(row)
    best = 0
    for i in range(1, len(weights)):
        gain, standard_error = gain_and_standard_error(per_user[i], per_user[0])
        if (gain > standard_error
                and tried[i][SELECTION_METRIC] > tried[best][SELECTION_METRIC]):
            best = i
    return weights[best], tried
