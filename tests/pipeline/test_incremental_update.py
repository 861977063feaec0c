"""`IncrementalUpdate`: which users change, merging, idempotence, and equality with a full recomputation."""
from __future__ import annotations

import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from live_run import assert_same_tags, make_run, profile_rows, two_senders, write_csv

from personagraph.file_locks import LockBusy
from personagraph.pipeline.run_sync import sync_run
from personagraph.store.neo4j_profile_store import Neo4jProfileStore

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


# -- one writer at a time, and files sent again ------------------------------------------------



def test_concurrent_updates_take_turns_and_lose_nothing(run, tmp_path, monkeypatch, profile_store, neo4j_settings):
    def open_store():
        return Neo4jProfileStore.connect(neo4j_settings)

    sync_run(run.path, open_store, progress=False)  # Neo4j holds the run the updates change
    files = two_senders(run, tmp_path)
    shop = Run.load(run.path).shop
    events_before, touched = len(shop.events), {shop.events.user_ids[1], shop.events.user_ids[2], "new-a", "new-b"}
    spans: list[tuple[float, float]] = []
    apply_locked = IncrementalUpdate._apply.__func__

    def slow_apply(cls, *args):  # long enough that the two would overlap without the lock
        start = time.monotonic()
        time.sleep(0.3)
        try:
            return apply_locked(cls, *args)
        finally:
            spans.append((start, time.monotonic()))

    monkeypatch.setattr(IncrementalUpdate, "_apply", classmethod(slow_apply))
    barrier = threading.Barrier(2)

    def send(events_file):
        barrier.wait()
        return IncrementalUpdate.apply(run.path, events_file, open_store=open_store, progress=False, wait=60)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(send, files))
    assert sorted(result.number for result in results) == [1, 2]
    (_, first_end), (second_start, _) = sorted(spans)
    assert first_end <= second_start  # one at a time

    live = Run.load(run.path)
    assert live.updates == 2 and len(live.shop.events) == events_before + 4  # none lost, none doubled
    assert [entry["number"] for entry in run.read_journal()] == [1, 2]
    stored = profile_rows(run)
    neo4j = {row["id"]: row for row in profile_store.run_cypher(
        "MATCH (u:User) RETURN u.id AS id, u.embedding AS embedding, u.run_id AS run_id")}
    assert set(neo4j) == set(stored) and touched <= set(stored)  # profiles.parquet and Neo4j agree
    for user_id, row in neo4j.items():
        np.testing.assert_allclose(row["embedding"], stored[user_id]["vector"], atol=1e-6)
    latest = {user_id: result.run_id for result in sorted(results, key=lambda r: r.number)
              for user_id in result.touched_user_ids}
    assert touched <= set(latest) and {user_id: neo4j[user_id]["run_id"] for user_id in latest} == latest

    monkeypatch.undo()
    files_now = {path: path.read_bytes() for path in run.path.rglob("*") if path.is_file()}
    again = IncrementalUpdate.apply(run.path, files[0], open_store=open_store, progress=False)
    assert again.already_ingested_as == next(r.number for r in results if "new-a" in r.touched_user_ids)
    assert {path: path.read_bytes() for path in run.path.rglob("*") if path.is_file()} == files_now


def test_a_file_sent_again_is_recognised_by_its_content(run, tmp_path):
    events_file, items_file, _ = new_data(run, tmp_path)
    first = IncrementalUpdate.apply(run.path, events_file, items_file, progress=False)
    entry = run.read_journal()[0]
    assert entry["number"] == 1 and entry["run_id"] == first.run_id
    assert entry["events"]["rows"] == 4 and entry["events"]["added"] == 4 and len(entry["events"]["sha256"]) == 64
    assert entry["items"]["rows"] == 2 and entry["items"]["added"] == 1
    files = {path: path.read_bytes() for path in run.path.rglob("*") if path.is_file()}

    renamed = shutil.copy(events_file, tmp_path / "same_bytes_other_name.csv")
    for again in (IncrementalUpdate.apply(run.path, events_file, items_file, progress=False),
                  IncrementalUpdate.apply(run.path, renamed, progress=False)):  # its items came with it before
        assert again.already_ingested_as == 1 and again.number is None and again.touched_user_ids == []
        assert again.counts["events_already_ingested"] == 4 and again.counts["events_added"] == 0
    assert {path: path.read_bytes() for path in run.path.rglob("*") if path.is_file()} == files

    other_items = write_csv(tmp_path / "other_items.csv", [{"item_id": "fresh-2", "title": "Another thing"}])
    update = IncrementalUpdate.apply(run.path, events_file, other_items, progress=False)  # not a replay: new items
    assert update.already_ingested_as is None and update.number == 2 and update.counts["items_added"] == 1
    assert update.counts["events_already_ingested"] == 4


def test_an_update_while_another_writes_the_run_fails_naming_it(run, tmp_path):
    events_file = two_senders(run, tmp_path)[0]
    files = {path: path.read_bytes() for path in run.path.rglob("*") if path.is_file()}
    with run.writing("personagraph update other.csv"):
        with pytest.raises(LockBusy, match=r"is in use by personagraph update other.csv \(pid \d+, since "):
            IncrementalUpdate.apply(run.path, events_file, progress=False)
    assert {path: path.read_bytes() for path in run.path.rglob("*") if path.is_file()} == files
    assert IncrementalUpdate.apply(run.path, events_file, progress=False).number == 1


def test_with_links_an_update_refreshes_the_touched_users_friends_to_their_full_recomputation(tmp_path):
    """A friend's mixed vector and tag agreement read the touched user's profile, so friends are touched too,
    and every refreshed profile equals profiling everybody again; the links survive the shop state."""
    run = make_run(tmp_path, social=True, social_weight=0.3)
    before = profile_rows(run)
    events_file, items_file, touched = new_data(run, tmp_path)
    shop = Run.load(run.path).shop
    assert Run.load(run.path).space.social_weight == pytest.approx(0.3)
    ids = shop.events.user_ids
    friends = {ids[f] for f in shop.social.neighbours(np.array([ids.index(touched[0]), ids.index(touched[1])]),
                                                      shop.events.num_users).tolist()}
    assert friends - set(touched)
    update = IncrementalUpdate.apply(run.path, events_file, items_file, progress=False)
    assert set(update.touched_user_ids) == set(touched) | friends
    after = profile_rows(run)
    for user_id, row in before.items():
        if user_id not in set(touched) | friends:
            assert after[user_id] == row, user_id
    live = Run.load(run.path)
    assert len(live.shop.social) == len(shop.social)  # kept in the shop state
    full = live.space.profile_users(live.model, live.shop)
    for user_id in set(touched) | friends:
        u = live.shop.events.user_ids.index(user_id)
        np.testing.assert_allclose(after[user_id]["vector"], full.vectors[u], atol=1e-6)
        assert after[user_id]["social_links"] == full.social.linked_users[u]
        agreement = full.social.agreement[u]
        assert (after[user_id]["friend_tag_agreement"] is None) == bool(np.isnan(agreement))
