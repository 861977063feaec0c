"""How much, how recently and how expensively each user shops: the plain-number part of a profile.

Everything is computed column-wise from the event log (no loop over events or users), and
returned as a dict of numpy arrays, one entry per user, ready to be zipped into rows for Neo4j.
"""
from __future__ import annotations

import numpy as np

from personagraph.shop.schema import PURCHASE, shop_schema
from personagraph.shop.shop_data import Catalog, ShopData

_SECONDS_PER_DAY = 86400.0
_SECONDS_PER_WEEK = 7 * _SECONDS_PER_DAY
#: Mean price percentile below the first bound is "low", above the second "high", else "mid".
PRICE_LEVEL_BOUNDS: tuple[float, float] = (1 / 3, 2 / 3)


def user_activity(shop: ShopData) -> dict[str, np.ndarray]:
    """Per-user activity columns, all of length ``num_users``.

    - ``user_id`` (object), ``<type>_count`` for each event type of the shop schema and
      ``event_count`` (int64)
    - ``first_seen``, ``last_seen``: epoch seconds (float64, NaN for a user without events)
    - ``active_days``, ``active_weeks``: distinct UTC calendar days / weeks with an event (int64)
    - ``recency_days``: days from the user's last event to the log's last event (NaN without events)
    - ``events_per_active_week``: ``event_count / active_weeks`` (0 without events)
    - ``distinct_items``, ``distinct_queries`` (int64)
    - ``spend``: sum of the known prices of purchased items, one unit per purchase event
    - ``price_percentile``: mean over priced purchases of the item's price percentile within
      its category (NaN without priced purchases); ``price_level``: "low" / "mid" / "high"
      by :data:`PRICE_LEVEL_BOUNDS`, None without priced purchases
    """
    events = shop.events
    num_users = events.num_users
    user = events.user.astype(np.int64)
    columns: dict[str, np.ndarray] = {"user_id": np.asarray(events.user_ids, dtype=object)}
    schema = shop_schema()
    for code, name in enumerate(schema.event_names):
        columns[f"{name}_count"] = np.bincount(user[events.kind == code], minlength=num_users).astype(np.int64)
    event_count = np.bincount(user, minlength=num_users).astype(np.int64)
    columns["event_count"] = event_count

    first_seen = np.full(num_users, np.nan)
    last_seen = np.full(num_users, np.nan)
    np.fmin.at(first_seen, user, events.timestamp)
    np.fmax.at(last_seen, user, events.timestamp)
    columns["first_seen"], columns["last_seen"] = first_seen, last_seen
    columns["active_days"] = _distinct_per_user(user, np.floor(events.timestamp / _SECONDS_PER_DAY), num_users)
    active_weeks = _distinct_per_user(user, np.floor(events.timestamp / _SECONDS_PER_WEEK), num_users)
    columns["active_weeks"] = active_weeks
    end = events.timestamp.max() if len(events) else np.nan
    columns["recency_days"] = (end - last_seen) / _SECONDS_PER_DAY
    columns["events_per_active_week"] = np.divide(
        event_count, active_weeks, out=np.zeros(num_users), where=active_weeks > 0
    )
    has_item, has_query = events.item >= 0, events.query >= 0
    columns["distinct_items"] = _distinct_per_user(user[has_item], events.item[has_item], num_users)
    columns["distinct_queries"] = _distinct_per_user(user[has_query], events.query[has_query], num_users)

    bought = (events.kind == schema.event_code[PURCHASE.name]) & has_item
    price = shop.catalog.prices[events.item[bought]]
    priced = ~np.isnan(price)
    buyer = user[bought][priced]
    columns["spend"] = np.bincount(buyer, weights=price[priced], minlength=num_users)
    percentile_sum = np.bincount(
        buyer, weights=category_price_percentile(shop.catalog)[events.item[bought][priced]], minlength=num_users
    )
    priced_purchases = np.bincount(buyer, minlength=num_users)
    percentile = np.divide(
        percentile_sum, priced_purchases, out=np.full(num_users, np.nan), where=priced_purchases > 0
    )
    columns["price_percentile"] = percentile
    level = np.full(num_users, None, dtype=object)
    low, high = PRICE_LEVEL_BOUNDS
    level[percentile < low] = "low"
    level[(percentile >= low) & (percentile <= high)] = "mid"
    level[percentile > high] = "high"
    columns["price_level"] = level
    return columns


def category_price_percentile(catalog: Catalog) -> np.ndarray:
    """Each item's price percentile among the priced items of its category, in (0, 1).

    Mid-rank percentile ``(cheaper + 0.5 * same_price) / priced_in_category``, so a category's
    only priced item sits at 0.5. Items without a category are compared with all priced
    items; items without a price get NaN.
    """
    prices = catalog.prices
    percentile = np.full(len(catalog), np.nan)
    priced = np.flatnonzero(~np.isnan(prices))
    if priced.size == 0:
        return percentile
    categorised = np.array([bool(catalog.categories[i].strip()) for i in priced], dtype=bool)
    group = np.unique(np.asarray(catalog.categories, dtype=str)[priced], return_inverse=True)[1]
    rank = np.unique(prices[priced], return_inverse=True)[1]
    everything = np.zeros_like(group)
    percentile[priced[categorised]] = _percentile_in_group(group, rank, categorised, categorised)
    percentile[priced[~categorised]] = _percentile_in_group(everything, rank, ~categorised, np.ones_like(categorised))
    return percentile


def _percentile_in_group(group: np.ndarray, rank: np.ndarray, members: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Mid-rank percentile of each member's price rank among the ``pool`` items of its group."""
    stride = int(rank.max()) + 1
    pool_key = np.sort(group[pool] * stride + rank[pool])
    key = group[members] * stride + rank[members]
    group_start = np.searchsorted(pool_key, group[members] * stride, "left")
    group_end = np.searchsorted(pool_key, (group[members] + 1) * stride, "left")
    cheaper = np.searchsorted(pool_key, key, "left")
    same = np.searchsorted(pool_key, key, "right") - cheaper
    return (cheaper - group_start + 0.5 * same) / np.maximum(group_end - group_start, 1)


def _distinct_per_user(user: np.ndarray, value: np.ndarray, num_users: int) -> np.ndarray:
    """Number of distinct ``value`` per user."""
    if user.size == 0:
        return np.zeros(num_users, dtype=np.int64)
    pairs = np.unique(np.stack([user.astype(np.float64), value.astype(np.float64)]), axis=1)
    return np.bincount(pairs[0].astype(np.int64), minlength=num_users).astype(np.int64)
