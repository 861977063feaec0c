"""Per-user time split: hold out each user's latest positive item and everything after it.

The model is judged the way it is used: it sees a user's behaviour up to some moment
and must rank the item the user commits to next. Removing every event at or after
the target's timestamp (not only the target edge) keeps later views of the same
session from leaking the answer.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from personagraph.shop.schema import shop_schema
from personagraph.shop.shop_data import EventLog, ShopData


@dataclass
class LeaveLastOutSplit:
    """The truncated shop (training input) and the held-out item per user (-1 = none)."""

    train: ShopData
    targets: np.ndarray  # int64 [num_users]


def leave_last_out(shop: ShopData) -> LeaveLastOutSplit:
    """Split off, per user with >= 2 positive item events, the item of the latest one.

    Positive events are the schema's training targets, strongest first
    (:attr:`~personagraph.shop.schema.ShopSchema.positive_levels`): a user is judged on purchases
    when they have at least two, else on purchases and carts, else on those and clicks.

    All of that user's events with a timestamp >= the target's are dropped from the
    training log. A user whose positive events all share the target's timestamp keeps
    everything and gets no target, since nothing earlier would be left to learn from.
    """
    events = shop.events
    targets = np.full(events.num_users, -1, dtype=np.int64)
    cutoff = np.full(events.num_users, np.inf)
    undecided = np.ones(events.num_users, dtype=bool)
    schema = shop_schema()
    for level in schema.positive_levels:
        positive = np.isin(events.kind, [schema.event_code[name] for name in level]) & (events.item >= 0)
        positive &= undecided[events.user]
        counts = np.bincount(events.user[positive], minlength=events.num_users)
        chosen = counts >= 2
        _assign_latest(events, positive & chosen[events.user], targets, cutoff)
        undecided &= ~chosen
    keep = events.timestamp < cutoff[events.user]
    return LeaveLastOutSplit(train=ShopData(catalog=shop.catalog, events=events.select(keep), social=shop.social),
                             targets=targets)


def _assign_latest(events: EventLog, positive: np.ndarray, targets: np.ndarray, cutoff: np.ndarray) -> None:
    """Set target and cutoff time for users whose positives (``positive`` mask) start earlier than they end."""
    rows = np.flatnonzero(positive)
    if rows.size == 0:
        return
    users = events.user[rows]
    # The log is sorted by (user, timestamp): a user's last positive row is the latest one.
    last = rows[np.r_[users[1:] != users[:-1], True]]
    first = rows[np.r_[True, users[1:] != users[:-1]]]
    has_earlier = events.timestamp[first] < events.timestamp[last]
    last = last[has_earlier]
    targets[events.user[last]] = events.item[last]
    cutoff[events.user[last]] = events.timestamp[last]
