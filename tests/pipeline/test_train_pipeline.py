"""`run_training` replaces a run folder only whole: a train that fails leaves the previous run as it was."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from trained_sample import EMBEDDING_CACHE

from personagraph.datasets.sample_shop import generate_sample_shop
from personagraph.gnn.train_config import TrainConfig
from personagraph.pipeline import train_pipeline
from personagraph.pipeline.run import Run
from personagraph.pipeline.run_folder import RunFolder
from personagraph.pipeline.train_pipeline import TrainOptions, run_training
from personagraph.profiles.profile_explainer import ProfileExplainer


def _options(shop: Path, out: Path, dim: int) -> TrainOptions:
    return TrainOptions(data_dir=shop, out_dir=out, config=TrainConfig(dim=dim, epochs=2, seed=3, spectral_dim=8),
                        cache_dir=EMBEDDING_CACHE, progress=False)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """A shop and a run trained on it once (dim 8), copied by each test."""
    root = tmp_path_factory.mktemp("train")
    generate_sample_shop(root / "shop", users=60, items=30, seed=3)
    run_training(_options(root / "shop", root / "runs" / "base", dim=8), log=lambda line: None)
    return root / "shop", root / "runs" / "base"


@pytest.fixture
def previous(trained, tmp_path) -> RunFolder:
    shop, base = trained
    return RunFolder(shutil.copytree(base, tmp_path / "runs" / "demo"))


def _files(folder: Path) -> dict[Path, bytes]:
    return {path.relative_to(folder): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def _explain_first_user(folder: Path) -> list:
    run = Run.load(folder)
    return ProfileExplainer(run.model, run.graph, run.space).explain(0, 5)


def _fail(*args, **kwargs):
    raise RuntimeError("injected failure")


@pytest.mark.parametrize("stage", ["profiles", "write"])
def test_a_train_failing_after_the_model_stage_leaves_the_previous_run_as_it_was(trained, previous, monkeypatch,
                                                                                   stage):
    before = _files(previous.path)
    if stage == "profiles":
        monkeypatch.setattr(train_pipeline.ProfileSpace, "build", _fail)
    else:  # after the checkpoint is written: the old code left a new checkpoint beside the old profiles
        monkeypatch.setattr(RunFolder, "write_profiles", _fail)
    with pytest.raises(RuntimeError, match="injected failure"):
        run_training(_options(trained[0], previous.path, dim=16), log=lambda line: None)  # another width
    monkeypatch.undo()

    assert _files(previous.path) == before
    assert sorted(p.name for p in previous.path.parent.iterdir()) == [".demo.lock", "demo"]  # no temp folder left
    assert _explain_first_user(previous.path)


def test_a_successful_retrain_replaces_the_run(trained, previous):
    run_id = previous.run_id
    summary = run_training(_options(trained[0], previous.path, dim=16), log=lambda line: None)
    assert summary["run_folder"] == str(previous.path)
    assert previous.run_id == summary["run_id"] != run_id
    assert Run.load(previous.path).model.out_dim != Run.load(trained[1]).model.out_dim
    assert previous.read_json("metrics.json")["run_id"] == summary["run_id"]
    assert sorted(p.name for p in previous.path.parent.iterdir()) == [".demo.lock", "demo"]
    assert _explain_first_user(previous.path)


def test_a_shop_with_links_records_the_friends_weight_chosen_on_validation(trained):
    """The sample's links go through train: the weight tried on validation (0 among them) is saved with
    the space, the profiles carry the social features, and the pooled profiles match the stored ones."""
    import numpy as np
    import pyarrow.parquet as pq

    _, base = trained
    metrics = RunFolder(base).read_json("metrics.json")
    social = metrics["social"]
    assert social["links"] > 0 and [row["weight"] for row in social["tried"]][0] == 0.0
    run = Run.load(base)
    assert run.space.social_weight == social["weight"] and run.shop.social is not None
    stored = pq.read_table(RunFolder(base).profiles).to_pydict()
    assert {"social_links", "influence", "social_community", "friend_tag_agreement"} <= set(stored)
    assert np.mean(stored["influence"]) == pytest.approx(1.0, abs=0.01)
    again = run.space.profile_users(run.model, run.shop)
    np.testing.assert_allclose(np.asarray(stored["vector"]), again.vectors, atol=1e-5)


def test_every_stage_reports_its_rows_per_second(trained):
    metrics = RunFolder(trained[1]).read_json("metrics.json")
    shop = Run.load(trained[1]).shop
    units = {name: stage.get("unit") for name, stage in metrics["stages"].items()}
    assert units == {"validate": "events", "graph": "events", "encode": "texts", "train": "events",
                     "profiles": "users", "write": "rows"}
    stages = metrics["stages"]
    assert stages["validate"]["rows"] == stages["graph"]["rows"] == len(shop.events)
    assert stages["profiles"]["rows"] == shop.events.num_users
    assert stages["train"]["epochs"] == len(metrics["history"])
    for stage in stages.values():
        assert stage["rows_per_second"] == pytest.approx(stage["rows"] / stage["seconds"], rel=0.01, abs=0.1)


def test_the_train_stage_says_where_its_time_and_memory_went(trained):
    train = RunFolder(trained[1]).read_json("metrics.json")["stages"]["train"]
    phases = train["phases"]
    assert list(phases)[:1] == ["epochs"] and "refit on all the history" in phases
    assert sum(phase["seconds"] for phase in phases.values()) <= train["seconds"]
    peaks = [phase["peak_rss_mb"] for phase in phases.values()]
    assert peaks == sorted(peaks) and peaks[-1] <= train["peak_rss_mb"]  # a peak so far, never falling
