"""An audience for a free text: the users whose profiles are closest to what the text means.

The text is placed in profile space the way the run profiles a new user who did nothing but
look for it: a pseudo-user who views the items the text describes — every item whose title
holds all the text's words (as a shop's keyword search finds them) and the few items nearest
the text in the encoder's space (so a text no title spells out still finds its items) — and,
in a run trained with search queries, searches the text (a known query's state also holds
the items it led to). That pseudo-user is profiled in the run's frozen :class:`ProfileSpace`
exactly as `personagraph update` would store such a user, so the audience is scored against
the stored profiles in the space they were made in, also after updates, and agrees with
`explain`. Its nearest stored users, found with the vector index, are the people whose
behaviour looks like buying what the text describes.

Why items and not the text alone: a profile is pooled from items, and a user who bought
three screwdrivers sits near other users of those items, not near the words "screwdriver";
profiling the text as one made-up item or query put it in a corner of the space that
real users rarely reach (``benchmarks/audience_quality.py`` measures the difference).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cached_property

import numpy as np

from personagraph.errors import PersonaGraphError
from personagraph.gnn.profile_model import ProfileModel
from personagraph.gnn.user_interactions import UserInteractions
from personagraph.graph.hetero_graph_builder import build_hetero_graph
from personagraph.pipeline.run import Run
from personagraph.profiles.profile_space import Encode, ProfileSpace
from personagraph.profiles.search_projection import SearchProjection
from personagraph.profiles.tag_vocabulary import STOP_WORDS, tag_key
from personagraph.shop.schema import SEARCH, VIEW, shop_schema
from personagraph.shop.shop_data import Catalog, EventLog, ShopData, normalise_query
from personagraph.store.profile_store import ProfileStore, SimilarUser

#: Items nearest the text in the encoder's space that the pseudo-user views besides the keyword matches.
NEAREST_ITEMS = 3
_WORD = re.compile(r"[a-z0-9]+")


def text_words(text: str) -> frozenset[str]:
    """The informative words of a text in tag-key form (lower case, plurals folded, no stop words)."""
    return frozenset(tag_key(w) for w in _WORD.findall(text.lower()) if w not in STOP_WORDS)


class TextAudience:
    """Free texts → profile vectors in a run's space → the nearest stored users.

    Args:
        model: the trained profile model.
        space: the run's profile space (the states the stored profiles were pooled over).
        catalog: the catalogue the space's items come from, in the space's order.
        encode: the run's text encoder (called only for texts that are not known queries).
        known_queries: place a text that is a known query on that query's state (the default);
            False treats every text as new.
        search_projection: the run's, when the store's user index is over search vectors.
        nearest_items: items nearest the text (by the encoder) viewed besides the keyword matches;
            a known query needs none (its state knows its items) and so needs no encoder.
    """

    def __init__(self, model: ProfileModel, space: ProfileSpace, catalog: Catalog, encode: Encode,
                 known_queries: bool = True, search_projection: SearchProjection | None = None,
                 nearest_items: int = NEAREST_ITEMS) -> None:
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
        self.nearest_items = nearest_items if model.item_text is not None and catalog.has_text() else 0
        self.title_words = [text_words(title) for title in catalog.titles]
        self.search_projection = search_projection

    @classmethod
    def from_run(cls, run: Run) -> "TextAudience":
        return cls(run.model, run.space, run.shop.catalog, run.encode, search_projection=run.search_projection)

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
        vector = self.vector(text)
        search = None if self.search_projection is None else self.search_projection.apply(vector)
        return store.nearest_users(vector, k=k, where=where, search_vector=search)

    def described_items(self, text: str) -> np.ndarray:
        """Indices of the items ``text`` describes: titles holding all its words, then its nearest items."""
        text = normalise_query(text)
        wanted = text_words(text)
        matched = [i for i, words in enumerate(self.title_words) if wanted and wanted <= words]
        if self.nearest_items and text not in self.query_index:
            similarity = self._item_text_vectors @ _unit(self.encode([text]))[0]
            nearest = np.argsort(-similarity, kind="stable")[: self.nearest_items]
            matched += [int(i) for i in nearest if i not in set(matched)]
        return np.asarray(matched, dtype=np.int64)

    @cached_property
    def _item_text_vectors(self) -> np.ndarray:
        """The items' text as the model saw it (the run's embedding cache holds them)."""
        return _unit(self.encode([self.catalog.text(i) for i in range(len(self.space.item_ids))]))

    def _pseudo_users(self, texts: list[str]) -> ShopData:
        """The space's shop with only one user per text, who viewed its items (and searched it)."""
        known_queries = list(self.space.query_texts)
        query_texts, users, kinds, items, queries = known_queries, [], [], [], []
        view, search = shop_schema().event_code[VIEW.name], shop_schema().event_code[SEARCH.name]
        if self.model.query_text is not None:
            new_texts = list(dict.fromkeys(text for text in texts if text not in self.query_index))
            query_texts = known_queries + new_texts
            index = self.query_index | {text: q for q, text in enumerate(new_texts, start=len(known_queries))}
        for user, text in enumerate(texts):
            if self.model.query_text is not None:
                users.append(user), kinds.append(search), items.append(-1), queries.append(index[text])
            described = self.described_items(text)
            if described.size == 0 and self.model.query_text is None:
                raise PersonaGraphError(
                    f"no item title holds the words of {text!r}; describe the audience with words the catalogue uses"
                )
            users += [user] * described.size
            kinds += [view] * described.size
            items += described.tolist()
            queries += [-1] * described.size
        events = EventLog(user_ids=[f"audience {n}" for n in range(len(texts))],
                          user=np.asarray(users, dtype=np.int64), kind=np.asarray(kinds, dtype=np.int8),
                          timestamp=np.zeros(len(users)), item=np.asarray(items, dtype=np.int64),
                          query=np.asarray(queries, dtype=np.int64), query_texts=query_texts)
        return ShopData(catalog=self.catalog, events=events)


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
