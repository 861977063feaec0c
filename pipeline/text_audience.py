"""An audience for a free text: the users whose profiles are closest to what the text means.

The text is placed in profile space the way the run profiles a new user who did nothing but
search that text: a pseudo-user with one search event, profiled in the run's frozen
:class:`ProfileSpace` exactly as `personagraph update` would store that user (the query's
own state when the text is a known query, which also holds the items that query led to; a
new query's state from the encoded text otherwise). So the audience is scored against the
stored profiles in the space they were made in, also after updates, and agrees with
`explain`. That profile's nearest stored users, found with the vector index, are the people
the model thinks the text describes. A model trained without search queries has no
query-text layer; there the pseudo-user views a new item described by the text instead.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from personagraph.errors import PersonaGraphError
from personagraph.gnn.profile_model import ProfileModel
from personagraph.gnn.user_interactions import UserInteractions
from personagraph.graph.hetero_graph_builder import build_hetero_graph
from personagraph.pipeline.incremental_update import concat_catalogs
from personagraph.pipeline.run import Run
from personagraph.profiles.profile_space import Encode, ProfileSpace
from personagraph.shop.schema import SEARCH, VIEW, shop_schema
from personagraph.shop.shop_data import Catalog, EventLog, ShopData, normalise_query
from personagraph.store.profile_store import ProfileStore, SimilarUser


class TextAudience:
    """Free texts → profile vectors in a run's space → the nearest stored users.

    Args:
        model: the trained profile model.
        space: the run's profile space (the states the stored profiles were pooled over).
        catalog: the catalogue the space's items come from, in the space's order.
        encode: the run's text encoder (called only for texts that are not known queries).
        known_queries: place a text that is a known query on that query's state (the default);
            False treats every text as new.
    """

    def __init__(self, model: ProfileModel, space: ProfileSpace, catalog: Catalog, encode: Encode,
                 known_queries: bool = True) -> None:
        if model.query_text is None and model.item_text is None:
            raise PersonaGraphError(
                "this run's model has no text input (its shop had neither item text nor search queries), "
                "so free text cannot be placed among its profiles"
            )
        self.model = model.eval()
        self.space = space
        self.catalog = catalog
        self.encode = encode
        self.query_index = {text: q for q, text in enumerate(space.query_texts)} if known_queries else {}

    @classmethod
    def from_run(cls, run: Run) -> "TextAudience":
        return cls(run.model, run.space, run.shop.catalog, run.encode)

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """``[len(texts), dim]`` profile vectors, one pseudo-user per text, as `update` would store them."""
        texts = [normalise_query(text) for text in texts]
        if not all(texts):
            raise PersonaGraphError("the audience text is empty; describe the audience in a few words")
        shop = self._pseudo_users(texts)
        space = self.space.extend(self.model, shop, self.encode)
        return space.user_vectors(self.model, UserInteractions.from_graph(build_hetero_graph(shop)))

    def vector(self, text: str) -> np.ndarray:
        return self.vectors([text])[0]

    def find(
        self, store: ProfileStore, text: str, k: int = 100, segment: int | str | None = None
    ) -> list[SimilarUser]:
        """The ``k`` stored users nearest the text's profile; ``segment`` is a segment id or name."""
        where = None
        if segment is not None:
            where = {"segment": segment} if isinstance(segment, int) else {"segment_name": segment}
        return store.nearest_users(self.vector(text), k=k, where=where)

    def _pseudo_users(self, texts: list[str]) -> ShopData:
        """The space's shop with only one user per text, who searched it (or viewed a new item of it)."""
        known_items, known_queries = len(self.space.item_ids), list(self.space.query_texts)
        catalog, query_texts = self.catalog, known_queries
        users = np.arange(len(texts), dtype=np.int64)
        if self.model.query_text is not None:
            new_texts = list(dict.fromkeys(text for text in texts if text not in self.query_index))
            query_texts = known_queries + new_texts
            index = self.query_index | {text: q for q, text in enumerate(new_texts, start=len(known_queries))}
            kind, item = shop_schema().event_code[SEARCH.name], np.full(len(texts), -1)
            query = np.asarray([index[t] for t in texts])
        else:
            described = Catalog(item_ids=[f"audience text {n}" for n in users.tolist()], titles=texts,
                                categories=[""] * len(texts), brands=[""] * len(texts),
                                descriptions=[""] * len(texts), prices=np.full(len(texts), np.nan))
            catalog = concat_catalogs(catalog, described)
            kind, item, query = shop_schema().event_code[VIEW.name], known_items + users, np.full(len(texts), -1)
        events = EventLog(user_ids=[f"audience {n}" for n in users.tolist()], user=users,
                          kind=np.full(len(texts), kind, dtype=np.int8), timestamp=np.zeros(len(texts)),
                          item=np.asarray(item, dtype=np.int64), query=np.asarray(query, dtype=np.int64),
                          query_texts=query_texts)
        return ShopData(catalog=catalog, events=events)
