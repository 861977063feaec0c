"""The shop's vocabulary in one place: node types, the event types a shop logs, and the edges between them.

Every list of event names, event code, graph edge type, Neo4j relationship type and default
weight elsewhere is derived from the schema in use (:func:`shop_schema`), read when it is
used. Adding an event type is therefore one :class:`EventType` line in :data:`DEFAULT_SCHEMA`
(or, in a test, :func:`extended_schema`): the reader accepts it, the graph gets its edge
type, the model learns a weight for it, the store writes its relationship and interest tags
weigh it. Its weights are fields without defaults, so leaving one out is an error, not a 0.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Any

#: A node type of the heterogeneous graph.
NodeType = str
#: ``(source node type, relation, target node type)``, as torch-geometric names edge types.
EdgeType = tuple[str, str, str]

USER: NodeType = "user"
ITEM: NodeType = "item"
QUERY: NodeType = "query"
CATEGORY: NodeType = "category"
NODE_TYPES: tuple[NodeType, ...] = (USER, ITEM, QUERY, CATEGORY)

#: Event codes are stored as int8 (``EventLog.kind``).
MAX_EVENT_TYPES = 127
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_RELATIONSHIP = re.compile(r"[A-Z][A-Z0-9_]*")  # also what makes it safe in Cypher, where types cannot be parameters


@dataclass(frozen=True)
class EventType:
    """One kind of event a shop logs; it becomes the edge type ``(user, name, target)``.

    Args:
        name: the ``event`` value in the events table and the edge relation.
        target: :data:`ITEM` (the event needs an ``item_id``) or :data:`QUERY` (it needs query
            text and may carry the item the query led to, which makes a ``leads_to`` edge).
        relationship: the Neo4j relationship type of the user's edge.
        interest_weight: how much one such event says about a user's interest (interest-tag
            evidence); 0 means it says nothing.
        target_weight: its weight as a training target in the loss, and its strength as a
            held-out positive (see :attr:`ShopSchema.positive_levels`); 0 means context only.
            Only item events can be targets.
    """

    name: str
    target: NodeType
    relationship: str
    interest_weight: float
    target_weight: float

    @property
    def edge_type(self) -> EdgeType:
        return (USER, self.name, self.target)


@dataclass(frozen=True)
class LinkType:
    """An edge type that no single user event is: the shop's structure, derived while building the graph."""

    source: NodeType
    name: str
    target: NodeType
    relationship: str

    @property
    def edge_type(self) -> EdgeType:
        return (self.source, self.name, self.target)


VIEW = EventType("view", ITEM, "VIEWED", interest_weight=0.1, target_weight=0.0)
CLICK = EventType("click", ITEM, "CLICKED", interest_weight=0.3, target_weight=0.25)
ADD_TO_CART = EventType("add_to_cart", ITEM, "ADDED_TO_CART", interest_weight=0.6, target_weight=0.5)
PURCHASE = EventType("purchase", ITEM, "PURCHASED", interest_weight=1.0, target_weight=1.0)
SEARCH = EventType("search", QUERY, "SEARCHED", interest_weight=0.2, target_weight=0.0)

#: A query to the item its search led to (from query events that carry an item).
LEADS_TO = LinkType(QUERY, "leads_to", ITEM, "LEADS_TO")
#: An item to its category path (from the catalogue).
IN_CATEGORY = LinkType(ITEM, "in_category", CATEGORY, "IN_CATEGORY")
#: A user to another user (the optional ``social`` table): one edge type whatever the relation,
#: since relations are the shop's free text; the relation is a property of the stored link
#: (``(:User)-[:SOCIAL {relation}]->(:User)``), never a relationship type made from user input.
SOCIAL = LinkType(USER, "social", USER, "SOCIAL")


@dataclass(frozen=True)
class ShopSchema:
    """The event types in code order (an event's position is its code and its edge-type code),
    and everything derived from them. Extend it only at the end (:meth:`extended`), so that
    the codes of stored logs and trained models keep their meaning."""

    events: tuple[EventType, ...]

    def __post_init__(self) -> None:
        names = [event.name for event in self.events]
        problems = [f"{name!r} appears twice" for name in sorted(set(names)) if names.count(name) > 1]
        for event in self.events:
            if not _NAME.fullmatch(event.name) or event.name.startswith("rev_"):
                problems.append(f"{event.name!r} is not a lower-case identifier without 'rev_'")
            if event.name in {link.name for link in self.link_types}:
                problems.append(f"{event.name!r} is the name of a link edge type")
            if event.target not in (ITEM, QUERY):
                problems.append(f"{event.name!r} targets {event.target!r}, not {ITEM!r} or {QUERY!r}")
            if not _RELATIONSHIP.fullmatch(event.relationship):
                problems.append(f"{event.name!r} has relationship {event.relationship!r}, not an UPPER_CASE identifier")
            if event.interest_weight < 0 or event.target_weight < 0:
                problems.append(f"{event.name!r} has a negative weight")
            if event.target_weight > 0 and event.target != ITEM:
                problems.append(f"{event.name!r} has a target weight but does not target an item")
        relationships = list(self.relationship_for_edge.values())
        problems += [f"relationship {rel!r} appears twice" for rel in sorted(set(relationships))
                     if relationships.count(rel) > 1]
        if len(self.events) > MAX_EVENT_TYPES:
            problems.append(f"{len(self.events)} event types; at most {MAX_EVENT_TYPES} fit the event codes")
        if problems:
            raise ValueError("invalid shop schema: " + "; ".join(problems))

    def extended(self, *events: EventType) -> "ShopSchema":
        """This schema with ``events`` appended (existing codes are kept)."""
        return ShopSchema(self.events + events)

    def event(self, name: str) -> EventType:
        return self.events[self.event_code[name]]

    @property
    def link_types(self) -> tuple[LinkType, ...]:
        return (LEADS_TO, IN_CATEGORY, SOCIAL)

    @cached_property
    def event_names(self) -> tuple[str, ...]:
        return tuple(event.name for event in self.events)

    @cached_property
    def event_code(self) -> Mapping[str, int]:
        return MappingProxyType({event.name: code for code, event in enumerate(self.events)})

    @cached_property
    def item_events(self) -> tuple[str, ...]:
        """Events that point at an item."""
        return tuple(event.name for event in self.events if event.target == ITEM)

    @cached_property
    def item_event_codes(self) -> tuple[int, ...]:
        return tuple(code for code, event in enumerate(self.events) if event.target == ITEM)

    @cached_property
    def query_event_codes(self) -> tuple[int, ...]:
        """Codes of the events that carry a query (searches)."""
        return tuple(code for code, event in enumerate(self.events) if event.target == QUERY)

    @cached_property
    def user_edge_types(self) -> tuple[EdgeType, ...]:
        """A user's edge types, in event-code order: an edge type's index is its event code."""
        return tuple(event.edge_type for event in self.events)

    @cached_property
    def forward_edge_types(self) -> tuple[EdgeType, ...]:
        """Every edge type of the graph before ``rev_*`` mirrors: the user edges, then the links."""
        return self.user_edge_types + tuple(link.edge_type for link in self.link_types)

    @cached_property
    def relationship_for_edge(self) -> Mapping[str, str]:
        """Neo4j relationship type of each forward edge relation."""
        return MappingProxyType({edge.name: edge.relationship for edge in (*self.events, *self.link_types)})

    @property
    def interest_weights(self) -> dict[str, float]:
        """Default interest-tag weight of each event type (a new dict each time, free to adjust)."""
        return {event.name: event.interest_weight for event in self.events}

    @property
    def target_weights(self) -> dict[str, float]:
        """Default training-target weights, strongest first: the events with a positive one (a new dict)."""
        targets = sorted((event for event in self.events if event.target_weight > 0), key=lambda e: -e.target_weight)
        return {event.name: event.target_weight for event in targets}

    @cached_property
    def positive_levels(self) -> tuple[tuple[str, ...], ...]:
        """Target events as growing sets, strongest first: ``(purchase,)``, then with the next
        weaker, and so on (equal weights share a level). A held-out item is the user's latest
        of the first level where they have at least two."""
        targets = self.target_weights
        return tuple(tuple(name for name, weight in targets.items() if weight >= strength)
                     for strength in sorted(set(targets.values()), reverse=True))


DEFAULT_SCHEMA = ShopSchema(events=(VIEW, CLICK, ADD_TO_CART, PURCHASE, SEARCH))

_in_use: ShopSchema = DEFAULT_SCHEMA


def shop_schema() -> ShopSchema:
    """The schema in use: :data:`DEFAULT_SCHEMA` unless inside :func:`extended_schema`."""
    return _in_use


@contextmanager
def extended_schema(*events: EventType) -> Iterator[ShopSchema]:
    """Use the schema in use plus ``events`` (appended) until the block ends; for tests and experiments."""
    global _in_use
    previous = _in_use
    _in_use = previous.extended(*events)
    try:
        yield _in_use
    finally:
        _in_use = previous


def schema_attributes(module: str, **attributes: str) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving each keyword's name as that attribute of the schema in use.

    Keeps module-level names such as ``shop_data.EVENT_CODE`` following the schema when read as
    ``module.NAME``; ``from module import NAME`` keeps the value of its import time.
    """

    def __getattr__(name: str) -> Any:
        if name in attributes:
            return getattr(shop_schema(), attributes[name])
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
