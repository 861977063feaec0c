"""`personagraph update` and `profile` on a sample trained and synced to the real Neo4j."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from live_run import make_run, profile_rows, two_senders, write_csv
from trained_sample import EMBEDDING_CACHE

from personagraph.cli.main import cli
from personagraph.pipeline.run import Run


USER_PROPERTIES = ("MATCH (u:User) RETURN u.id AS id, u.run_id AS run_id, toString(u.updated_at) AS updated_at, "
                   "u.embedding AS embedding, u.top_tags AS top_tags, u.segment AS segment ORDER BY id")


def friends_of(shop, user_id: str) -> list[str]:
    """Ids of the users linked to ``user_id`` (either way) in the shop's social table."""
    ids = shop.events.user_ids
    return [ids[f] for f in shop.social.neighbours(np.array([ids.index(user_id)]), len(ids)).tolist()]


def test_update_writes_only_the_touched_profiles_and_the_new_item(sample, run_cli, tmp_path):
    store, shop = sample.store, sample.shop
    regular, title = shop.events.user_ids[0], "Ironbark Cordless Impact Driver 20V Brushless"
    items_file = write_csv(tmp_path / "items.csv", [{
        "item_id": "i-fresh", "title": title, "description": "A brushless impact driver by Ironbark.",
        "category": shop.catalog.categories[0], "brand": "Ironbark", "price": "149.0"}])
    events_file = write_csv(tmp_path / "events.csv", [
        {"user_id": regular, "event": "view", "timestamp": "2025-12-01T10:00:00Z", "item_id": shop.catalog.item_ids[5]},
        {"user_id": "visitor-1", "event": "search", "timestamp": "2025-12-01T11:00:00Z", "query": "impact driver",
         "item_id": "i-fresh"},
        {"user_id": "visitor-1", "event": "purchase", "timestamp": "2025-12-01T11:05:00Z", "item_id": "i-fresh"},
    ])
    before = {row["id"]: row for row in store.run_cypher(USER_PROPERTIES)}

    result = run_cli("update", str(events_file), "--items", str(items_file), "--run", str(sample.run_dir),
                     "--cache-dir", str(EMBEDDING_CACHE), "--quiet", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    run_id = f"{sample.summary['run_id']}+update-0001"
    refreshed = [regular, *friends_of(shop, regular)]  # a friend's social mix and agreement read the user's profile
    assert summary["run_id"] == run_id and sorted(summary["touched_user_ids"]) == sorted([*refreshed, "visitor-1"])
    assert summary["counts"]["users_added"] == 1 and summary["counts"]["users_refreshed"] == len(refreshed)

    after = {row["id"]: row for row in store.run_cypher(USER_PROPERTIES)}
    assert set(after) == set(before) | {"visitor-1"}
    for user_id, row in before.items():
        if user_id not in refreshed:
            assert after[user_id] == row, user_id  # untouched, down to updated_at
    stored = {row["user_id"]: row for row in pq.read_table(sample.run_dir / "profiles.parquet").to_pylist()}
    for user_id in (*refreshed, "visitor-1"):
        assert after[user_id]["run_id"] == run_id
        np.testing.assert_allclose(after[user_id]["embedding"], stored[user_id]["vector"], atol=1e-6)
        assert after[user_id]["top_tags"] == stored[user_id]["top_tags"]

    # The new item is in the item vector index at once, linked to its category, query and buyer.
    rows = store.run_cypher(
        "MATCH (i:Item {id: 'i-fresh'})-[:IN_CATEGORY]->(c:Category) "
        "MATCH (:User {id: 'visitor-1'})-[:PURCHASED]->(i)<-[:LEADS_TO]-(:Query {id: 'impact driver'}) "
        "CALL db.index.vector.queryNodes('item_embedding', 1, i.embedding) YIELD node "
        "RETURN i.title AS title, c.id AS category, node.id AS nearest")
    assert rows == [{"title": title, "category": shop.catalog.categories[0], "nearest": "i-fresh"}]

    again = run_cli("update", str(events_file), "--items", str(items_file), "--run", str(sample.run_dir),
                    "--cache-dir", str(EMBEDDING_CACHE), "--quiet")
    assert again.exit_code == 0, again.output
    assert "already ingested as update 1" in again.stdout and "nothing changed" in again.stdout
    assert {row["id"]: row for row in store.run_cypher(USER_PROPERTIES)} == after


def test_update_refuses_bad_rows_with_file_and_line(sample, run_cli, tmp_path):
    events_file = write_csv(tmp_path / "bad.csv", [
        {"user_id": "v", "event": "view", "timestamp": "yesterday", "item_id": sample.shop.catalog.item_ids[0]}])
    users = sample.store.count("User")
    result = run_cli("update", str(events_file), "--run", str(sample.run_dir), "--quiet")
    assert result.exit_code == 1
    assert "bad.csv:2: timestamp: cannot read 'yesterday'" in result.output
    assert sample.store.count("User") == users


def test_profile_of_a_stored_user_and_of_an_unseen_one(sample, run_cli):
    user_id = sample.shop.events.user_ids[3]
    result = run_cli("profile", user_id, "--run", str(sample.run_dir), "--json")
    assert result.exit_code == 0, result.output
    stored = json.loads(result.stdout)
    assert stored["user"] == user_id and stored["top_tags"] and len(stored["recommendations"]) == 10

    users = sample.store.count("User")
    events = [{"event": "view", "timestamp": "2025-12-02T09:00:00Z", "item_id": sample.shop.catalog.item_ids[0]},
              {"event": "purchase", "timestamp": "2025-12-02T09:05:00Z", "item_id": sample.shop.catalog.item_ids[1]}]
    result = run_cli("profile", "-", "--run", str(sample.run_dir), "-n", "3", input=json.dumps(events))
    assert result.exit_code == 0, result.output
    assert "user new-user" in result.stdout and "segment:" in result.stdout
    assert sample.store.count("User") == users  # nothing stored

    result = run_cli("profile", "--run", str(sample.run_dir))
    assert result.exit_code == 2 and "give USER_ID" in result.output


def test_after_an_update_audience_and_explain_agree_with_the_stored_profiles(sample, run_cli, tmp_path):
    """A user who starts buying chef knives: audience and explain work in the stored profiles' space."""
    leaf, text = "Kitchen > Knives > Chef Knives", "chef knife"
    shop = sample.shop
    user_id = next(u for u in shop.events.user_ids[10:] if leaf not in sample.interests[u])
    knives = [item_id for item_id, category in zip(shop.catalog.item_ids, shop.catalog.categories) if category == leaf]

    def audience() -> dict[str, float]:
        result = run_cli("audience", text, "-k", "300", "--run", str(sample.run_dir), "--cache-dir",
                         str(EMBEDDING_CACHE), "--json")
        assert result.exit_code == 0, result.output
        return {hit["id"]: hit["score"] for hit in json.loads(result.stdout)}

    before = audience()
    events = write_csv(tmp_path / "knives.csv", [
        row for n, item_id in enumerate(knives[:4]) for row in (
            {"user_id": user_id, "event": "search", "timestamp": f"2026-01-0{n + 1}T10:00:00Z", "query": text,
             "item_id": item_id},
            {"user_id": user_id, "event": "purchase", "timestamp": f"2026-01-0{n + 1}T10:05:00Z", "item_id": item_id})
    ])
    result = run_cli("update", str(events), "--run", str(sample.run_dir), "--cache-dir", str(EMBEDDING_CACHE),
                     "--quiet", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["touched_user_ids"] == sorted([user_id, *friends_of(sample.shop, user_id)])
    after = audience()
    assert after[user_id] > before[user_id]

    # The audience scores are the cosines of the text's profile with the stored vectors, in the run's space.
    from personagraph.pipeline.run import Run
    from personagraph.pipeline.text_audience import TextAudience

    run = Run.load(sample.run_dir, EMBEDDING_CACHE)
    vector = TextAudience.from_run(run).vector(text)
    def unit(vector):  # a profile with no spectral part (only queries or new items) is shorter than 1
        return vector / np.linalg.norm(vector)

    vector = unit(vector)
    stored = {row["id"]: unit(np.asarray(row["embedding"])) for row in sample.store.run_cypher(USER_PROPERTIES)}
    for hit_id, score in after.items():
        assert score == pytest.approx(float(stored[hit_id] @ vector), abs=1e-4), hit_id
    best = sorted((float(embedding @ vector) for embedding in stored.values()), reverse=True)
    assert list(after.values())[:20] == pytest.approx(best[:20], abs=1e-4)

    # explain recomputes the updated profile exactly from the same space.
    result = run_cli("explain", user_id, "-n", "1000", "--run", str(sample.run_dir), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["vector_match"] == pytest.approx(1.0, abs=1e-4) and report["run_id"] == run.run_id
    assert {e["id"] for e in report["evidence"] if e["type"] == "query"} >= {text}
    assert result.stderr == ""


# -- one writer per run ---------------------------------------------------------------------------
def test_update_of_a_run_being_written_fails_naming_the_writer(tmp_path):
    run = make_run(tmp_path)
    events_file = two_senders(run, tmp_path)[0]
    with run.writing("personagraph train shop"):
        result = CliRunner().invoke(cli, ["update", str(events_file), "--run", str(run.path), "--no-sync", "--quiet"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    (line,) = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert line.startswith(f"Error: run folder {run.path} is in use by personagraph train shop (pid {os.getpid()}, "
                           "since ")
    assert line.endswith("wait for it to finish, or pass --wait SECONDS to wait for it")
    assert not run.update_folder(1).exists()


def test_update_sent_again_is_recognised_and_changes_nothing(tmp_path):
    run = make_run(tmp_path)
    events_file = two_senders(run, tmp_path)[0]
    args = ["update", str(events_file), "--run", str(run.path), "--no-sync", "--quiet"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0 and f"update 1 of {run.path}" in first.output, first.output
    files = {path: path.read_bytes() for path in run.path.rglob("*") if path.is_file()}
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert again.output.strip() == f"{events_file} already ingested as update 1 of run {run.path}; nothing changed"
    assert {path: path.read_bytes() for path in run.path.rglob("*") if path.is_file()} == files
