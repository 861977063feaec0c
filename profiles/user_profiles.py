"""The profiles themselves: each user's vector with its readable attributes.

Built once from the shop and the trained model's vectors, then written both to the run
folder (`profiles.parquet`) and to the store, so the two always say the same thing.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pyarrow as pa

from personagraph.row_table import RowTable, vector_column
from personagraph.shop.shop_data import ShopData
from personagraph.profiles.activity import user_activity
from personagraph.profiles.interest_tags import InterestTags
from personagraph.profiles.segments import Segments
from personagraph.profiles.social_features import SocialFeatures
from personagraph.profiles.tag_vocabulary import TagVocabulary

#: Activity columns holding epoch seconds, stored as datetimes.
TIME_COLUMNS = ("first_seen", "last_seen")
#: Tags kept on the user node itself (`u.top_tags`); all top-N go to INTERESTED_IN links.
TOP_TAGS_ON_NODE = 5


@dataclass
class UserProfiles:
    """Vectors, tags, activity and segments of every user of a shop, in user-index order."""

    user_ids: list[str]
    vectors: np.ndarray  # float32 [num_users, dim]
    tags: InterestTags
    activity: dict[str, np.ndarray]
    segments: Segments
    social: SocialFeatures | None = None  # only for shops with social links

    @classmethod
    def build(
        cls, shop: ShopData, user_vectors: np.ndarray, item_vectors: np.ndarray, seed: int = 0,
        own_vectors: np.ndarray | None = None,
    ) -> "UserProfiles":
        """Profiles of every user of ``shop``. ``own_vectors`` (default ``user_vectors``) are the
        vectors of the users' own edges, which rank their tags: a user's tags describe what they
        did, not what their friends did, while ``user_vectors`` (with the social mix) place them."""
        own_vectors = user_vectors if own_vectors is None else own_vectors
        vocabulary = TagVocabulary.from_shop(shop)
        tags = InterestTags.from_shop(shop, vocabulary, own_vectors, item_vectors)
        segments = Segments.fit(user_vectors, tags, seed=seed)
        social = None
        if shop.social is not None and len(shop.social):
            top = [[tag for tag, _ in tags.for_user(u)[:TOP_TAGS_ON_NODE]] for u in range(shop.events.num_users)]
            social = SocialFeatures.compute(shop.social, shop.events.num_users, top)
        return cls(
            user_ids=list(shop.events.user_ids),
            vectors=np.asarray(user_vectors, dtype=np.float32),
            tags=tags,
            activity=user_activity(shop),
            segments=segments,
            social=social,
        )

    def __len__(self) -> int:
        return len(self.user_ids)

    def top_tags(self, user: int, n: int | None = None) -> list[tuple[str, float]]:
        pairs = self.tags.for_user(user)
        return pairs if n is None else pairs[:n]

    def attribute_columns(self) -> dict[str, list[Any]]:
        """Readable attributes as plain columns (no vectors), for parquet and Neo4j alike."""
        columns: dict[str, list[Any]] = {
            name: [_plain(v) for v in values] for name, values in self.activity.items() if name != "user_id"
        }
        for name in TIME_COLUMNS:  # datetimes, so Cypher can compare them with `updated_at`
            columns[name] = [None if t is None else datetime.fromtimestamp(t, tz=timezone.utc) for t in columns[name]]
        columns["top_tags"] = [[tag for tag, _ in self.top_tags(u, TOP_TAGS_ON_NODE)] for u in range(len(self))]
        columns["segment"] = [int(s) for s in self.segments.labels]
        columns["segment_name"] = [self.segments.segments[int(s)].name for s in self.segments.labels]
        if self.social is not None:
            columns |= self.social.columns()
        return columns

    def user_rows(self) -> RowTable:
        """One row per user for the store: id, embedding and the attribute columns (as columns)."""
        columns = {name: pa.array(values) for name, values in self.attribute_columns().items()}
        return RowTable(pa.table({
            **columns,
            "id": pa.array(list(self.user_ids), pa.string()),
            "embedding": vector_column(self.vectors),
        }))

    def tag_rows(self) -> RowTable:
        """(user)-[:INTERESTED_IN {weight}]->(tag) rows, as columns (ten or so per user)."""
        tags = self.tags
        kept = tags.tag >= 0
        users, ranks = np.nonzero(kept)
        return RowTable(pa.table({
            "start": pa.array(list(self.user_ids), pa.string()).take(pa.array(users)),
            "end": pa.array(list(tags.vocabulary.labels), pa.string()).take(pa.array(tags.tag[users, ranks])),
            "weight": pa.array(np.round(tags.weight[users, ranks].astype(np.float64), 4)),
        }))

    def segment_link_rows(self) -> RowTable:
        """(user)-[:IN_SEGMENT]->(segment) rows, as columns."""
        return RowTable(pa.table({"start": pa.array(list(self.user_ids), pa.string()),
                                  "end": pa.array(np.asarray(self.segments.labels, dtype=np.int64))}))

    def segment_rows(self) -> list[dict[str, Any]]:
        return [
            {
                "id": s.id,
                "name": s.name,
                "size": s.size,
                "top_tags": [tag for tag, _ in s.top_tags],
                "top_tag_weights": [round(float(w), 4) for _, w in s.top_tags],
            }
            for s in self.segments.segments
        ]


def _plain(value: Any) -> Any:
    """numpy scalars to Python values, NaN to None (Neo4j and JSON have no NaN for 'unknown')."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value
