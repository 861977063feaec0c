"""`explain`, `recommend`, `audience` and `segments` on a sample trained and synced to the real Neo4j."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from trained_sample import EMBEDDING_CACHE

from personagraph.shop.shop_data import EVENT_CODE, ITEM_EVENTS


PROFILE_COMMANDS = ("explain", "recommend", "audience", "segments")


def most_active_user(shop) -> str:
    return shop.events.user_ids[int(np.bincount(shop.events.user).argmax())]


def touched(shop, user_id: str) -> tuple[set[str], set[str]]:
    """Ids of the items the user viewed, clicked, carted or bought, and the texts they searched."""
    events = shop.events
    rows = events.user == events.user_ids.index(user_id)
    item_rows = rows & np.isin(events.kind, [EVENT_CODE[name] for name in ITEM_EVENTS])
    items = {shop.catalog.item_ids[i] for i in events.item[item_rows] if i >= 0}
    queries = {events.query_texts[q] for q in events.query[rows] if q >= 0}
    return items, queries


def test_explain_splits_the_stored_profile_among_the_users_edges(sample, run_cli):
    user_id = most_active_user(sample.shop)
    result = run_cli("explain", user_id, "-n", "1000", "--run", str(sample.run_dir),
                     "--cache-dir", str(EMBEDDING_CACHE), "--quiet", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["user"] == user_id and report["run_id"] == sample.summary["run_id"]
    assert report["vector_match"] == pytest.approx(1.0, abs=1e-4)
    evidence = report["evidence"]
    items, queries = touched(sample.shop, user_id)
    assert {e["id"] for e in evidence if e["type"] == "item"} == items
    assert {e["id"] for e in evidence if e["type"] == "query"} == queries
    assert sum(e["score"] for e in evidence) == pytest.approx(1.0, abs=1e-4)
    assert sum(e["attention"] for e in evidence) == pytest.approx(1.0, abs=1e-4)
    assert [e["score"] for e in evidence] == sorted((e["score"] for e in evidence), reverse=True)
    stored = sample.store.run_cypher("MATCH (u:User {id: $id}) RETURN u.segment AS s", {"id": user_id})
    assert report["segment"] == stored[0]["s"]


def test_explain_finds_the_run_of_the_stored_profiles(sample, run_cli, monkeypatch):
    monkeypatch.chdir(sample.root)  # the run is runs/sample, where `personagraph train` puts runs
    user_id = most_active_user(sample.shop)
    result = run_cli("explain", user_id, "-n", "3", "--cache-dir", str(EMBEDDING_CACHE), "--quiet")
    assert result.exit_code == 0, result.output
    assert f"run {sample.summary['run_id']} · vector match 1.0000" in result.stdout
    header = 4 if sample.shop.social is not None else 3  # user, social (with links), run, blank line
    assert result.stdout.splitlines()[header].split()[:2] == ["rank", "type"]
    assert len(result.stdout.strip().splitlines()) == header + 2 + 3  # header lines, table head, 3 rows


def test_explain_errors_in_one_line(sample, run_cli, tmp_path, monkeypatch):
    result = run_cli("explain", "nobody")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: no user 'nobody' in Neo4j — check the id, or store profiles first (`personagraph train`)"
    )
    monkeypatch.chdir(tmp_path)  # no runs/ here
    result = run_cli("explain", most_active_user(sample.shop))
    assert result.exit_code == 1 and "pass --run RUN_DIR" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_recommend_ranks_unseen_items_by_the_models_score(sample, run_cli):
    user_id = most_active_user(sample.shop)
    result = run_cli("recommend", user_id, "-k", "5", "--json")
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    # The exact ranking, computed by brute force over every unseen item's stored vector.
    expected = sample.store.run_cypher(
        "MATCH (u:User {id: $id}), (i:Item) "
        "WHERE NOT EXISTS { (u)-[:VIEWED|CLICKED|ADDED_TO_CART|PURCHASED]->(i) } "
        "RETURN i.id AS id, vector.similarity.cosine(u.embedding, i.embedding) AS score "
        "ORDER BY score DESC, id LIMIT 5",
        {"id": user_id},
    )
    assert [item["id"] for item in items] == [row["id"] for row in expected]
    assert [item["score"] for item in items] == pytest.approx([2 * row["score"] - 1 for row in expected], abs=1e-4)
    assert not {item["id"] for item in items} & touched(sample.shop, user_id)[0]

    result = run_cli("recommend", user_id, "-k", "3", "--include-seen")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.strip().splitlines()) == 2 + 3
    assert run_cli("recommend", "nobody").output.startswith("Error: no user 'nobody' in Neo4j")


def test_recommend_from_the_run_folder_ranks_as_neo4j_does(sample, run_cli):
    user_id = most_active_user(sample.shop)
    result = run_cli("recommend", user_id, "-k", "5", "--json")
    assert result.exit_code == 0, result.output
    from_store = json.loads(result.stdout)
    # No database is needed: an unreachable server changes nothing.
    result = run_cli("recommend", user_id, "-k", "5", "--run", str(sample.run_dir), "--uri", "bolt://127.0.0.1:9", "--json")
    assert result.exit_code == 0, result.output
    from_run = json.loads(result.stdout)
    assert [item["id"] for item in from_run] == [item["id"] for item in from_store]
    assert [item["score"] for item in from_run] == pytest.approx([item["score"] for item in from_store], abs=1e-4)
    assert [{**item, "score": 0} for item in from_run] == [{**item, "score": 0} for item in from_store]


def test_lookups_print_only_their_answer(sample, run_cli, monkeypatch):
    monkeypatch.chdir(sample.root)  # the run is found as `personagraph train` left it
    user_id = most_active_user(sample.shop)
    for args in (("explain", user_id, "-n", "3"), ("recommend", user_id, "-k", "3"),
                 ("recommend", user_id, "-k", "3", "--run", str(sample.run_dir)), ("segments",)):
        result = run_cli(*args)
        assert result.exit_code == 0, result.output
        assert result.stdout and result.stderr == "", args


@pytest.mark.slow
def test_explain_and_recommend_in_a_fresh_process_write_nothing_to_stderr(sample, neo4j_cli_env):
    """Import-time warnings only show in a process that imports torch for the first time."""
    user_id = most_active_user(sample.shop)
    env = os.environ | neo4j_cli_env
    for args in (("explain", user_id, "-n", "3"), ("recommend", user_id, "-k", "3")):
        done = subprocess.run([sys.executable, "-m", "personagraph.cli", *args], cwd=sample.root, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert done.stdout and done.stderr == "", (args, done.stderr)


def test_audience_finds_the_users_interested_in_the_text(sample, run_cli):
    leaf = "Kitchen > Knives > Chef Knives"
    result = run_cli("audience", "chef knife", "-k", "20", "--run", str(sample.run_dir),
                     "--cache-dir", str(EMBEDDING_CACHE), "--quiet", "--json")
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert len(hits) == 20
    assert [hit["score"] for hit in hits] == sorted((hit["score"] for hit in hits), reverse=True)
    base_rate = np.mean([leaf in planted for planted in sample.interests.values()])
    precision = np.mean([leaf in sample.interests[hit["id"]] for hit in hits])
    assert precision >= 3 * base_rate, (precision, base_rate)

    segment = hits[-1]["properties"]["segment"]
    result = run_cli("audience", "chef knife", "-k", "5", "--segment", str(segment), "--run", str(sample.run_dir),
                     "--cache-dir", str(EMBEDDING_CACHE), "--quiet", "--json")
    assert result.exit_code == 0, result.output
    in_segment = json.loads(result.stdout)
    assert len(in_segment) == 5 and {hit["properties"]["segment"] for hit in in_segment} == {segment}


def test_segments_lists_the_stored_segments(sample, run_cli):
    result = run_cli("segments", "--json")
    assert result.exit_code == 0, result.output
    segments = json.loads(result.stdout)
    assert [s["id"] for s in segments] == list(range(sample.summary["counts"]["segments"]))
    members = sample.store.run_cypher(
        "MATCH (u:User)-[:IN_SEGMENT]->(s:Segment) RETURN s.id AS id, count(u) AS n ORDER BY id"
    )
    assert [s["size"] for s in segments] == [row["n"] for row in members]
    assert sum(s["share"] for s in segments) == pytest.approx(1.0)
    assert all(s["top_tags"] and {"tag", "weight"} == set(s["top_tags"][0]) for s in segments)

    table = run_cli("segments").stdout.splitlines()
    assert table[0].split() == ["id", "name", "size", "share", "top_tags"]
    assert segments[0]["name"] in table[2]


def test_commands_have_help(run_cli):
    for name in PROFILE_COMMANDS:
        result = run_cli(name, "--help")
        assert result.exit_code == 0 and "--json" in result.output


def test_explain_shows_the_users_social_features(sample, run_cli):
    """The sample has links: explain shows the stored links by relation, influence, circle and shared tags."""
    links = sample.shop.social
    user = int(np.bincount(np.concatenate([links.user, links.other])).argmax())
    user_id = sample.shop.events.user_ids[user]
    result = run_cli("explain", user_id, "--run", str(sample.run_dir), "--cache-dir", str(EMBEDDING_CACHE),
                     "--quiet", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    social = report["social"]
    linked = len(links.neighbours(np.array([user]), sample.shop.events.num_users))
    assert social["social_links"] == linked <= sum(social["social_relation_counts"])  # one user, several relations
    assert set(social["social_relations"]) <= set(links.relation_names) and social["influence"] > 1.0
    assert social["social_community"] is not None and 0 <= social["friend_tag_agreement"] <= 1
    assert report["vector_match"] == pytest.approx(1.0, abs=1e-4)
    text = run_cli("explain", user_id, "--run", str(sample.run_dir), "--cache-dir", str(EMBEDDING_CACHE), "--quiet")
    assert f"social: {linked} linked users (" in text.output and "influence" in text.output
