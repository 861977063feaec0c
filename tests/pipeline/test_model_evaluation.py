import time

import numpy as np
import pytest

from personagraph.errors import PersonaGraphError
from personagraph.evaluation.evaluation_protocol import EvaluationProtocol
from personagraph.evaluation.lightgcn_ranker import LightGCNSettings
from personagraph.graph.item_neighbours import NEIGHBOUR_COUNTS, RECENCY_DECAYS, USER_WEIGHT_EXPONENTS
from personagraph.pipeline.model_evaluation import ModelEvaluation, PeakRss
from personagraph.shop.shop_reader import shop_from_rows


def test_deterministic_models_run_once_seeded_ones_per_seed_with_mean_and_std(planted):
    lines = []
    short_lightgcn = LightGCNSettings(max_epochs=3, eval_every=1, train_batch_size=512)  # still tuned, refitted, tested
    report = ModelEvaluation(models=["popularity", "itemknn", "lightgcn"], ks=(5, 20), seeds=2, lightgcn=short_lightgcn,
                             lightgcn_layers=(1,), progress=False, log=lines.append).run(planted)
    assert report["protocol"] == "leave-one-out" and report["seeds"] == 2 and report["text_features"] is None
    by_name = {m["model"]: m for m in report["models"]}
    assert [by_name[n]["runs"] for n in ("popularity", "itemknn", "lightgcn")] == [1, 1, 2]
    lightgcn = by_name["lightgcn"]
    runs = [run["test"]["recall@20"] for run in lightgcn["per_seed"]]
    assert lightgcn["test"]["recall@20"]["mean"] == pytest.approx(np.mean(runs))
    assert lightgcn["test"]["recall@20"]["std"] == pytest.approx(np.std(runs, ddof=1))
    assert all(run["chosen"]["refit_epochs"] >= 1 for run in lightgcn["per_seed"])  # refitted on train + validation
    for model in report["models"]:
        assert set(model["test"]) == {"recall@5", "ndcg@5", "recall@20", "ndcg@20"}
        assert model["total_seconds"]["mean"] >= model["fit_seconds"]["mean"] > 0
        assert model["peak_rss_mb"] > 0 and model["peak_increase_mb"] >= 0
    assert any(line.startswith("itemknn (seed 0): validation grid") for line in lines)
    assert sum("neighbours=" in line for line in lines) == (len(NEIGHBOUR_COUNTS) * len(RECENCY_DECAYS)
                                                            * len(USER_WEIGHT_EXPONENTS))  # item-kNN's whole grid


def test_text_model_is_na_on_id_only_data_and_unknown_models_are_refused():
    items = [{"item_id": str(i), "title": ""} for i in range(6)]
    events = [{"user_id": f"u{u}", "event": "purchase", "timestamp": t, "item_id": str((u + t) % 6)}
              for u in range(8) for t in range(4)]
    protocol = EvaluationProtocol.leave_one_out(shop_from_rows(items, events))
    report = ModelEvaluation(models=["text", "popularity"], progress=False, log=lambda _: None).run(protocol)
    text = report["models"][0]
    assert text == {"model": "text", "applicable": False, "reason": "the items have no text (ID-only data)"}
    assert report["text_features"] is None and report["models"][1]["applicable"]
    with pytest.raises(PersonaGraphError, match="unknown model"):
        ModelEvaluation(models=["ease"])


def test_peak_rss_sees_memory_that_is_freed_before_the_end():
    with PeakRss(interval_s=0.01) as memory:
        block = np.ones(200 * 2**20 // 8)  # 200 MiB, touched
        time.sleep(0.1)
        del block
    assert memory.increase_mb > 150
    assert memory.peak_mb >= memory.start_mb + 150


def test_ours_is_reported_with_and_without_the_social_mix_on_a_given_split(tmp_path):
    """On a converted Last.fm-format folder (tiny, hand-made): ours and ours+social side by side from the
    same trained models, the friends' weight chosen on validation and 0 included in the grid."""
    from personagraph.datasets.lastfm_social_converter import convert_lastfm_social

    rng = np.random.default_rng(0)
    source = tmp_path / "src"
    source.mkdir()
    users, artists = 60, 40
    taste = rng.integers(4, size=users)  # four circles with their own artists
    train, test = [], []
    for u in range(users):
        picks = rng.choice(np.arange(taste[u] * 10, taste[u] * 10 + 10), size=7, replace=False)
        train += [f"{u}\t{a}\t1" for a in picks[:5]]
        test += [f"{u}\t{a}\t1" for a in picks[5:]]
    friends = [f"{u}\t{v}" for u in range(users) for v in range(users) if u != v and taste[u] == taste[v]
               and rng.random() < 0.3]
    (source / "train.dat").write_text("\n".join(train) + "\n")
    (source / "test.dat").write_text("\n".join(test) + "\n")
    (source / "user_user.dat").write_text("\n".join(friends) + "\n")
    convert_lastfm_social(source, tmp_path / "lastfm")
    protocol = EvaluationProtocol.from_folder(tmp_path / "lastfm")
    lines = []
    report = ModelEvaluation(models=["ours"], ks=(20,), seeds=1, progress=False, log=lines.append,
                             ours_settings={"dim": 8, "epochs": 2, "spectral_dim": 8}).run(protocol)
    by_name = {m["model"]: m for m in report["models"]}
    assert list(by_name) == ["ours", "ours+social"] and artists == len(protocol.history.catalog)
    social = by_name["ours+social"]["per_seed"][0]
    assert [row["weight"] for row in social["tuning"]][0] == 0.0
    assert social["chosen"]["social_weight"] in [row["weight"] for row in social["tuning"]]
    assert set(social["test"]) == {"recall@20", "ndcg@20"} and any(line.startswith("ours+social") for line in lines)


def test_both_history_rules_are_reported_from_one_fit_with_the_repeat_weight_chosen_on_validation(planted):
    lines = []
    report = ModelEvaluation(models=["popularity", "itemknn"], ks=(10, 20, 50), history_rules=["included", "excluded"],
                             progress=False, log=lines.append).run(planted)
    assert report["history_rules"] == ["excluded", "included"]  # always in the same order
    assert set(report["history_rule_text"]) == {"excluded", "included"}
    for model in report["models"]:
        assert set(model["test_by_rule"]) == {"excluded", "included"} and model["test"] == model["test_by_rule"]["excluded"]
        assert set(model["test_by_rule"]["included"]) == {f"{m}@{k}" for k in (10, 20, 50) for m in ("recall", "ndcg")}
        run = model["per_seed"][0]
        assert run["repeat_weight"] in [row["repeat_weight"] for row in run["repeat_tuning"]]
        chosen_row = next(r for r in run["repeat_tuning"] if r["repeat_weight"] == run["repeat_weight"])
        assert run["validation_by_rule"]["included"] == {k: v for k, v in chosen_row.items() if "@" in k}
        assert chosen_row["recall@20"] >= run["repeat_tuning"][0]["recall@20"]  # never worse than weight 0
        assert run["stopped_by_budget"] == [] and model["stopped_by_budget"] == 0
        if run["repeat_weight"] == 0.0:  # weight 0 ranks exactly as if the history were excluded
            assert run["test_by_rule"]["included"] == run["test_by_rule"]["excluded"]
    assert any("repeat weights tried on validation" in line for line in lines)
    excluded_only = ModelEvaluation(models=["popularity"], progress=False, log=lambda _: None).run(planted)
    assert excluded_only["history_rules"] == ["excluded"] and "repeat_weight" not in excluded_only["models"][0]["per_seed"][0]
    with pytest.raises(PersonaGraphError, match="unknown history rule"):
        ModelEvaluation(history_rules=["sometimes"])


def test_a_budget_that_stops_training_is_reported(planted):
    tight = LightGCNSettings(max_epochs=50, eval_every=1, patience=50, train_batch_size=64, time_budget_s=1e-3)
    report = ModelEvaluation(models=["lightgcn"], lightgcn=tight, lightgcn_layers=(1,), progress=False,
                             log=lambda _: None).run(planted)
    model = report["models"][0]
    assert report["budgets_minutes"] == {"lightgcn": pytest.approx(1e-3 / 60)}
    assert model["stopped_by_budget"] == 1
    assert model["per_seed"][0]["stopped_by_budget"] == ["num_layers=1", "refit"]
    assert model["per_seed"][0]["chosen"]["epochs"] == 1
