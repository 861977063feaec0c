"""The column-by-column sample shop: deterministic, read back as returned, shaped like the row-by-row one."""
from __future__ import annotations

import numpy as np
import pytest

from personagraph.datasets.sample_shop import VECTORISED_FROM_USERS, generate_sample_shop
from personagraph.datasets.vectorised_sample_shop import generate_vectorised_shop
from personagraph.shop.schema import shop_schema
from personagraph.shop.shop_reader import read_shop

USERS, ITEMS = 2000, 300


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_written_files_read_back_to_the_returned_shop(tmp_path, fmt):
    made = generate_vectorised_shop(tmp_path, USERS, ITEMS, 0, fmt, "en", False)
    read = read_shop(tmp_path, progress=False)
    assert read.catalog.item_ids == made.shop.catalog.item_ids and read.catalog.titles == made.shop.catalog.titles
    np.testing.assert_array_equal(read.catalog.prices, made.shop.catalog.prices)
    assert read.events.user_ids == made.shop.events.user_ids
    assert read.events.query_texts == made.shop.events.query_texts
    for name in ("user", "kind", "timestamp", "item", "query"):
        np.testing.assert_array_equal(getattr(read.events, name), getattr(made.shop.events, name))


def test_same_seed_writes_identical_files(tmp_path):
    for folder in ("a", "b"):
        generate_vectorised_shop(tmp_path / folder, USERS, ITEMS, 3, "parquet", "en", False)
    for name in ("items.parquet", "events.parquet"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_shop_is_shaped_like_the_row_by_row_one(lang):
    made = generate_vectorised_shop(None, USERS, ITEMS, 0, "parquet", lang, False)
    rows = generate_sample_shop(None, users=USERS, items=ITEMS, lang=lang)
    schema = shop_schema()
    for shop in (made.shop, rows.shop):
        assert 10 < len(shop.events) / shop.events.num_users < 20
    shares = [np.bincount(shop.events.kind, minlength=len(schema.event_names)) / len(shop.events)
              for shop in (made.shop, rows.shop)]
    np.testing.assert_allclose(shares[0], shares[1], atol=0.03)
    events = made.shop.events
    bought = events.kind == schema.event_code["purchase"]
    in_interests = [made.shop.catalog.categories[item] in made.interests[events.user_ids[user]]
                    for user, item in zip(events.user[bought], events.item[bought])]
    assert np.mean(in_interests) > 0.8
    assert set(made.interests) == set(events.user_ids) and len(made.price_sensitivity) == USERS


def test_large_shops_take_the_vectorised_path(monkeypatch, tmp_path):
    monkeypatch.setattr("personagraph.datasets.sample_shop.VECTORISED_FROM_USERS", 100)
    made = generate_sample_shop(tmp_path, users=150, items=50, fmt="parquet")
    assert made.shop.events.num_users <= 150 and VECTORISED_FROM_USERS == 50_000
    assert (tmp_path / "events.parquet").exists()
