"""`Run`: one loader for every command that reads a run folder, and the one rule that finds it."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from live_run import make_run, profile_rows, write_csv

import personagraph.pipeline.run as run_module
from personagraph.errors import PersonaGraphError
from personagraph.pipeline.incremental_update import IncrementalUpdate
from personagraph.pipeline.run import Run, find_run_dir


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("run"))


def test_loads_model_space_and_shop_of_the_run(run_folder):
    run = Run.load(run_folder.path)
    assert run.run_id == run.trained_run_id == "live-test" and run.updates == 0
    assert run.space.item_ids == run.shop.catalog.item_ids
    stored = profile_rows(run_folder)
    user_id = run.shop.events.user_ids[3]
    np.testing.assert_allclose(run.stored_vector(user_id), stored[user_id]["vector"], atol=1e-6)
    recomputed = run.space.profile_users(run.model, run.shop, np.asarray([run.user_index(user_id)]))
    np.testing.assert_allclose(recomputed.vectors[0], stored[user_id]["vector"], atol=1e-6)


def test_the_encoder_is_loaded_only_when_text_is_encoded(run_folder, monkeypatch):
    loaded = []

    class Encoder:
        def encode(self, texts):
            return np.ones((len(texts), 4), dtype=np.float32)

    def load_text_encoder(spec, cache_dir):
        loaded.append((spec, str(cache_dir)))
        return Encoder()

    monkeypatch.setattr(run_module, "load_text_encoder", load_text_encoder)
    run = Run.load(run_folder.path, cache_dir="elsewhere")
    run.graph, run.item_vectors  # noqa: B018  (what a lookup reads)
    assert loaded == []
    assert run.encode(["a", "b"]).shape == (2, 4) and run.encode(["c"]).shape == (1, 4)
    assert loaded == [(None, "elsewhere")]  # once, the packaged default model, the given cache


def test_after_an_update_the_run_is_the_updated_shop(run_folder, tmp_path):
    copy = make_run(tmp_path)
    user_id = Run.load(copy.path).shop.events.user_ids[0]
    item_id = Run.load(copy.path).shop.catalog.item_ids[5]
    events = write_csv(tmp_path / "new.csv", [
        {"user_id": user_id, "event": "view", "timestamp": "2025-09-01T10:00:00Z", "item_id": item_id},
        {"user_id": "visitor", "event": "view", "timestamp": "2025-09-01T10:00:00Z", "item_id": item_id},
    ])
    IncrementalUpdate.apply(copy.path, events, progress=False)
    run = Run.load(copy.path)
    assert run.updates == 1 and run.run_id == "live-test+update-0001" and run.trained_run_id == "live-test"
    stored = profile_rows(copy)
    for user in (user_id, "visitor"):
        np.testing.assert_allclose(run.stored_vector(user), stored[user]["vector"], atol=1e-6)


def test_recommend_ranks_unseen_items_by_the_stored_vectors(run_folder):
    run = Run.load(run_folder.path)
    user_id = run.shop.events.user_ids[2]
    vector = run.stored_vector(user_id)
    items = run.item_vectors / np.linalg.norm(run.item_vectors, axis=1, keepdims=True)
    scores = items @ (vector / np.linalg.norm(vector))
    events = run.shop.events
    seen = set(events.item[(events.user == 2) & (events.item >= 0) & (events.query < 0)].tolist())
    best = run.recommend(user_id, k=5)
    assert not {run.shop.catalog.index[r.id] for r in best} & seen
    assert [r.score for r in best] == sorted((r.score for r in best), reverse=True)
    unseen = [i for i in range(len(scores)) if i not in seen]
    assert best[0].score == pytest.approx(max(scores[unseen]), abs=1e-6)
    assert run.recommend(user_id, k=1, include_seen=True)[0].score == pytest.approx(scores.max(), abs=1e-6)
    with pytest.raises(PersonaGraphError, match="no profile of user 'nobody'"):
        run.recommend("nobody")


def test_a_bad_folder_is_a_clear_error(run_folder, tmp_path):
    with pytest.raises(PersonaGraphError, match=r"is not a run folder \(it does not exist\); pass --run RUN_DIR"):
        Run.load(tmp_path / "missing")
    with pytest.raises(PersonaGraphError, match="has no config.json"):
        Run.load(tmp_path)
    broken = tmp_path / "broken"
    shutil.copytree(run_folder.path, broken)
    (broken / "profile_space.pt").unlink()
    with pytest.raises(PersonaGraphError, match="no profile space"):
        Run.load(broken)
    (broken / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(PersonaGraphError, match="not a readable model checkpoint"):
        Run.load(broken)


def test_changed_shop_data_is_refused(tmp_path):
    folder = make_run(tmp_path)
    make_run(tmp_path / "other", items=41, seed=2)
    shutil.rmtree(tmp_path / "shop")
    shutil.copytree(tmp_path / "other" / "shop", tmp_path / "shop")
    with pytest.raises(PersonaGraphError, match="no longer lists the items and queries"):
        Run.load(folder.path)


def test_one_rule_finds_the_run(tmp_path):
    runs = tmp_path / "runs"
    older, newer = make_run(tmp_path / "a"), make_run(tmp_path / "b", seed=2)
    runs.mkdir()
    shutil.move(older.path, runs / "older")
    shutil.move(newer.path, runs / "newer")
    (runs / "newer" / "config.json").write_text('{"run_id": "other-run"}\n')
    os.utime(runs / "older" / "profiles.parquet", (1, 1))
    assert find_run_dir("explicit/path", "live-test", runs) == Path("explicit/path")  # --run wins
    assert find_run_dir(None, "live-test+update-0003", runs) == runs / "older"  # the stored profiles' run
    assert find_run_dir(None, None, runs) == runs / "newer"  # else the newest
    with pytest.raises(PersonaGraphError, match="no folder under .* holds it — pass --run RUN_DIR"):
        find_run_dir(None, "gone", runs)
    with pytest.raises(PersonaGraphError, match="no run folder under .*; pass --run RUN_DIR"):
        find_run_dir(None, None, tmp_path / "empty")
