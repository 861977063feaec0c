"""`IncrementalUpdate`: which users change, merging, idempotence, and equality with a full recomputation."""
from __future__ import annotations

import numpy as np
import pytest
from live_run import assert_same_tags, make_run, profile_rows, write_csv

from personagraph.shop.shop_data import EVENT_CODE, Catalog, EventLog
from personagraph.shop.shop_reader import shop_from_rows
from personagraph.shop.shop_validation_error import ShopValidationError
from personagraph.pipeline.incremental_update import (
    IncrementalUpdate,
    merge_shop,
    touched_users,
)
from personagraph.pipeline.run import Run
from personagraph.pipeline.run_folder import RunFolder

VIEW, SEARCH = EVENT_CODE["view"], EVENT_CODE["search"]


def log(user, kind, item, query, num_users=4) -> EventLog:
    n = len(user)
    return EventLog(user_ids=[f"u{i}" for i in range(num_users)], user=np.asarray(user), kind=np.asarray(kind, np.int8),
                    timestamp=np.arange(n, dtype=float), item=np.asarray(item), query=np.asarray(query),
                    query_texts=["a", "b"])


def test_users_with_a_new_event_are_touched():
    events = log([0, 0, 1, 2, 3], [VIEW] * 5, [0, 1, 1, 2, 3], [-1] * 5)
    is_new = np.array([False, True, False, False, True])
    np.testing.assert_array_equal(touched_users(events, is_new), [0, 3])
    np.testing.assert_array_equal(touched_users(events, np.zeros(5, bool)), [])


def test_users_of_a_changed_item_or_query_are_touched_too():
    events = log([0, 1, 2, 3], [VIEW, VIEW, SEARCH, VIEW], [0, 1, -1, 2], [-1, -1, 1, -1])
    nothing_new = np.zeros(4, bool)
    np.testing.assert_array_equal(touched_users(events, nothing_new, changed_items=np.array([1])), [1])
    np.testing.assert_array_equal(touched_users(events, nothing_new, changed_queries=np.array([1])), [2])
    np.testing.assert_array_equal(
        touched_users(events, nothing_new, changed_items=np.array([0, 2]), changed_queries=np.array([0])), [0, 3])


ITEMS = [{"item_id": "i1", "title": "drill"}, {"item_id": "i2", "title": "saw"}]


def test_merging_appends_new_users_and_queries_and_drops_events_already_stored():
    shop = shop_from_rows(ITEMS, [
        {"user_id": "bob", "event": "view", "timestamp": "10", "item_id": "i1"},
        {"user_id": "dan", "event": "search", "timestamp": "20", "query": "saw"},
    ])
    incoming = shop_from_rows(ITEMS, [
        {"user_id": "bob", "event": "view", "timestamp": "10", "item_id": "i1"},  # already stored
        {"user_id": "bob", "event": "view", "timestamp": "5", "item_id": "i2"},
        {"user_id": "amy", "event": "search", "timestamp": "30", "query": "Drill  bits"},
        {"user_id": "dan", "event": "search", "timestamp": "40", "query": "saw"},
    ])
    no_items = Catalog([], [], [], [], [], np.zeros(0))
    merged, is_new = merge_shop(shop, no_items, incoming)
    events = merged.events
    assert events.user_ids == ["bob", "dan", "amy"]
    assert events.query_texts == ["saw", "drill bits"]
    assert is_new.sum() == 3
    rows = list(zip([events.user_ids[u] for u in events.user], events.timestamp.tolist(), is_new.tolist()))
    assert rows == [("bob", 5.0, True), ("bob", 10.0, False), ("dan", 20.0, False), ("dan", 40.0, True),
                    ("amy", 30.0, True)]
    assert events.query.tolist() == [-1, -1, 0, 0, 1]
    again, is_new_again = merge_shop(merged, no_items, incoming)
    assert not is_new_again.any() and len(again.events) == len(events)


def test_merging_events_without_any_search():
    shop = shop_from_rows(ITEMS, [{"user_id": "dan", "event": "search", "timestamp": "20", "query": "saw"}])
    incoming = shop_from_rows(ITEMS, [{"user_id": "bob", "event": "view", "timestamp": "10", "item_id": "i1"}])
    merged, is_new = merge_shop(shop, Catalog([], [], [], [], [], np.zeros(0)), incoming)
    assert merged.events.query.tolist() == [0, -1] and is_new.tolist() == [False, True]


@pytest.fixture
def run(tmp_path) -> RunFolder:
    return make_run(tmp_path)


def new_data(run: RunFolder, tmp_path, stamp: str = "2025-09-01T10:00:00Z"):
    """Events for two existing users (one buys a new item) and a new user, plus the new item."""
    shop = Run.load(run.path).shop
    users, items = shop.events.user_ids, shop.catalog
    items_file = write_csv(tmp_path / "new_items.csv", [
        {"item_id": "fresh-1", "title": "Fresh thing", "description": "new", "category": items.categories[0],
         "brand": items.brands[0], "price": "12.5"},
        {"item_id": items.item_ids[1], "title": "known item, left as it is"},
    ])
    events_file = write_csv(tmp_path / "new_events.csv", [
        {"user_id": users[0], "event": "view", "timestamp": stamp, "item_id": items.item_ids[3]},
        {"user_id": users[5], "event": "purchase", "timestamp": stamp, "item_id": "fresh-1"},
        {"user_id": "newcomer", "event": "search", "timestamp": stamp, "item_id": "fresh-1", "query": "fresh thing"},
        {"user_id": "newcomer", "event": "click", "timestamp": stamp, "item_id": items.item_ids[2]},
    ])
    return events_file, items_file, [users[0], users[5], "newcomer"]


def test_an_update_refreshes_only_touched_users_to_their_full_recomputation(run, tmp_path):
    before = profile_rows(run)
    events_file, items_file, touched = new_data(run, tmp_path)
    update = IncrementalUpdate.apply(run.path, events_file, items_file, progress=False)
    assert update.number == 1 and update.run_id == "live-test+update-0001"
    assert sorted(update.touched_user_ids) == sorted(touched)
    assert update.counts["users_added"] == 1
    assert update.counts["users_refreshed"] == 2 and update.counts["items_added"] == 1
    assert update.counts["items_already_known"] == 1 and update.counts["queries_added"] == 1

    after = profile_rows(run)
    assert set(after) == set(before) | {"newcomer"}
    for user_id, row in before.items():
        if user_id not in touched:
            assert after[user_id] == row, user_id  # untouched: exactly as stored

    live = Run.load(run.path)
    shop = live.shop
    assert live.updates == 1 and "fresh-1" in shop.catalog.index
    full = live.space.profile_users(live.model, shop)
    for user_id in touched:
        u = shop.events.user_ids.index(user_id)
        row = after[user_id]
        np.testing.assert_allclose(row["vector"], full.vectors[u], atol=1e-6)
        assert row["segment"] == full.segments.labels[u]
        assert row["event_count"] == full.activity["event_count"][u]
        assert_same_tags([(t, 0.0) for t in row["top_tags"]], [(t, 0.0) for t, _ in full.top_tags(u, 5)])
    record = run.update_folder(1)
    assert {p.name for p in record.iterdir()} == {"events.parquet", "items.parquet", "update.json"}
    assert run.read_json("updates/0001/update.json")["touched_user_ids"] == update.touched_user_ids


def test_sending_the_same_update_twice_changes_nothing(run, tmp_path):
    events_file, items_file, _ = new_data(run, tmp_path)
    IncrementalUpdate.apply(run.path, events_file, items_file, progress=False)
    files = {path: path.read_bytes() for path in run.path.rglob("*") if path.is_file()}
    again = IncrementalUpdate.apply(run.path, events_file, items_file, progress=False)
    assert again.number is None and again.touched_user_ids == []
    assert again.counts["events_already_ingested"] == 4 and again.counts["items_already_known"] == 2
    assert {path: path.read_bytes() for path in run.path.rglob("*") if path.is_file()} == files


def test_a_second_update_gets_the_next_number(run, tmp_path):
    events_file, items_file, _ = new_data(run, tmp_path)
    IncrementalUpdate.apply(run.path, events_file, items_file, progress=False)
    later, _, _ = new_data(run, tmp_path, stamp="2025-09-02T10:00:00Z")
    update = IncrementalUpdate.apply(run.path, later, progress=False)
    assert update.number == 2 and update.run_id.endswith("+update-0002")
    assert update.counts["events_added"] == 4 and update.counts["users_added"] == 0


def test_a_bad_row_stores_nothing_and_names_the_file_and_line(run, tmp_path):
    files = {path: path.read_bytes() for path in run.path.rglob("*") if path.is_file()}
    shop = Run.load(run.path).shop
    bad = write_csv(tmp_path / "incoming.csv", [
        {"user_id": shop.events.user_ids[0], "event": "view", "timestamp": "2025-09-01T10:00:00Z",
         "item_id": shop.catalog.item_ids[0]},
        {"user_id": "x", "event": "view", "timestamp": "2025-09-01T10:00:00Z", "item_id": "no-such-item"},
        {"user_id": "x", "event": "teleport", "timestamp": "2025-09-01T10:00:00Z"},
    ])
    with pytest.raises(ShopValidationError) as error:
        IncrementalUpdate.apply(run.path, bad, progress=False)
    message = str(error.value)
    assert "incoming.csv:3: item_id: unknown item 'no-such-item' (not in the run's items or --items)" in message
    assert "incoming.csv:4: event: unknown event type 'teleport'" in message
    assert {path: path.read_bytes() for path in run.path.rglob("*") if path.is_file()} == files


def test_new_items_without_events_are_added_and_touch_nobody(run, tmp_path):
    _, items_file, _ = new_data(run, tmp_path)
    before = profile_rows(run)
    no_events = tmp_path / "no_events.csv"
    no_events.write_text("user_id,event,timestamp\n", encoding="utf-8")
    update = IncrementalUpdate.apply(run.path, no_events, items_file, progress=False)
    assert update.number == 1 and update.counts["items_added"] == 1 and update.touched_user_ids == []
    assert profile_rows(run) == before
    live = Run.load(run.path)
    shop, vectors = live.shop, live.item_vectors
    assert shop.catalog.item_ids[-1] == "fresh-1" and np.isfinite(vectors[-1]).all()
    assert np.linalg.norm(vectors[-1]) == pytest.approx(1.0, abs=1e-5)
