import math

import numpy as np
import pytest

from personagraph.shop.shop_reader import shop_from_rows
from personagraph.profiles.activity import category_price_percentile, user_activity

DAY = 86400.0
ITEMS = [
    {"item_id": "cheap", "title": "", "category": "Drills", "price": 10.0},
    {"item_id": "mid", "title": "", "category": "Drills", "price": 20.0},
    {"item_id": "dear", "title": "", "category": "Drills", "price": 30.0},
    {"item_id": "hose", "title": "", "category": "Hoses", "price": 5.0},
    {"item_id": "unpriced", "title": "", "category": "Drills"},
    {"item_id": "loose", "title": "", "price": 25.0},  # no category: ranked against every priced item
]


def event(user, kind, timestamp, item=None, query=None):
    return {"user_id": user, "event": kind, "timestamp": timestamp, "item_id": item, "query": query}


@pytest.fixture
def activity():
    events = [
        event("u0", "view", 0.0, "cheap"),
        event("u0", "click", 60.0, "cheap"),
        event("u0", "purchase", DAY + 10, "cheap"),
        event("u0", "purchase", DAY + 20, "hose"),
        event("u0", "purchase", DAY + 30, "unpriced"),
        event("u0", "search", 8 * DAY, query="drill"),
        event("u1", "purchase", 2 * DAY, "dear"),
        event("u1", "purchase", 2 * DAY + 5, "loose"),
        event("u2", "search", 3 * DAY, query="drill"),
        event("u2", "search", 10 * DAY, query="hose"),
    ]
    return user_activity(shop_from_rows(ITEMS, events))


def test_counts_and_distinct(activity):
    assert activity["user_id"].tolist() == ["u0", "u1", "u2"]
    assert activity["view_count"].tolist() == [1, 0, 0]
    assert activity["click_count"].tolist() == [1, 0, 0]
    assert activity["purchase_count"].tolist() == [3, 2, 0]
    assert activity["search_count"].tolist() == [1, 0, 2]
    assert activity["add_to_cart_count"].tolist() == [0, 0, 0]
    assert activity["event_count"].tolist() == [6, 2, 2]
    assert activity["distinct_items"].tolist() == [3, 2, 0]
    assert activity["distinct_queries"].tolist() == [1, 0, 2]


def test_time_columns(activity):
    assert activity["first_seen"].tolist() == [0.0, 2 * DAY, 3 * DAY]
    assert activity["last_seen"].tolist() == [8 * DAY, 2 * DAY + 5, 10 * DAY]
    assert activity["recency_days"] == pytest.approx([2.0, 8 - 5 / DAY, 0.0])
    assert activity["active_days"].tolist() == [3, 1, 2]  # u0: days 0, 1 and 8
    # epoch weeks start on Thursday 1970-01-01: days 0-6 are week 0, days 7-13 week 1
    assert activity["active_weeks"].tolist() == [2, 1, 2]
    assert activity["events_per_active_week"] == pytest.approx([3.0, 2.0, 1.0])


def test_spend_and_price_level(activity):
    assert activity["spend"] == pytest.approx([15.0, 55.0, 0.0])
    # u0: cheap is 1/6 in Drills (10 < 20 < 30), hose is 1/2 (alone in Hoses): mean 1/3 -> mid
    # u1: dear is 5/6 in Drills; loose (25) is (3 cheaper + 0.5) / 5 among all priced items: mean 0.7667 -> high
    assert activity["price_percentile"][:2] == pytest.approx([1 / 3, (5 / 6 + 0.7) / 2])
    assert math.isnan(activity["price_percentile"][2])
    assert activity["price_level"].tolist() == ["mid", "high", None]


def test_category_price_percentile_uses_mid_ranks():
    items = [
        {"item_id": str(i), "title": "", "category": "A", "price": p} for i, p in enumerate([10.0, 10.0, 30.0])
    ] + [{"item_id": "x", "title": "", "category": "A"}]
    shop = shop_from_rows(items, [event("u0", "view", 0.0, "0")])
    percentile = category_price_percentile(shop.catalog)
    assert percentile[:3] == pytest.approx([1 / 3, 1 / 3, 5 / 6])
    assert math.isnan(percentile[3])


def test_low_price_level_and_shop_without_prices():
    events = [event("u0", "purchase", 0.0, "cheap"), event("u1", "purchase", 0.0, "unpriced")]
    activity = user_activity(shop_from_rows(ITEMS, events))
    assert activity["price_level"].tolist() == ["low", None]
    unpriced = [{"item_id": "a", "title": ""}, {"item_id": "b", "title": ""}]
    activity = user_activity(shop_from_rows(unpriced, [event("u0", "purchase", 0.0, "a")]))
    assert activity["spend"].tolist() == [0.0]
    assert activity["price_level"].tolist() == [None]
    assert np.isnan(activity["price_percentile"]).all()
