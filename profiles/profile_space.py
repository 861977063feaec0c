"""The frozen space a run's profiles live in: item and query states, tag meanings, segment centroids.

A run computes its item and query states once, from the full graph it was trained on, and
keeps them (``profile_space.pt`` in the run folder). Every profile — at train time, after
`personagraph update`, for `personagraph profile` — is the model's attention pooling of that
user's own edges over these states (:meth:`ProfileSpace.profile_users`). Pooling looks at
nothing but the user's edges, so recomputing only the users with new events gives exactly
what recomputing everybody would, and the other profiles can stay as they are.

What would otherwise drift as data arrives is frozen with the states: the tag vocabulary and
the tag vectors (a tag's meaning), and the segment centroids (users join the nearest one,
there is no re-clustering). New items and queries are appended (:meth:`ProfileSpace.extend`):
a new item's state is the model's item vector from its text and the items of its categories,
computed on a graph that has no users (unseen users add no co-occurrence); a new query's
state is its text plus the states of the items it led to.

With social links, a profile vector is also mixed with the user's friends' own vectors by the
run's ``social_weight`` (:mod:`~personagraph.profiles.social_mix`, chosen on validation, 0 = not
at all), so a profile depends on the user's edges and their friends' edges: profiling a user
pools their friends too, and `update` refreshes the friends of every touched user.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from personagraph.errors import PersonaGraphError
from personagraph.gnn.profile_model import ProfileModel
from personagraph.gnn.user_interactions import UserInteractions
from personagraph.graph.hetero_graph_builder import build_hetero_graph
from personagraph.shop.schema import LEADS_TO, shop_schema
from personagraph.shop.shop_data import Catalog, EventLog, ShopData
from personagraph.profiles.activity import user_activity
from personagraph.profiles.interest_tags import InterestTags
from personagraph.profiles.segment import Segment
from personagraph.profiles.segments import Segments, unit_rows
from personagraph.profiles.social_features import SocialFeatures
from personagraph.profiles.social_mix import mix_social
from personagraph.profiles.tag_vocabulary import TagVocabulary, category_levels, keywords, tag_key
from personagraph.profiles.user_profiles import TOP_TAGS_ON_NODE, UserProfiles

FORMAT_VERSION = 1
#: What :meth:`ProfileSpace.profile_users` reports as the segmentation method of its assignments.
ASSIGNED_SEGMENTS = "nearest centroid"
#: Weight of a category's parent relative to the category (``TagVocabulary.from_shop``'s default).
PARENT_TAG_WEIGHT = 0.5
_QUERY_EDGE = LEADS_TO.edge_type
_SECONDS_PER_DAY = 86400.0

#: Encodes texts with the run's text encoder; called only when new items or queries need it.
Encode = Callable[[Sequence[str]], np.ndarray]


#: Users pooled together when a whole shop is profiled (bounds the per-edge arrays of one pooling).
USERS_PER_POOLING_CHUNK = 65_536


@dataclass
class ProfileSpace:
    """Item and query states (unnormalised, as the model pools them) plus the frozen tag and segment frames.

    ``item_ids[i]`` / ``query_texts[q]`` name row ``i`` / ``q`` of the states; a shop profiled in
    this space must list the same items and queries first, in the same order.
    """

    item_ids: list[str]
    item_states: Tensor  # float32 [num_items, dim]
    query_texts: list[str]
    query_states: Tensor  # float32 [num_queries, dim]
    vocabulary: TagVocabulary  # rows for every item and query of the space
    tag_vectors: np.ndarray  # float32 [num_tags, dim]
    tag_has_items: np.ndarray  # bool [num_tags]
    segments: list[Segment]  # sizes follow the current assignments
    segment_centroids: np.ndarray  # float32 [num_segments, dim], unit rows
    social_weight: float = 0.0  # weight of the friends' mean in a profile vector (social_mix)

    @classmethod
    def build(cls, model: ProfileModel, graph: HeteroData, shop: ShopData, seed: int = 0, social_weight: float = 0.0
              ) -> tuple["ProfileSpace", UserProfiles]:
        """The space of a freshly trained model, and every user's profile in it (segments fitted here)."""
        model.eval()
        interactions = UserInteractions.from_graph(graph)
        with torch.no_grad():
            item_states = model.item_states(graph, interactions)
            query_states = model.query_states(graph, item_states)
            item_vectors = model.item_vectors(item_states).numpy()
        own_vectors = pool_users_in_chunks(model, interactions, item_states, query_states)
        user_vectors = _social_vectors(own_vectors, shop, np.arange(shop.events.num_users), social_weight)
        profiles = UserProfiles.build(shop, user_vectors, item_vectors, seed=seed, own_vectors=own_vectors)
        vocabulary = profiles.tags.vocabulary
        tag_vectors, has_items = vocabulary.tag_vectors(item_vectors)
        space = cls(
            item_ids=list(shop.catalog.item_ids),
            item_states=item_states.float(),
            query_texts=list(shop.events.query_texts),
            query_states=query_states.float(),
            vocabulary=vocabulary,
            tag_vectors=tag_vectors,
            tag_has_items=has_items,
            segments=list(profiles.segments.segments),
            segment_centroids=_centroids(user_vectors, profiles.segments.labels, len(profiles.segments.segments)),
            social_weight=float(social_weight),
        )
        return space, profiles

    def item_vectors(self, model: ProfileModel) -> np.ndarray:
        """``[num_items, out_dim]`` item vectors: what users are scored against (and `Item.embedding`)."""
        model.eval()
        with torch.no_grad():
            return model.item_vectors(self.item_states).numpy()

    def user_vectors(self, model: ProfileModel, interactions: UserInteractions) -> np.ndarray:
        """Unit profile vectors of the users of ``interactions`` (node indices into this space)."""
        return pool_users_in_chunks(model, interactions, self.item_states, self.query_states)

    def nearest_segments(self, user_vectors: np.ndarray) -> np.ndarray:
        """Each user's segment: the one whose centroid direction is closest (cosine)."""
        if not self.segments:
            return np.zeros(user_vectors.shape[0], dtype=np.int64)
        return np.argmax(unit_rows(user_vectors, np.float64) @ self.segment_centroids.T, axis=1).astype(np.int64)

    def profile_users(self, model: ProfileModel, shop: ShopData, users: np.ndarray | None = None) -> UserProfiles:
        """The profiles of ``users`` (sorted indices into ``shop``'s users; all when None), in that order.

        Each profile depends only on the user's own events, the space and the shop's last
        event time (the reference for ``recency_days``), so any subset gives the same rows as
        profiling everybody, up to float rounding (which may swap tags of equal weight).
        """
        self._check_shop(shop)
        users = np.arange(shop.events.num_users) if users is None else np.asarray(users, dtype=np.int64)
        if users.size and (np.any(np.diff(users) <= 0) or users[0] < 0 or users[-1] >= shop.events.num_users):
            raise PersonaGraphError("users must be sorted, distinct indices of the shop's users")
        social = shop.social if shop.social is not None and len(shop.social) else None
        # With links, the users' friends are pooled too: their own vectors enter the mix, their tags the agreement.
        circle = np.union1d(users, social.neighbours(users, shop.events.num_users)) if social else users
        mine = np.searchsorted(circle, users)
        circle_shop = select_users(shop, circle)
        own_vectors = self.user_vectors(model, UserInteractions.from_graph(build_hetero_graph(circle_shop)))
        item_vectors = self.item_vectors(model)
        # Tag evidence decays with age before the selection's last event; per user that is a common
        # factor, which the tags' normalisation removes, so only float rounding differs.
        circle_tags = InterestTags.from_shop(circle_shop, self._frozen_vocabulary(), own_vectors, item_vectors)
        vectors = _social_vectors(own_vectors, shop, circle, self.social_weight)[mine]
        own = select_users(shop, users)
        tags = replace(circle_tags, tag=circle_tags.tag[mine], weight=circle_tags.weight[mine])
        activity = user_activity(own)
        # recency_days is measured to the whole shop's last event, not to the selection's.
        shop_end = shop.events.timestamp.max() if len(shop.events) else np.nan
        activity["recency_days"] = (shop_end - activity["last_seen"]) / _SECONDS_PER_DAY
        segments = Segments(labels=self.nearest_segments(vectors), segments=self.segments,
                            method=ASSIGNED_SEGMENTS, silhouette=float("nan"))
        features = None
        if social is not None:
            top = {int(u): [tag for tag, _ in circle_tags.for_user(row)[:TOP_TAGS_ON_NODE]]
                   for row, u in enumerate(circle.tolist())}
            features = SocialFeatures.compute(social, shop.events.num_users, top, users)
        return UserProfiles(user_ids=own.events.user_ids, vectors=vectors, tags=tags, activity=activity,
                            segments=segments, social=features)

    def extend(self, model: ProfileModel, shop: ShopData, encode: Encode) -> "ProfileSpace":
        """The space plus ``shop``'s items and queries beyond it (appended at the end of the shop's lists).

        Existing states are kept as they are, so no existing profile changes.
        """
        self._check_prefix(shop)
        catalog, queries = shop.catalog, shop.events.query_texts
        first_item, first_query = len(self.item_ids), len(self.query_texts)
        if first_item == len(catalog) and first_query == len(queries):
            return self
        model.eval()
        with torch.no_grad():
            new_items = _new_item_states(model, catalog, first_item, encode)
            item_states = torch.cat([self.item_states, new_items])
            new_queries = _new_query_states(model, shop, first_query, item_states, encode)
        return replace(
            self,
            item_ids=list(catalog.item_ids),
            item_states=item_states,
            query_texts=list(queries),
            query_states=torch.cat([self.query_states, new_queries]),
            vocabulary=_extended_vocabulary(self.vocabulary, catalog, queries, first_item, first_query),
        )

    # -- persistence -------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the space to ``path`` (one torch file, replaced atomically)."""
        path = Path(path)
        vocabulary = self.vocabulary
        payload: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "item_ids": self.item_ids,
            "item_states": self.item_states.contiguous(),
            "query_texts": self.query_texts,
            "query_states": self.query_states.contiguous(),
            "tag_labels": vocabulary.labels,
            "tag_kinds": vocabulary.kinds,
            "item_tags": _sparse_payload(vocabulary.item_tags),
            "query_tags": _sparse_payload(vocabulary.query_tags),
            "item_leaf": torch.from_numpy(vocabulary.item_leaf),
            "tag_vectors": torch.from_numpy(self.tag_vectors),
            "tag_has_items": torch.from_numpy(self.tag_has_items),
            "segments": [{"id": s.id, "name": s.name, "size": s.size,
                          "top_tags": [[label, weight] for label, weight in s.top_tags]} for s in self.segments],
            "segment_centroids": torch.from_numpy(self.segment_centroids),
            "social_weight": float(self.social_weight),
        }
        tmp = path.with_suffix(path.suffix + ".tmp")
        torch.save(payload, tmp)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "ProfileSpace":
        path = Path(path)
        if not path.is_file():
            raise PersonaGraphError(
                f"no profile space at {path}: the run was trained before live profiles existed — "
                "train it again (`personagraph train`) to profile users without retraining"
            )
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(saved, dict) or saved.get("format_version") != FORMAT_VERSION:
            raise PersonaGraphError(f"{path} is not a profile space of format {FORMAT_VERSION}; train the run again")
        return cls(
            item_ids=list(saved["item_ids"]),
            item_states=saved["item_states"],
            query_texts=list(saved["query_texts"]),
            query_states=saved["query_states"],
            vocabulary=TagVocabulary(
                labels=list(saved["tag_labels"]),
                kinds=list(saved["tag_kinds"]),
                item_tags=_sparse_from_payload(saved["item_tags"]),
                query_tags=_sparse_from_payload(saved["query_tags"]),
                item_leaf=saved["item_leaf"].numpy(),
            ),
            tag_vectors=saved["tag_vectors"].numpy(),
            tag_has_items=saved["tag_has_items"].numpy(),
            segments=[Segment(id=s["id"], name=s["name"], size=s["size"],
                              top_tags=[(label, float(weight)) for label, weight in s["top_tags"]])
                      for s in saved["segments"]],
            segment_centroids=saved["segment_centroids"].numpy(),
            social_weight=float(saved.get("social_weight", 0.0)),  # spaces saved before social links: none
        )

    # -- checks ------------------------------------------------------------------------
    def _frozen_vocabulary(self) -> TagVocabulary:
        return _FrozenTagVocabulary(self.vocabulary.labels, self.vocabulary.kinds, self.vocabulary.item_tags,
                                    self.vocabulary.query_tags, self.vocabulary.item_leaf,
                                    self.tag_vectors, self.tag_has_items)

    def _check_prefix(self, shop: ShopData) -> None:
        catalog, queries = shop.catalog.item_ids, shop.events.query_texts
        if catalog[: len(self.item_ids)] != self.item_ids or queries[: len(self.query_texts)] != self.query_texts:
            raise PersonaGraphError(
                "the shop does not list the run's items and queries first, in the run's order; "
                "profile it with the shop state of the run folder"
            )

    def _check_shop(self, shop: ShopData) -> None:
        if len(shop.catalog) != len(self.item_ids) or len(shop.events.query_texts) != len(self.query_texts):
            raise PersonaGraphError(
                f"the shop has {len(shop.catalog)} items and {len(shop.events.query_texts)} queries, the profile "
                f"space {len(self.item_ids)} and {len(self.query_texts)}; extend the space with the shop first"
            )


@dataclass
class _FrozenTagVocabulary(TagVocabulary):
    """A vocabulary whose tag vectors are the ones frozen at train time, whatever items came since."""

    frozen_vectors: np.ndarray
    frozen_has_items: np.ndarray

    def tag_vectors(self, item_vectors: np.ndarray, prior_items: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
        return self.frozen_vectors, self.frozen_has_items


def _social_vectors(own: np.ndarray, shop: ShopData, users: np.ndarray, weight: float) -> np.ndarray:
    """The social mix of ``own`` (vectors of the sorted shop users ``users``) among those users."""
    if shop.social is None or not len(shop.social) or weight <= 0:
        return own
    adjacency = shop.social.adjacency(shop.events.num_users)[users][:, users].tocsr()
    return mix_social(own, adjacency, weight)


def pool_users(model: ProfileModel, interactions: UserInteractions, item_states: Tensor, query_states: Tensor
               ) -> np.ndarray:
    """Unit profile vectors of the users of ``interactions``: the model's own pooling over given states."""
    model.eval()
    with torch.no_grad():
        pooling = model.pool(interactions, item_states, query_states)
        return model.user_vectors(interactions, pooling).numpy().astype(np.float32, copy=False)


def pool_users_in_chunks(model: ProfileModel, interactions: UserInteractions, item_states: Tensor,
                         query_states: Tensor, users_per_chunk: int = USERS_PER_POOLING_CHUNK) -> np.ndarray:
    """:func:`pool_users` a chunk of users at a time, so the per-edge arrays of the pooling are those of
    one chunk, not of the whole log; a profile depends only on its own user's edges, so the rows
    equal one pooling of everybody."""
    num_users = interactions.num_users
    if num_users <= users_per_chunk:
        return pool_users(model, interactions, item_states, query_states)
    indptr = interactions.indptr()
    chunks = [pool_users(model, interactions.rows_of(torch.arange(start, min(start + users_per_chunk, num_users)),
                                                     indptr), item_states, query_states)
              for start in range(0, num_users, users_per_chunk)]
    return np.concatenate(chunks)


def empty_event_log() -> EventLog:
    return EventLog(user_ids=[], user=np.zeros(0, np.int64), kind=np.zeros(0, np.int8),
                    timestamp=np.zeros(0), item=np.zeros(0, np.int64), query=np.zeros(0, np.int64), query_texts=[])


def select_users(shop: ShopData, users: np.ndarray) -> ShopData:
    """The shop with only ``users``' events, the users renumbered 0..len(users)-1 in the given order."""
    events = shop.events
    position = np.full(events.num_users, -1, dtype=np.int64)
    position[users] = np.arange(users.size)
    own = events.select(position[events.user] >= 0)
    return ShopData(catalog=shop.catalog, events=EventLog(
        user_ids=[events.user_ids[u] for u in users.tolist()], user=position[own.user], kind=own.kind,
        timestamp=own.timestamp, item=own.item, query=own.query, query_texts=events.query_texts,
    ))


def _new_item_states(model: ProfileModel, catalog: Catalog, first_new: int, encode: Encode) -> Tensor:
    """States of items ``first_new..``: text (or nothing) plus the category context, no user edges.

    The context graph holds the new items and the items sharing a category with them (the
    whole catalogue when the model learned item IDs, since those are looked up by index).
    """
    new = np.arange(first_new, len(catalog))
    if model.num_known_items:
        context = np.arange(len(catalog))
    else:
        categories = {catalog.categories[i] for i in new.tolist() if catalog.categories[i]}
        same = [i for i in range(first_new) if catalog.categories[i] in categories]
        context = np.concatenate([np.asarray(same, dtype=np.int64), new])
    graph = build_hetero_graph(ShopData(catalog=select_items(catalog, context), events=empty_event_log()))
    if model.item_text is not None:
        graph["item"].x = torch.from_numpy(encode([catalog.text(i) for i in context.tolist()]))
    return model.item_states(graph)[context.size - new.size:].float()


def _new_query_states(model: ProfileModel, shop: ShopData, first_new: int, item_states: Tensor,
                      encode: Encode) -> Tensor:
    """States of queries ``first_new..``: their text plus the mean state of the items they led to."""
    events, texts = shop.events, shop.events.query_texts[first_new:]
    searched = np.isin(events.kind, shop_schema().query_event_codes) & (events.query >= first_new) & (events.item >= 0)
    pairs = np.unique(np.stack([events.query[searched] - first_new, events.item[searched]]), axis=1)
    data = HeteroData()
    data["query"].num_nodes = len(texts)
    if model.query_text is not None and texts:
        data["query"].x = torch.from_numpy(encode(texts))
    data[_QUERY_EDGE].edge_index = torch.from_numpy(pairs.astype(np.int64)).reshape(2, -1)
    return model.query_states(data, item_states).float()


def select_items(catalog: Catalog, rows: Sequence[int] | np.ndarray) -> Catalog:
    """The catalogue's items at ``rows``, in that order."""
    rows = np.asarray(rows, dtype=np.int64)
    pick = rows.tolist()
    return Catalog(
        item_ids=[catalog.item_ids[i] for i in pick], titles=[catalog.titles[i] for i in pick],
        categories=[catalog.categories[i] for i in pick], brands=[catalog.brands[i] for i in pick],
        descriptions=[catalog.descriptions[i] for i in pick], prices=catalog.prices[rows],
    )


def _extended_vocabulary(vocabulary: TagVocabulary, catalog: Catalog, queries: list[str],
                         first_item: int, first_query: int) -> TagVocabulary:
    """The vocabulary with rows for the new items and queries, mapped onto the existing tags only.

    New words do not become tags: a tag is something many users share, and adding one
    would change what existing tags mean to existing profiles.
    """
    index = {tag_key(label): t for t, label in enumerate(vocabulary.labels)}
    item_rows, leaves = [], []
    for i in range(first_item, len(catalog)):
        row: dict[int, float] = {}
        path = category_levels(catalog.categories[i])
        leaf = -1
        for depth, level in enumerate(reversed(path)):
            t = index.get(tag_key(level))
            if t is not None:
                row[t] = max(row.get(t, 0.0), PARENT_TAG_WEIGHT**depth)
                leaf = t if depth == 0 else leaf
        for label in ([" ".join(catalog.brands[i].split())] if catalog.brands[i].strip() else []) + keywords(
                catalog.titles[i], bigrams=True):
            t = index.get(tag_key(label))
            if t is not None:
                row[t] = 1.0
        item_rows.append(row)
        leaves.append(leaf)
    query_rows = [
        {t: 1.0 for t in (index.get(tag_key(word)) for word in keywords(text, bigrams=True)) if t is not None}
        for text in queries[first_query:]
    ]
    return TagVocabulary(
        labels=vocabulary.labels,
        kinds=vocabulary.kinds,
        item_tags=_stack_rows(vocabulary.item_tags, item_rows),
        query_tags=_stack_rows(vocabulary.query_tags, query_rows),
        item_leaf=np.concatenate([vocabulary.item_leaf, np.asarray(leaves, dtype=np.int64)]),
    )


def _stack_rows(matrix: sp.csr_matrix, rows: list[dict[int, float]]) -> sp.csr_matrix:
    if not rows:
        return matrix
    cells = [(r, t, w) for r, row in enumerate(rows) for t, w in sorted(row.items())]
    r, t, w = (np.asarray(column) for column in zip(*cells)) if cells else (np.zeros(0, int),) * 3
    added = sp.csr_matrix((w.astype(np.float32), (r, t)), shape=(len(rows), matrix.shape[1]))
    return sp.vstack([matrix, added], format="csr", dtype=np.float32)


#: Users' unit vectors summed into their segment's centroid at a time (bounds the float64 copy).
_CENTROID_ROWS = 65_536


def _centroids(user_vectors: np.ndarray, labels: np.ndarray, num_segments: int) -> np.ndarray:
    """Unit mean direction of each segment's members."""
    sums = np.zeros((num_segments, user_vectors.shape[1]))
    for start in range(0, user_vectors.shape[0], _CENTROID_ROWS):  # rows in order: the same sums as at once
        rows = slice(start, start + _CENTROID_ROWS)
        np.add.at(sums, labels[rows], unit_rows(user_vectors[rows], np.float64))
    return unit_rows(sums).astype(np.float32)


def _sparse_payload(matrix: sp.csr_matrix) -> dict[str, Any]:
    matrix = matrix.tocsr()
    return {"indptr": torch.from_numpy(matrix.indptr.astype(np.int64)),
            "indices": torch.from_numpy(matrix.indices.astype(np.int64)),
            "data": torch.from_numpy(matrix.data.astype(np.float32)), "shape": list(matrix.shape)}


def _sparse_from_payload(payload: dict[str, Any]) -> sp.csr_matrix:
    return sp.csr_matrix((payload["data"].numpy(), payload["indices"].numpy(), payload["indptr"].numpy()),
                         shape=tuple(payload["shape"]))
