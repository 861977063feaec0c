"""Renaming users or queries of a shop, and dropping users, with every index that points at them kept right.

Pseudonyms and query redaction rename; `personagraph forget` drops. Both renumber users, so
the event log and the user–user links (``ShopData.social``, when the shop has them) are
recoded together, and the result is ordered as the readers order a shop.
"""
from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace

import numpy as np

from personagraph.shop.shop_data import EventLog, ShopData


def renamed_shop(shop: ShopData, user: Callable[[str], str] | None = None,
                 query: Callable[[str], str] | None = None) -> ShopData:
    """``shop`` with user ids and / or query texts mapped (pseudonyms, redaction).

    Names that map to the same text become one user or query; users and queries are sorted
    by their new text and events by (user, timestamp), stably, so nothing of the old names
    shows in the order either.
    """
    events = shop.events
    user_ids, user_code = _renamed(events.user_ids, user)
    query_texts, query_code = _renamed(events.query_texts, query)
    return _recoded(shop, user_ids, user_code, query_texts, query_code, np.ones(len(events), dtype=bool))


def without_users(shop: ShopData, user_ids: Collection[str]) -> ShopData:
    """``shop`` without the users in ``user_ids``: their events and links are gone, every other
    user keeps its events in the same order (indices shift down past the removed ones)."""
    events = shop.events
    gone = np.fromiter((user_id in user_ids for user_id in events.user_ids), dtype=bool, count=events.num_users)
    kept_ids = [user_id for user_id, drop in zip(events.user_ids, gone) if not drop]
    user_code = np.where(gone, -1, np.cumsum(~gone) - 1).astype(np.int64)
    query_code = np.arange(len(events.query_texts), dtype=np.int64)
    return _recoded(shop, kept_ids, user_code, events.query_texts, query_code, ~gone[events.user])


def _renamed(names: list[str], rename: Callable[[str], str] | None) -> tuple[list[str], np.ndarray]:
    """The sorted distinct new names, and the new code of each old one."""
    if rename is None:
        return names, np.arange(len(names), dtype=np.int64)
    new_names = [rename(name) for name in names]
    distinct = sorted(set(new_names))
    position = {name: i for i, name in enumerate(distinct)}
    return distinct, np.fromiter((position[name] for name in new_names), dtype=np.int64, count=len(new_names))


def _recoded(shop: ShopData, user_ids: list[str], user_code: np.ndarray, query_texts: list[str],
             query_code: np.ndarray, keep: np.ndarray) -> ShopData:
    """The events in ``keep`` with users and queries recoded (-1 stays -1), sorted by (user, timestamp)."""
    events = shop.events
    user = user_code[events.user[keep]]
    query = np.append(query_code, -1)[events.query[keep]]
    timestamp = events.timestamp[keep]
    order = np.lexsort((timestamp, user))  # stable: ties keep their order
    log = EventLog(user_ids=user_ids, user=user[order], kind=events.kind[keep][order], timestamp=timestamp[order],
                   item=events.item[keep][order], query=query[order], query_texts=query_texts)
    social = getattr(shop, "social", None)
    if social is None:
        return replace(shop, events=log)
    links = user_code[social.user], user_code[social.other]
    kept = (links[0] >= 0) & (links[1] >= 0)
    order = np.lexsort((social.relation[kept], links[1][kept], links[0][kept]))
    social = replace(social, user=links[0][kept][order], other=links[1][kept][order],
                     relation=social.relation[kept][order], timestamp=social.timestamp[kept][order])
    return replace(shop, events=log, social=social)
