"""`OnlineProfiler`: profiles from a list of events, equal to what `update` would store, storing nothing."""
from __future__ import annotations

import numpy as np
import pytest
from live_run import assert_same_tags, make_run, profile_rows, write_csv

from personagraph.errors import PersonaGraphError
from personagraph.shop.shop_data import EVENT_TYPES
from personagraph.shop.shop_validation_error import ShopValidationError
from personagraph.pipeline.incremental_update import IncrementalUpdate
from personagraph.pipeline.online_profiler import OnlineProfiler


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("online"))


@pytest.fixture(scope="module")
def profiler(run):
    return OnlineProfiler.from_run(run.path)


def events_of(profiler: OnlineProfiler, user_id: str) -> list[dict]:
    shop = profiler.shop
    events = shop.events
    rows = np.flatnonzero(events.user == events.user_ids.index(user_id))
    return [{"event": EVENT_TYPES[events.kind[r]], "timestamp": float(events.timestamp[r]),
             "item_id": shop.catalog.item_ids[events.item[r]] if events.item[r] >= 0 else "",
             "query": events.query_texts[events.query[r]] if events.query[r] >= 0 else ""} for r in rows]


def test_a_users_own_events_give_their_stored_profile(profiler, run):
    user_id = profiler.shop.events.user_ids[7]
    online, seen = profiler.profile(events_of(profiler, user_id), user_id="someone")
    stored = profile_rows(run)[user_id]
    np.testing.assert_allclose(online.vectors[0], stored["vector"], atol=1e-6)
    assert online.user_ids == ["someone"] and int(online.segments.labels[0]) == stored["segment"]
    recomputed, recomputed_seen = profiler.stored_profile(user_id)
    np.testing.assert_allclose(online.vectors, recomputed.vectors, atol=1e-6)
    assert_same_tags(online.top_tags(0), recomputed.top_tags(0))
    np.testing.assert_array_equal(seen, recomputed_seen)


def test_an_unseen_users_profile_is_what_update_then_stores(run, tmp_path):
    shop_items = OnlineProfiler.from_run(run.path).shop.catalog.item_ids
    events = [
        {"event": "view", "timestamp": "2025-09-01T10:00:00Z", "item_id": shop_items[4]},
        {"event": "search", "timestamp": "2025-09-01T10:01:00Z", "query": "Never Searched Before",
         "item_id": shop_items[5]},
        {"event": "purchase", "timestamp": "2025-09-01T10:02:00Z", "item_id": shop_items[5]},
    ]
    online, _ = OnlineProfiler.from_run(run.path).profile(events, user_id="visitor")
    before = profile_rows(run)
    assert "visitor" not in before  # profiling stored nothing
    copy = make_run(tmp_path)  # the same run, updated with the visitor's events
    IncrementalUpdate.apply(copy.path, write_csv(tmp_path / "visitor.csv", [{"user_id": "visitor", **e} for e in events]),
                            progress=False)
    stored = profile_rows(copy)["visitor"]
    np.testing.assert_allclose(online.vectors[0], stored["vector"], atol=1e-6)
    assert int(online.segments.labels[0]) == stored["segment"]
    assert set(stored["top_tags"]) <= {tag for tag, _ in online.top_tags(0)}  # equal up to ties at the cut


def test_the_summary_recommends_unseen_items_best_first(profiler):
    user_id = profiler.shop.events.user_ids[3]
    profiles, seen = profiler.stored_profile(user_id)
    summary = profiler.describe(profiles, seen, top=5)
    assert summary["user"] == user_id and summary["vector"]["dim"] == profiles.vectors.shape[1]
    recommended = [item["item_id"] for item in summary["recommendations"]]
    assert len(recommended) == 5 and not {profiler.shop.catalog.index[i] for i in recommended} & set(seen.tolist())
    scores = [item["score"] for item in summary["recommendations"]]
    assert scores == sorted(scores, reverse=True)
    assert summary["segment"]["id"] == int(profiles.segments.labels[0])


def test_unknown_items_and_users_are_refused(profiler):
    with pytest.raises(ShopValidationError, match="unknown item 'nope'"):
        profiler.profile([{"event": "view", "timestamp": "2025-01-01", "item_id": "nope"}])
    with pytest.raises(PersonaGraphError, match="no events"):
        profiler.profile([])
    with pytest.raises(PersonaGraphError, match="no user 'ghost'"):
        profiler.stored_profile("ghost")
