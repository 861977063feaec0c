import numpy as np

from personagraph.shop.leave_last_out import leave_last_out
from personagraph.shop.shop_data import EVENT_CODE, Catalog, EventLog, ShopData

V, C, A, P, S = (EVENT_CODE[name] for name in ("view", "click", "add_to_cart", "purchase", "search"))
# (user, kind, timestamp, item) per event, sorted by user then time.
EVENTS = [
    (0, V, 1, 0), (0, P, 2, 1), (0, C, 3, 2), (0, P, 4, 3), (0, V, 5, 4), (0, S, 6, -1),  # two purchases
    (1, C, 1, 0), (1, C, 2, 1), (1, V, 3, 2),  # clicks only
    (2, P, 1, 0), (2, V, 2, 1),  # a single positive event
    (3, V, 1, 2), (3, P, 5, 0), (3, P, 5, 1),  # both purchases at once: nothing earlier to learn from
    (4, P, 1, 0), (4, A, 2, 1), (4, C, 3, 2),  # one purchase, so carts count too
]


def shop() -> ShopData:
    user, kind, ts, item = (np.array(column) for column in zip(*EVENTS))
    events = EventLog(user_ids=[f"u{i}" for i in range(5)], user=user.astype(np.int64), kind=kind.astype(np.int8),
                      timestamp=ts.astype(np.float64), item=item.astype(np.int64),
                      query=np.where(kind == S, 0, -1).astype(np.int64), query_texts=["tape"])
    catalog = Catalog(item_ids=[f"i{i}" for i in range(5)], titles=[""] * 5, categories=[""] * 5,
                      brands=[""] * 5, descriptions=[""] * 5, prices=np.full(5, np.nan))
    return ShopData(catalog=catalog, events=events)


def test_targets_are_the_latest_positive_item_at_the_strongest_level():
    assert leave_last_out(shop()).targets.tolist() == [3, 1, -1, -1, 1]


def test_events_from_the_target_time_on_are_removed():
    events = leave_last_out(shop()).train.events
    kept = sorted(zip(events.user.tolist(), events.timestamp.tolist()))
    assert kept == [(0, 1.0), (0, 2.0), (0, 3.0), (1, 1.0), (2, 1.0), (2, 2.0),
                    (3, 1.0), (3, 5.0), (3, 5.0), (4, 1.0)]
    assert events.query_texts == ["tape"] and events.user_ids == shop().events.user_ids
