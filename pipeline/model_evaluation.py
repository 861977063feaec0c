"""Run every model through one evaluation protocol and measure quality, time and memory alike.

Each model is fitted and tuned on the protocol's training history and validation targets,
then tested with the training + validation history (folded in, or refitted where the
model cannot fold in). Wall time covers everything the model does (tuning grid, refit,
scoring); memory is the peak resident set size of this process while the model ran,
sampled with psutil every 50 ms in a background thread, together with its increase over
the RSS when the model started (earlier models' memory is freed between models, but the
shared inputs, graphs and text features stay resident). Models whose result depends on
the seed run once per seed and are reported as mean ± sample std; deterministic ones run once.

Each model is tested under every history rule asked for (see
:mod:`~personagraph.evaluation.evaluation_protocol`), from the same fitted model: its own
hyper-parameters are chosen on validation with the history excluded, and, for the rule that
ranks the history too, its repeat weight on validation under that rule. A run also records
which of its training runs a wall-time budget stopped.

When the shop has social links, ours is reported twice from the same trained models: ``ours``
(the friends left out) and ``ours+social`` (the social mix of
:mod:`~personagraph.profiles.social_mix`, its weight chosen on validation like every other
setting, 0 when friends do not help), so the two compare on equal terms in one run.
"""
from __future__ import annotations

import gc
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import torch

from personagraph.encoders.load_text_encoder import load_text_encoder
from personagraph.errors import PersonaGraphError
from personagraph.evaluation.evaluation_protocol import (
    HISTORY_EXCLUDED,
    HISTORY_INCLUDED,
    HISTORY_RULE_TEXT,
    HISTORY_RULES,
    EvaluationProtocol,
)
from personagraph.evaluation.item_knn_ranker import ItemKNNRanker
from personagraph.evaluation.lightgcn_ranker import LAYERS_GRID, LightGCNRanker, LightGCNSettings
from personagraph.evaluation.popularity_ranker import PopularityRanker
from personagraph.gnn.profile_model_ranker import ProfileModelRanker
from personagraph.gnn.train_config import TrainConfig
from personagraph.evaluation.ranker import Ranker, choose_repeat_weight
from personagraph.evaluation.ranking_data import RankingData
from personagraph.evaluation.ranking_metrics import Scorer, dot_product_scorer, evaluate_repeat_weights
from personagraph.evaluation.text_mean_ranker import TextMeanRanker
from personagraph.profiles.social_mix import choose_social_mix, mix_social

RANKERS: dict[str, type[Ranker]] = {
    cls.name: cls for cls in (ProfileModelRanker, PopularityRanker, ItemKNNRanker, LightGCNRanker, TextMeanRanker)
}
MODEL_NAMES: tuple[str, ...] = tuple(RANKERS)
#: Models that read the text features; the encoder is loaded only when one of them runs.
TEXT_MODELS = frozenset({ProfileModelRanker.name, TextMeanRanker.name})
MEMORY_METHOD = ("peak RSS of the evaluating process while the model ran (psutil, sampled every 50 ms); "
                 "increase = that peak minus the RSS when the model started")
SAMPLE_INTERVAL_S = 0.05
#: The report row of ours with the social mix (only when the shop has social links).
OURS_WITH_SOCIAL = f"{ProfileModelRanker.name}+social"


@dataclass
class ModelEvaluation:
    """Which models to run, at which cut-offs, over how many seeds, under which history rules
    (``None``: the protocol's), and with which text encoder."""

    models: Sequence[str] = MODEL_NAMES
    ks: Sequence[int] = (10, 20)
    history_rules: Sequence[str] | None = None
    seeds: int = 1
    lightgcn: LightGCNSettings = field(default_factory=LightGCNSettings)
    lightgcn_layers: Sequence[int] = LAYERS_GRID
    #: TrainConfig fields ours is trained with, beyond the defaults (e.g. ``max_minutes``).
    ours_settings: dict[str, Any] = field(default_factory=dict)
    encoder: str | None = None
    cache_dir: Path | None = None
    encode_batch_size: int = 64
    progress: bool = True
    log: Callable[[str], None] = field(default=print, repr=False)

    def __post_init__(self) -> None:
        unknown = [name for name in self.models if name not in RANKERS]
        if unknown:
            raise PersonaGraphError(f"unknown model(s) {', '.join(unknown)}; choose from {', '.join(MODEL_NAMES)}")
        if self.seeds < 1:
            raise PersonaGraphError(f"seeds must be at least 1, not {self.seeds}")
        odd_rules = [rule for rule in self.history_rules or () if rule not in HISTORY_RULES]
        if odd_rules:
            raise PersonaGraphError(f"unknown history rule(s) {', '.join(odd_rules)}; "
                                    f"choose from {', '.join(HISTORY_RULES)}")

    def budgets_minutes(self) -> dict[str, float | None]:
        """Training wall-time budget per seed of each budgeted model (``None`` = no budget)."""
        lightgcn = self.lightgcn.time_budget_s
        return {ProfileModelRanker.name: self.ours_settings.get("max_minutes") or None,
                LightGCNRanker.name: lightgcn / 60 if lightgcn else None}

    def run(self, protocol: EvaluationProtocol,
            on_model: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Evaluate every model on ``protocol``; returns the report (see ``personagraph evaluate --json``).

        ``on_model`` gets the report so far after each model, so a long run can be saved as it goes.
        """
        train, history = RankingData(protocol.train), RankingData(protocol.history)
        rules = [rule for rule in HISTORY_RULES if rule in (self.history_rules or protocol.history_rules)]
        report: dict[str, Any] = {
            "dataset": protocol.description.get("name"),
            "protocol": protocol.name,
            "history_rules": rules,
            "history_rule_text": {rule: HISTORY_RULE_TEXT[rule] for rule in rules},
            "derived_queries": bool(protocol.description.get("derived_queries", False)),
            "counts": protocol.counts(),
            "ks": list(self.ks),
            "seeds": self.seeds,
            "text_features": self._attach_text(protocol, train, history),
            "lightgcn_time_budget_s": self.lightgcn.time_budget_s,
            "budgets_minutes": {name: minutes for name, minutes in self.budgets_minutes().items()
                                if name in self.models},
            "ours_settings": dict(self.ours_settings),
            "memory": MEMORY_METHOD,
            "models": [],
        }
        for name in self.models:
            reason = RANKERS[name](seed=0).not_applicable_reason(history)
            if reason is not None:
                self.log(f"{name}: n/a ({reason})")
                report["models"].append({"model": name, "applicable": False, "reason": reason})
            else:
                seeds = [0] if RANKERS[name].deterministic else list(range(self.seeds))
                social_runs: list[dict[str, Any]] = []
                runs = [self._run_model(name, seed, protocol, train, history, rules, social_runs)
                        for seed in seeds]
                report["models"].append(_summarise(name, runs))
                if social_runs:
                    report["models"].append(_summarise(OURS_WITH_SOCIAL, social_runs))
            if on_model is not None:
                on_model(report)
        return report

    def _attach_text(self, protocol: EvaluationProtocol, train: RankingData, history: RankingData) -> dict | None:
        shop = protocol.history
        if not TEXT_MODELS & set(self.models) or not (shop.catalog.has_text() or shop.events.query_texts):
            return None
        # Imported here: the train pipeline pulls in the whole train command (store, profiles).
        from personagraph.encoders.text_features import attach_text_features

        started = time.perf_counter()
        encoder = load_text_encoder(self.encoder, self.cache_dir)
        stats = attach_text_features(shop, [train.graph, history.graph], encoder, self.encode_batch_size, self.progress)
        return {"encoder": encoder.name, "seconds": round(time.perf_counter() - started, 1), **stats}

    def _make(self, name: str, seed: int) -> Ranker:
        if name == LightGCNRanker.name:
            return LightGCNRanker(seed=seed, layers_grid=self.lightgcn_layers, settings=self.lightgcn)
        if name == ProfileModelRanker.name:
            return ProfileModelRanker(seed=seed, config=TrainConfig(seed=seed, **self.ours_settings))
        return RANKERS[name](seed=seed)

    def _run_model(self, name: str, seed: int, protocol: EvaluationProtocol,
                   train: RankingData, history: RankingData, rules: Sequence[str],
                   social_runs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """One model and seed, tested under each of ``rules``; for ours on a shop with social links,
        its ``ours+social`` run is appended to ``social_runs``."""
        gc.collect()
        with PeakRss() as memory:
            started = time.perf_counter()
            ranker = self._make(name, seed)
            ranker.fit(train, protocol.validation, self.progress)
            if HISTORY_INCLUDED in rules:  # on the training history, so before any refit
                ranker.choose_repeat_weight(train, protocol.validation)
            fit_seconds = time.perf_counter() - started
            if ranker.refits_on_new_history:
                ranker.refit(history, self.progress)
            test = self._test_by_rule(ranker.scorer(history), history, protocol, rules, ranker.repeat_weight)
            total_seconds = time.perf_counter() - started
        validation = {HISTORY_EXCLUDED: ranker.validation_metrics(),
                      HISTORY_INCLUDED: ranker.repeat_validation_metrics()}
        run = {
            "seed": seed,
            "test": test[rules[0]],
            "test_by_rule": test,
            "validation": validation[rules[0]],
            "validation_by_rule": {rule: validation[rule] for rule in rules},
            "chosen": ranker.chosen,
            "tuning": ranker.tuning,
            **({"repeat_weight": ranker.repeat_weight, "repeat_tuning": ranker.repeat_tuning}
               if HISTORY_INCLUDED in rules else {}),
            "stopped_by_budget": list(ranker.stopped_by_budget),
            "fit_seconds": fit_seconds,
            "total_seconds": total_seconds,
            "peak_rss_mb": round(memory.peak_mb, 1),
            "peak_increase_mb": round(memory.increase_mb, 1),
        }
        self.log(f"{name} (seed {seed}): validation grid, selected by recall@20:")
        for row in ranker.tuning:
            self.log("  " + "  ".join(f"{k}={_short(v)}" for k, v in row.items()))
        self._log_repeat_tuning(ranker.repeat_tuning if HISTORY_INCLUDED in rules else [])
        self.log(f"  chosen {ranker.chosen}" + (f"; repeat weight {ranker.repeat_weight}" if "repeat_weight" in run
                                                 else "") + "; test " + _describe_test(test)
                 + f"; {total_seconds:.1f} s, peak RSS {memory.peak_mb:.0f} MB")
        if ranker.stopped_by_budget:
            self.log(f"  stopped by the time budget: {', '.join(ranker.stopped_by_budget)}")
        links = history.shop.social
        if social_runs is not None and isinstance(ranker, ProfileModelRanker) and links is not None and len(links):
            social_runs.append(self._run_with_social(ranker, protocol, train, history, rules, run))
        return run

    def _test_by_rule(self, scorer: Scorer, history: RankingData, protocol: EvaluationProtocol,
                      rules: Sequence[str], repeat_weight: float) -> dict[str, dict[str, float]]:
        """Test metrics per rule from one scoring pass: excluded = repeat weight 0."""
        weights = [repeat_weight if rule == HISTORY_INCLUDED else 0.0 for rule in rules]
        results = evaluate_repeat_weights(scorer, history.excluded, protocol.test, self.ks, weights)
        return {rule: {k: v for k, v in metrics.items() if k != "num_users"} for rule, metrics in zip(rules, results)}

    def _log_repeat_tuning(self, tried: list[dict[str, Any]]) -> None:
        if tried:
            self.log("  repeat weights tried on validation with the history ranked too: "
                     + ", ".join(f"{row['repeat_weight']}: {row['recall@20']:.4f}" for row in tried))

    def _run_with_social(self, ranker: ProfileModelRanker, protocol: EvaluationProtocol, train: RankingData,
                         history: RankingData, rules: Sequence[str], base: dict[str, Any]) -> dict[str, Any]:
        """Ours' trained model with the social mix chosen on validation, tested as ours is (under the
        rule ranking the history, with a repeat weight chosen for the mixed vectors on validation; with
        ours' neighbour score beside the mixed vectors, as `train` ranks its social profiles)."""
        started = time.perf_counter()
        links = history.shop.social
        mix = choose_social_mix(ranker.model, train.graph, links, protocol.validation, train.excluded)
        repeat: dict[str, Any] = {}
        if HISTORY_INCLUDED in rules:
            with torch.no_grad():
                output = ranker.model(train.graph)
            mixed_train = torch.from_numpy(mix_social(output.user_vectors.numpy(),
                                                      links.adjacency(train.num_users), mix.weight))
            weight, tried = choose_repeat_weight(ranker.blended(dot_product_scorer(mixed_train, output.item_vectors),
                                                                train), train.excluded, protocol.validation)
            repeat = {"repeat_weight": weight, "repeat_tuning": tried}
            self._log_repeat_tuning(tried)
        users, items = ranker.vectors(history)
        mixed = torch.from_numpy(mix_social(users.numpy(), links.adjacency(history.num_users), mix.weight))
        test = self._test_by_rule(ranker.blended(dot_product_scorer(mixed, items), history), history, protocol,
                                  rules, repeat.get("repeat_weight", 0.0))
        extra = time.perf_counter() - started
        chosen_row = next(row for row in mix.tried if row["weight"] == mix.weight)
        validation = {HISTORY_EXCLUDED: {k: v for k, v in chosen_row.items() if "@" in k}}
        if repeat:
            validation[HISTORY_INCLUDED] = next({k: v for k, v in row.items() if "@" in k}
                                                for row in repeat["repeat_tuning"]
                                                if row["repeat_weight"] == repeat["repeat_weight"])
        run = base | repeat | {
            "test": test[rules[0]],
            "test_by_rule": test,
            "validation": validation[rules[0]],
            "validation_by_rule": validation,
            "chosen": base["chosen"] | {"social_weight": mix.weight},
            "tuning": mix.tried,
            "social_reason": mix.reason,
            "total_seconds": base["total_seconds"] + extra,
        }
        self.log(f"{OURS_WITH_SOCIAL} (seed {base['seed']}): social weights tried on validation:")
        for row in mix.tried:
            self.log("  " + "  ".join(f"{k}={_short(v)}" for k, v in row.items()))
        self.log(f"  chosen w={mix.weight} ({mix.reason}); test " + _describe_test(test))
        return run


class PeakRss:
    """Context manager sampling this process's RSS in a thread; ``peak_mb`` / ``increase_mb`` after exit."""

    def __init__(self, interval_s: float = SAMPLE_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self.start_mb = self.peak_mb = 0.0

    def __enter__(self) -> "PeakRss":
        self.start_mb = self.peak_mb = self._rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self._rss_mb())

    @property
    def increase_mb(self) -> float:
        return self.peak_mb - self.start_mb

    def _rss_mb(self) -> float:
        return self._process.memory_info().rss / 2**20

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak_mb = max(self.peak_mb, self._rss_mb())


def _summarise(name: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean ± sample std over the runs (std 0 for a single run); memory as the worst run."""
    def spread(values: list[float]) -> dict[str, float]:
        return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}

    def spreads(part: str, rule: str) -> dict[str, dict[str, float]]:
        return {k: spread([r[part][rule][k] for r in runs]) for k in runs[0][part][rule]}

    rules = list(runs[0]["test_by_rule"])
    return {
        "model": name,
        "applicable": True,
        "runs": len(runs),
        "test": spreads("test_by_rule", rules[0]),
        "test_by_rule": {rule: spreads("test_by_rule", rule) for rule in rules},
        "validation": spreads("validation_by_rule", rules[0]),
        "validation_by_rule": {rule: spreads("validation_by_rule", rule) for rule in rules},
        "stopped_by_budget": sum(1 for r in runs if r["stopped_by_budget"]),
        "fit_seconds": spread([r["fit_seconds"] for r in runs]),
        "total_seconds": spread([r["total_seconds"] for r in runs]),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "peak_increase_mb": max(r["peak_increase_mb"] for r in runs),
        "per_seed": runs,
    }


def _describe_test(test: dict[str, dict[str, float]]) -> str:
    return "; ".join(f"[history {rule}] " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
                     for rule, metrics in test.items())


def _short(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)
