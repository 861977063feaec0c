"""In-memory form of a shop's validated logs: the catalogue and the event log.

Everything downstream (graph building, encoders, training, profiles) reads this
one structure, so the readers are the only place that knows about file formats.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from personagraph.shop.schema import schema_attributes
from personagraph.shop.social_links import SocialLinks

#: ``EVENT_TYPES`` (names in code order), ``EVENT_CODE`` (name -> code) and ``ITEM_EVENTS``
#: (events that point at an item) are read from :func:`~personagraph.shop.schema.shop_schema`.
__getattr__ = schema_attributes(__name__, EVENT_TYPES="event_names", EVENT_CODE="event_code",
                                ITEM_EVENTS="item_events")


def normalise_query(text: str) -> str:
    """Queries that differ only in case or spacing are the same query node."""
    return " ".join(text.lower().split())


@dataclass
class Catalog:
    """The items table, one entry per item, in a fixed order (the item index)."""

    item_ids: list[str]
    titles: list[str]
    categories: list[str]
    brands: list[str]
    descriptions: list[str]
    prices: np.ndarray  # float64, NaN where unknown
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.index = {item_id: i for i, item_id in enumerate(self.item_ids)}
        self.prices = np.asarray(self.prices, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.item_ids)

    def text(self, i: int, max_chars: int = 1000) -> str:
        """The text that describes item ``i`` to a language model: title, category, brand,
        then description, cut at ``max_chars`` (the model truncates tokens anyway; this
        bounds tokenisation time for shops with very long descriptions)."""
        parts = [self.titles[i], self.categories[i], self.brands[i], self.descriptions[i]]
        return ". ".join(p.strip() for p in parts if p and p.strip())[:max_chars]

    def has_text(self) -> bool:
        return any(t.strip() for t in self.titles)


@dataclass
class EventLog:
    """The events table as parallel arrays, sorted by (user, timestamp).

    ``user`` indexes ``user_ids``; ``item`` indexes the catalogue (-1 when the
    event has no item); ``query`` indexes ``query_texts`` (-1 when the event
    has no query). ``kind`` holds event codes of the shop schema
    (:attr:`~personagraph.shop.schema.ShopSchema.event_code`).
    """

    user_ids: list[str]
    user: np.ndarray  # int64
    kind: np.ndarray  # int8
    timestamp: np.ndarray  # float64, epoch seconds
    item: np.ndarray  # int64
    query: np.ndarray  # int64
    query_texts: list[str]

    def __len__(self) -> int:
        return int(self.user.shape[0])

    @property
    def num_users(self) -> int:
        return len(self.user_ids)

    def select(self, mask: np.ndarray) -> "EventLog":
        """The events where ``mask`` is true; user and query indices keep their meaning."""
        return EventLog(
            user_ids=self.user_ids,
            user=self.user[mask],
            kind=self.kind[mask],
            timestamp=self.timestamp[mask],
            item=self.item[mask],
            query=self.query[mask],
            query_texts=self.query_texts,
        )


@dataclass
class ShopData:
    """A shop's catalogue and event log, validated and index-coded; ``social`` holds the optional
    user–user links (:class:`~personagraph.shop.social_links.SocialLinks`, None when the shop gave none)."""

    catalog: Catalog
    events: EventLog
    social: SocialLinks | None = None
