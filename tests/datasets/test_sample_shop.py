from pathlib import Path

import numpy as np
import pytest

from personagraph.errors import PersonaGraphError
from personagraph.datasets.sample_shop import AREAS, AREAS_ZH, generate_sample_shop
from personagraph.shop.shop_data import EVENT_CODE
from personagraph.shop.shop_reader import read_shop

BUNDLED = Path(__file__).resolve().parents[2] / "data" / "sample"


def assert_same_shop(left, right):
    assert left.catalog.item_ids == right.catalog.item_ids
    assert left.catalog.titles == right.catalog.titles
    assert left.catalog.categories == right.catalog.categories
    np.testing.assert_array_equal(left.catalog.prices, right.catalog.prices)
    assert left.events.user_ids == right.events.user_ids
    assert left.events.query_texts == right.events.query_texts
    for name in ("user", "kind", "timestamp", "item", "query"):
        np.testing.assert_array_equal(getattr(left.events, name), getattr(right.events, name))
    assert (left.social is None) == (right.social is None)
    if left.social is not None:
        assert left.social.relation_names == right.social.relation_names
        for name in ("user", "other", "relation", "timestamp"):
            np.testing.assert_array_equal(getattr(left.social, name), getattr(right.social, name))


def test_same_seed_writes_identical_files(tmp_path):
    first = generate_sample_shop(tmp_path / "a", users=60, items=50, seed=3)
    second = generate_sample_shop(tmp_path / "b", users=60, items=50, seed=3)
    other = generate_sample_shop(tmp_path / "c", users=60, items=50, seed=4)
    assert [p.name for p in first.files] == ["items.csv", "events.csv", "social.csv"]
    for a, b, c in zip(first.files, second.files, other.files):
        assert a.read_bytes() == b.read_bytes()
        assert a.read_bytes() != c.read_bytes()


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_written_files_read_back_to_the_returned_shop(tmp_path, fmt):
    result = generate_sample_shop(tmp_path, users=40, items=30, seed=1, fmt=fmt)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"events.{fmt}", f"items.{fmt}", f"social.{fmt}"]
    assert_same_shop(read_shop(tmp_path, progress=False), result.shop)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_small_shop_is_realistic_and_follows_planted_interests(lang):
    result = generate_sample_shop(users=200, items=100, seed=0, lang=lang)
    catalog, events = result.shop.catalog, result.shop.events
    assert len(catalog) == 100 and events.num_users == 200
    assert all(catalog.titles) and all(catalog.categories) and all(catalog.brands)
    assert 30 <= len(set(catalog.categories)) <= 60
    assert len({c.split(" > ")[0] for c in catalog.categories}) in range(6, 9)
    count = {name: int((events.kind == code).sum()) for name, code in EVENT_CODE.items()}
    assert count["view"] > 4 * count["add_to_cart"] > 0
    assert count["add_to_cart"] > count["purchase"] > 0
    assert count["search"] > 0 and ((events.kind == EVENT_CODE["search"]) & (events.item >= 0)).any()
    per_user = np.bincount(events.user, minlength=events.num_users)
    assert per_user.min() >= 1 and per_user.max() > 5 * np.median(per_user)  # heavy-tailed activity
    bought = events.kind == EVENT_CODE["purchase"]
    in_interest = [catalog.categories[item] in result.interests[events.user_ids[user]]
                   for user, item in zip(events.user[bought], events.item[bought])]
    assert np.mean(in_interest) > 0.8
    assert all(abs(sum(w.values()) - 1) < 1e-9 for w in result.interests.values())
    assert all(0 <= s <= 1 for s in result.price_sensitivity.values())


def test_refuses_a_folder_holding_another_format(tmp_path):
    generate_sample_shop(tmp_path, users=5, items=5, fmt="jsonl")
    with pytest.raises(PersonaGraphError, match="already holds items.jsonl, events.jsonl"):
        generate_sample_shop(tmp_path, users=5, items=5, fmt="csv")


def test_bundled_sample_is_what_the_documented_command_makes(tmp_path):
    """data/README.md says `personagraph sample --out data/sample` made it (the defaults)."""
    result = generate_sample_shop(tmp_path)
    for path in result.files:
        assert path.read_bytes() == (BUNDLED / path.name).read_bytes()
    assert (BUNDLED / "events.csv").stat().st_size < 3_000_000


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


def test_chinese_shop_is_worded_in_chinese_and_reads_back(tmp_path):
    result = generate_sample_shop(tmp_path, users=80, items=60, seed=2, lang="zh")
    catalog, events = result.shop.catalog, result.shop.events
    for texts in (catalog.titles, catalog.descriptions, catalog.categories, catalog.brands, events.query_texts):
        assert all(has_chinese(text) for text in texts)
    assert all(has_chinese(leaf) for interests in result.interests.values() for leaf in interests)
    assert_same_shop(read_shop(tmp_path, progress=False), result.shop)
    english = generate_sample_shop(users=80, items=60, seed=2).shop
    assert not any(has_chinese(title) for title in english.catalog.titles)
    # the same catalogue in another language (the events differ: typos draw from the text's length)
    assert catalog.item_ids == english.catalog.item_ids
    np.testing.assert_array_equal(catalog.prices, english.catalog.prices)


def test_chinese_tree_mirrors_the_english_one():
    """Themes are mapped leaf by leaf, so both trees must have the same shape."""
    for english, chinese in zip(AREAS, AREAS_ZH, strict=True):
        assert [len(x) for x in (english.brands, english.adjectives, english.uses)] == \
            [len(x) for x in (chinese.brands, chinese.adjectives, chinese.uses)]
        for (_, _, specs, price), (_, _, specs_zh, price_zh) in zip(english.leaves, chinese.leaves, strict=True):
            assert len(specs) == len(specs_zh) and price == price_zh


def test_unknown_language_is_refused():
    with pytest.raises(PersonaGraphError, match="unknown language 'fr'"):
        generate_sample_shop(users=5, items=5, lang="fr")


def test_social_links_are_planted_with_homophily_and_leave_the_shop_as_it_was(tmp_path):
    """Links join users with a shared planted interest far more often than random pairs, not always;
    they come from their own random stream, so items and events do not change with them."""
    with_links = generate_sample_shop(tmp_path / "with", users=300, items=120, seed=4)
    without = generate_sample_shop(tmp_path / "without", users=300, items=120, seed=4, social=False)
    assert [p.name for p in without.files] == ["items.csv", "events.csv"] and without.shop.social is None
    for a, b in zip(with_links.files, without.files):
        assert a.read_bytes() == b.read_bytes()
    links, ids, interests = with_links.shop.social, with_links.shop.events.user_ids, with_links.interests
    assert len(links) > 300 and set(links.relation_names) == {"follows", "friend", "shared_with", "invited"}
    assert not np.any(links.user == links.other)
    shared = np.mean([bool(set(interests[ids[u]]) & set(interests[ids[v]])) for u, v in zip(links.user, links.other)])
    rng = np.random.default_rng(0)
    pairs = rng.integers(len(ids), size=(3000, 2))
    chance = np.mean([bool(set(interests[ids[a]]) & set(interests[ids[b]])) for a, b in pairs if a != b])
    assert 0.5 < shared < 0.95 and shared > 3 * chance
