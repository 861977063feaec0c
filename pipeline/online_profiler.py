"""Profiles on the fly: a user's profile from a list of events, in a run's frozen space, storing nothing.

For real-time use (a visitor with a few clicks, a what-if on an existing user), load the run
once and call :meth:`OnlineProfiler.profile` per request. The events are validated as `train`
validates a shop; their items must be in the run's shop state; a query the run has never seen
gets a state from its text (the run's encoder is loaded on first need). The profile is computed
by the same function `train` and `update` use, so it is what `update` would store for the same
events.

A request is a few small tensor operations, which torch's intra-op threads only slow down on a
busy machine: serve with ``torch.set_num_threads(1)`` (Amazon Scientific, <= 50 events, on a
shared 2-core CPU: p50 28 ms with one thread, 126 ms with two; benchmarks/live_profiles.py).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from personagraph.errors import PersonaGraphError
from personagraph.gnn.profile_model import ProfileModel
from personagraph.shop.shop_data import EventLog, ShopData
from personagraph.shop.shop_reader import shop_from_rows
from personagraph.pipeline.run import Run
from personagraph.profiles.profile_space import Encode, ProfileSpace
from personagraph.profiles.user_profiles import UserProfiles

#: The id an unnamed user's events are profiled under.
ANONYMOUS_USER = "new-user"


@dataclass
class OnlineProfiler:
    """A run's model, profile space and shop state, ready to profile users per request."""

    model: ProfileModel
    space: ProfileSpace
    shop: ShopData
    encode: Encode
    run_id: str

    def __post_init__(self) -> None:
        self.model.eval()
        self._item_vectors = self.space.item_vectors(self.model)
        self._user_index = {user_id: u for u, user_id in enumerate(self.shop.events.user_ids)}

    @classmethod
    def from_run(cls, run: Run | str | Path, cache_dir: str | Path | None = None) -> "OnlineProfiler":
        """Profile in ``run`` (a loaded run, or the folder to load) as of its latest update."""
        if not isinstance(run, Run):
            run = Run.load(run, cache_dir)
        return cls(run.model, run.space, run.shop, run.encode, run.run_id)

    def profile(self, events: Sequence[Mapping[str, Any]], user_id: str = ANONYMOUS_USER
                ) -> tuple[UserProfiles, np.ndarray]:
        """The profile of a user who did ``events`` (dicts with the events-file columns; ``user_id``
        may be left out) and the item indices they touched. Nothing is stored."""
        if not events:
            raise PersonaGraphError("no events given; a profile needs at least one event")
        rows = [{**event, "user_id": str(event.get("user_id") or user_id)} for event in events]
        if len({row["user_id"] for row in rows}) > 1:
            raise PersonaGraphError("the events belong to several users; profile one user at a time")
        catalog = self.shop.catalog
        referenced = list(dict.fromkeys(str(row["item_id"]) for row in rows if row.get("item_id")
                                        and str(row["item_id"]) in catalog.index)) or [catalog.item_ids[0]]
        # Only the items the events name stand in for the catalogue: unknown ones fail validation.
        given = shop_from_rows([{"item_id": item_id, "title": catalog.titles[catalog.index[item_id]]}
                                for item_id in referenced], rows)
        known = self.space.query_texts
        query_index = {text: q for q, text in enumerate(known)}
        new_queries = [text for text in given.events.query_texts if text not in query_index]
        query_texts = known + new_queries if new_queries else known
        for q, text in enumerate(new_queries, start=len(known)):
            query_index[text] = q
        item_of = np.asarray([catalog.index[item_id] for item_id in given.catalog.item_ids] + [-1], dtype=np.int64)
        query_of = np.asarray([query_index[text] for text in given.events.query_texts] + [-1], dtype=np.int64)
        log = given.events
        shop = ShopData(catalog=catalog, events=EventLog(
            user_ids=log.user_ids, user=log.user, kind=log.kind, timestamp=log.timestamp,
            item=item_of[log.item], query=query_of[log.query], query_texts=query_texts,
        ))
        space = self.space.extend(self.model, shop, self.encode)
        return space.profile_users(self.model, shop), np.unique(shop.events.item[shop.events.item >= 0])

    def stored_profile(self, user_id: str) -> tuple[UserProfiles, np.ndarray]:
        """An existing user's profile recomputed from the run's shop state, and the items they touched."""
        user = self._user_index.get(user_id)
        if user is None:
            raise PersonaGraphError(
                f"no user {user_id!r} in the run's shop state — check the id, or give their events "
                "(--events FILE, or - for stdin) to profile an unseen user"
            )
        events = self.shop.events
        profiles = self.space.profile_users(self.model, self.shop, np.asarray([user]))
        return profiles, np.unique(events.item[(events.user == user) & (events.item >= 0)])

    def describe(self, profiles: UserProfiles, seen_items: np.ndarray, top: int = 10) -> dict[str, Any]:
        """A JSON-able summary of a one-user profile: vector, tags, activity, segment, recommendations."""
        vector = profiles.vectors[0]
        segment = profiles.segments.segments[int(profiles.segments.labels[0])] if profiles.segments.segments else None
        scores = self._item_vectors @ vector
        scores[seen_items] = -np.inf
        best = np.argsort(-scores, kind="stable")[:top]
        catalog = self.shop.catalog
        activity = {name: values[0] for name, values in profiles.attribute_columns().items()
                    if name not in ("top_tags", "segment", "segment_name")}
        return {
            "user": profiles.user_ids[0],
            "run_id": self.run_id,
            "vector": {"dim": int(vector.shape[0]), "head": [round(float(v), 4) for v in vector[:8]]},
            "top_tags": [{"tag": tag, "weight": round(weight, 4)} for tag, weight in profiles.top_tags(0, top)],
            "segment": None if segment is None else {"id": segment.id, "name": segment.name, "size": segment.size},
            "activity": activity,
            "recommendations": [
                {"item_id": catalog.item_ids[i], "title": catalog.titles[i], "category": catalog.categories[i],
                 "score": round(float(scores[i]), 4)}
                for i in best.tolist() if np.isfinite(scores[i])
            ],
        }
