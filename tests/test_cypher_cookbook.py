"""Every query of the README's Cypher cookbook, run as written against the real Neo4j on the trained sample.

Each query's result is checked against what the sample's own data says (the shop's events,
the run's profiles), not only for its shape.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from personagraph.shop.shop_data import EVENT_CODE, EVENT_TYPES


README = Path(__file__).resolve().parents[1] / "README.md"
_COOKBOOK = re.compile(r"^## Cypher cookbook\n(?P<text>.*?)(?=^## |\Z)", re.MULTILINE | re.DOTALL)
_SECTION = re.compile(r"^### (?P<title>.+?)\n(?P<body>.*?)(?=^### |\Z)", re.MULTILINE | re.DOTALL)
_CYPHER = re.compile(r"```cypher\n(?P<query>.*?)```", re.DOTALL)
RELATION = {"view": "VIEWED", "click": "CLICKED", "add_to_cart": "ADDED_TO_CART", "purchase": "PURCHASED",
            "search": "SEARCHED"}


def cookbook_queries() -> dict[str, str]:
    """Section title -> the one Cypher block under it."""
    queries = {}
    cookbook = _COOKBOOK.search(README.read_text(encoding="utf-8"))
    assert cookbook, "README.md has no '## Cypher cookbook' section"
    for section in _SECTION.finditer(cookbook["text"]):
        blocks = _CYPHER.findall(section["body"])
        assert len(blocks) == 1, f"section {section['title']!r} should hold exactly one cypher block"
        queries[section["title"]] = blocks[0]
    return queries


QUERIES = cookbook_queries()


def number(title: str) -> int:
    return int(title.split(".")[0])


@pytest.fixture(scope="module")
def facts(sample):
    """What the checks compare with, from the shop and the run folder rather than from Neo4j."""
    shop, events = sample.shop, sample.shop.events
    profiles = pq.read_table(sample.run_dir / "profiles.parquet").to_pylist()
    user_index = int(np.bincount(events.user).argmax())
    searches = (events.kind == EVENT_CODE["search"]) & (events.query >= 0)
    searchers = Counter(int(q) for q in np.unique(np.stack([events.user[searches], events.query[searches]]), axis=1)[1])
    first_tags = Counter(row["top_tags"][0] for row in profiles if row["top_tags"])
    bought = (events.kind == EVENT_CODE["purchase"]) & (events.item >= 0)
    return {
        "profiles": {row["user_id"]: row for row in profiles},
        "params": {
            "user_id": events.user_ids[user_index],
            "segment": next(row["segment"] for row in profiles if row["user_id"] == events.user_ids[user_index]),
            "candidates": 200,
            "k": 10,
            "tag": first_tags.most_common(1)[0][0],
            "min_weight": 0.5,
            "query": events.query_texts[searchers.most_common(1)[0][0]],
            "max_recency_days": float(np.median([row["recency_days"] for row in profiles])),
            "item_id": shop.catalog.item_ids[int(np.bincount(events.item[bought]).argmax())],
        },
    }


def run(sample, facts, title):
    return run_with(sample, title, facts["params"])


def assert_columns(rows, columns):
    assert rows, "the query returned no rows on the sample"
    assert all(list(row) == columns for row in rows)


def descending(values):
    values = list(values)
    return values == sorted(values, reverse=True)


def test_the_cookbook_covers_the_questions():
    assert len(QUERIES) >= 8
    assert [number(title) for title in QUERIES] == list(range(1, len(QUERIES) + 1))


@pytest.mark.parametrize("title", list(QUERIES), ids=[f"query{number(t)}" for t in QUERIES])
def test_cookbook_query(title, sample, facts):
    CHECKS[number(title)](sample, facts, title)


def check_similar_in_segment(sample, facts, title):
    rows = run(sample, facts, title)
    assert_columns(rows, ["user", "cosine", "segment_name", "top_tags"])
    params, profiles = facts["params"], facts["profiles"]
    members = [u for u, row in profiles.items() if row["segment"] == params["segment"] and u != params["user_id"]]
    me = np.asarray(profiles[params["user_id"]]["vector"])
    vectors = np.stack([profiles[u]["vector"] for u in members])
    exact = np.sort(vectors @ me)[::-1][:10]
    # Compared by score: users with the same history have the same vector, so ties order freely.
    assert [row["cosine"] for row in rows] == pytest.approx(exact, abs=1e-5)
    assert all(row["cosine"] == pytest.approx(profiles[row["user"]]["vector"] @ me, abs=1e-5) for row in rows)
    assert {row["user"] for row in rows} <= set(members)


def check_tag_weight(sample, facts, title):
    rows = run(sample, facts, title)
    assert_columns(rows, ["user", "weight", "segment_name"])
    params = facts["params"]
    assert all(row["weight"] >= params["min_weight"] for row in rows)
    assert descending(row["weight"] for row in rows)
    strongest = {u for u, row in facts["profiles"].items() if row["top_tags"] and row["top_tags"][0] == params["tag"]}
    assert strongest <= {row["user"] for row in rows if row["weight"] == pytest.approx(1.0)}


def check_top_tags_per_segment(sample, facts, title):
    rows = run(sample, facts, title)
    assert_columns(rows, ["segment", "name", "size", "top_tags"])
    links = sample.store.run_cypher(
        "MATCH (s:Segment)<-[:IN_SEGMENT]-(:User)-[r:INTERESTED_IN]->(t:Tag) "
        "RETURN s.id AS s, t.name AS t, r.weight AS w"
    )
    totals: dict[int, Counter] = defaultdict(Counter)
    for link in links:
        totals[link["s"]][link["t"]] += link["w"]
    sizes = Counter(row["segment"] for row in facts["profiles"].values())
    assert [row["segment"] for row in rows] == sorted(sizes)
    for row in rows:
        weights = [tag["weight"] for tag in row["top_tags"]]
        assert len(weights) == 5 and descending(weights) and row["size"] == sizes[row["segment"]]
        best_tag, best_total = totals[row["segment"]].most_common(1)[0]
        assert weights[0] == pytest.approx(best_total / sizes[row["segment"]])
        assert row["top_tags"][0]["tag"] == best_tag or weights[0] == pytest.approx(weights[1])


def check_searched_not_bought(sample, facts, title):
    rows = run(sample, facts, title)
    assert_columns(rows, ["user", "searches", "last_searched", "categories"])
    shop, events = sample.shop, sample.shop.events
    query = events.query_texts.index(facts["params"]["query"])
    searched = (events.kind == EVENT_CODE["search"]) & (events.query == query)
    categories = {shop.catalog.categories[i] for i in events.item[searched & (events.item >= 0)]}
    bought = (events.kind == EVENT_CODE["purchase"]) & (events.item >= 0)
    in_categories = np.array([shop.catalog.categories[i] in categories for i in events.item[bought]], dtype=bool)
    buyers = {int(u) for u in events.user[bought][in_categories]}
    expected = {events.user_ids[u] for u in np.unique(events.user[searched])} - {events.user_ids[u] for u in buyers}
    assert {row["user"] for row in rows} == expected
    assert sorted(rows[0]["categories"]) == sorted(path.split(">")[-1].strip() for path in categories)
    assert descending(row["searches"] for row in rows)


def check_items_bought_by_segment(sample, facts, title):
    rows = run(sample, facts, title)
    assert_columns(rows, ["item", "title", "category", "buyers", "purchases", "share_of_segment"])
    shop, events = sample.shop, sample.shop.events
    segment = facts["params"]["segment"]
    members = {events.user_ids.index(u) for u, row in facts["profiles"].items() if row["segment"] == segment}
    bought = (events.kind == EVENT_CODE["purchase"]) & (events.item >= 0) & np.isin(events.user, list(members))
    buyers = Counter(shop.catalog.item_ids[i] for _, i in set(zip(events.user[bought], events.item[bought])))
    assert [row["buyers"] for row in rows] == sorted(buyers.values(), reverse=True)[: len(rows)]
    assert all(row["buyers"] == buyers[row["item"]] for row in rows)
    assert all(row["share_of_segment"] == pytest.approx(row["buyers"] / len(members)) for row in rows)


def check_neighbourhood(sample, facts, title):
    rows = run(sample, facts, title)
    assert_columns(rows, ["relation", "node", "label", "category", "count", "last_at"])
    shop, events = sample.shop, sample.shop.events
    mine = events.user == events.user_ids.index(facts["params"]["user_id"])
    expected: Counter = Counter()
    for kind, item, query in zip(events.kind[mine], events.item[mine], events.query[mine]):
        name = EVENT_TYPES[kind]
        if name == "search" and query >= 0:
            expected[("SEARCHED", events.query_texts[query])] += 1
        elif name != "search" and item >= 0:
            expected[(RELATION[name], shop.catalog.item_ids[item])] += 1
    assert {(row["relation"], row["node"]): row["count"] for row in rows} == dict(expected)
    assert descending(row["last_at"] for row in rows)
    assert all(row["category"] is not None for row in rows if row["relation"] != "SEARCHED")


def check_stale_profiles(sample, facts, title):
    assert run(sample, facts, title) == []  # right after training, every profile is current
    user_id = facts["params"]["user_id"]
    store = sample.store
    updated = store.run_cypher("MATCH (u:User {id: $id}) RETURN u.updated_at AS t", {"id": user_id})[0]["t"]
    store.run_cypher("MATCH (u:User {id: $id}) SET u.updated_at = datetime('2000-01-01T00:00:00Z')",
                     {"id": user_id}, write=True)
    try:
        rows = run(sample, facts, title)
    finally:
        store.run_cypher("MATCH (u:User {id: $id}) SET u.updated_at = datetime($t)", {"id": user_id, "t": updated},
                         write=True)
    assert_columns(rows, ["user", "profile_updated_at", "last_event", "days_behind"])
    assert [row["user"] for row in rows] == [user_id]
    last_seen = facts["profiles"][user_id]["last_seen"].replace(tzinfo=timezone.utc)
    assert rows[0]["days_behind"] == (last_seen - datetime(2000, 1, 1, tzinfo=timezone.utc)).days


def check_filtered_lookalikes(sample, facts, title):
    rows = run(sample, facts, title)
    assert_columns(rows, ["user", "cosine", "recency_days", "segment_name"])
    params, profiles = facts["params"], facts["profiles"]
    assert len(rows) == params["k"]
    assert all(row["recency_days"] <= params["max_recency_days"] for row in rows)
    me = np.asarray(profiles[params["user_id"]]["vector"])
    for row in rows:
        assert row["cosine"] == pytest.approx(float(np.asarray(profiles[row["user"]]["vector"]) @ me), abs=1e-4)
    assert descending(row["cosine"] for row in rows) and params["user_id"] not in {row["user"] for row in rows}


def check_segment_overview(sample, facts, title):
    rows = run(sample, facts, title)
    assert_columns(rows, ["segment", "name", "users", "mean_events", "mean_purchases", "mean_spend",
                          "mean_recency_days"])
    profiles = facts["profiles"].values()
    assert sum(row["users"] for row in rows) == len(facts["profiles"])
    for row in rows:
        members = [p for p in profiles if p["segment"] == row["segment"]]
        assert row["mean_purchases"] == pytest.approx(np.mean([p["purchase_count"] for p in members]))
        assert row["mean_spend"] == pytest.approx(np.mean([p["spend"] for p in members]))


def check_recommendations(sample, facts, title):
    rows = run(sample, facts, title)
    assert_columns(rows, ["item", "title", "category", "score"])
    seen = sample.store.run_cypher(
        "MATCH (:User {id: $id})-[:VIEWED|CLICKED|ADDED_TO_CART|PURCHASED]->(i:Item) RETURN collect(i.id) AS ids",
        {"id": facts["params"]["user_id"]},
    )[0]["ids"]
    assert len(rows) == facts["params"]["k"] and not {row["item"] for row in rows} & set(seen)
    assert descending(row["score"] for row in rows)


def check_users_for_item(sample, facts, title):
    rows = run(sample, facts, title)
    assert_columns(rows, ["user", "score", "segment_name"])
    shop, events = sample.shop, sample.shop.events
    item = shop.catalog.index[facts["params"]["item_id"]]
    bought = (events.kind == EVENT_CODE["purchase"]) & (events.item == item)
    buyers = {events.user_ids[u] for u in events.user[bought]}
    assert len(rows) == facts["params"]["k"] and not {row["user"] for row in rows} & buyers
    assert descending(row["score"] for row in rows)


def social_facts(sample, facts):
    """Who is linked to whom (either way), who bought what, and everyone's stored top tags."""
    shop, events = sample.shop, sample.shop.events
    links = shop.social
    friends = defaultdict(set)
    for u, v in zip(links.user.tolist(), links.other.tolist()):
        friends[events.user_ids[u]].add(events.user_ids[v])
        friends[events.user_ids[v]].add(events.user_ids[u])
    bought = (events.kind == EVENT_CODE["purchase"]) & (events.item >= 0)
    buyers = defaultdict(set)
    for u, i in zip(events.user[bought].tolist(), events.item[bought].tolist()):
        buyers[shop.catalog.item_ids[i]].add(events.user_ids[u])
    return friends, buyers


def run_with(sample, title, params):
    query = QUERIES[title]
    names = set(re.findall(r"\$(\w+)", query))
    assert names <= set(params), f"no test value for {names - set(params)}"
    return sample.store.run_cypher(query, {name: params[name] for name in names})


def check_influential_in_segment(sample, facts, title):
    rows = run(sample, facts, title)
    assert_columns(rows, ["user", "influence", "links", "community"])
    params, profiles = facts["params"], facts["profiles"]
    members = {u: row["influence"] for u, row in profiles.items() if row["segment"] == params["segment"]}
    assert len(rows) == min(params["k"], len(members))
    assert descending(row["influence"] for row in rows)
    assert [row["influence"] for row in rows] == pytest.approx(sorted(members.values(), reverse=True)[:len(rows)])
    assert all(row["links"] == profiles[row["user"]]["social_links"] for row in rows)


def check_friends_sharing_tag(sample, facts, title):
    friends, buyers = social_facts(sample, facts)
    profiles = facts["profiles"]
    user = max(sorted(friends), key=lambda u: len(friends[u]))
    tag = Counter(t for f in friends[user] for t in profiles[f]["top_tags"] or []).most_common(1)[0][0]
    item = max(sorted(buyers), key=lambda i: len(buyers[i] & friends[user]))  # excludes some friends
    rows = run_with(sample, title, {"user_id": user, "tag": tag, "item_id": item})
    assert_columns(rows, ["friend", "relations", "tag_weight"])
    stored_tags = {row["friend"]: row["tag_weight"] for row in rows}
    interested = {f for f in friends[user] if sample.store.run_cypher(
        "MATCH (:User {id: $f})-[:INTERESTED_IN]->(:Tag {name: $tag}) RETURN 1 AS x", {"f": f, "tag": tag})}
    assert set(stored_tags) == interested - buyers[item]
    assert buyers[item] & friends[user] and descending(stored_tags.values())


def check_friends_bought(sample, facts, title):
    friends, buyers = social_facts(sample, facts)
    item = facts["params"]["item_id"]
    rows = run(sample, facts, title)
    assert_columns(rows, ["user", "friends_who_bought", "segment_name"])
    expected = {u: len(linked & buyers[item]) for u, linked in friends.items()
                if u not in buyers[item] and linked & buyers[item]}
    assert len(rows) == min(facts["params"]["k"], len(expected))
    assert all(row["friends_who_bought"] == expected[row["user"]] for row in rows)
    assert [row["friends_who_bought"] for row in rows] == sorted(expected.values(), reverse=True)[:len(rows)]


CHECKS = {
    1: check_similar_in_segment,
    2: check_tag_weight,
    3: check_top_tags_per_segment,
    4: check_searched_not_bought,
    5: check_items_bought_by_segment,
    6: check_neighbourhood,
    7: check_stale_profiles,
    8: check_filtered_lookalikes,
    9: check_segment_overview,
    10: check_recommendations,
    11: check_users_for_item,
    12: check_influential_in_segment,
    13: check_friends_sharing_tag,
    14: check_friends_bought,
}
