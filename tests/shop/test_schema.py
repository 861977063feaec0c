"""The shop schema: what derives from it, and that a new event type needs nothing but a schema line."""
import csv
import zlib
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from personagraph.encoders.text_encoder import TextEncoder
from personagraph.shop import shop_data
from personagraph.shop.schema import (
    DEFAULT_SCHEMA,
    IN_CATEGORY,
    ITEM,
    LEADS_TO,
    PURCHASE,
    QUERY,
    SEARCH,
    SOCIAL,
    EventType,
    extended_schema,
    shop_schema,
)

WISHLIST = EventType("wishlist", ITEM, "WISHLISTED", interest_weight=0.4, target_weight=0.3)


@pytest.fixture
def wishlist():
    """The schema in use has a `wishlist` event type for the duration of a test."""
    with extended_schema(WISHLIST) as schema:
        yield schema


# -- derivations ------------------------------------------------------------------------
def test_default_schema_derives_codes_edges_relationships_and_weights():
    schema = DEFAULT_SCHEMA
    assert shop_schema() is schema
    assert schema.event_names == ("view", "click", "add_to_cart", "purchase", "search")
    assert dict(schema.event_code) == {"view": 0, "click": 1, "add_to_cart": 2, "purchase": 3, "search": 4}
    assert schema.item_events == ("view", "click", "add_to_cart", "purchase")
    assert schema.item_event_codes == (0, 1, 2, 3) and schema.query_event_codes == (4,)
    assert schema.user_edge_types[schema.event_code["search"]] == ("user", "search", "query")
    assert schema.forward_edge_types == schema.user_edge_types + (
        ("query", "leads_to", "item"), ("item", "in_category", "category"), ("user", "social", "user"))
    assert dict(schema.relationship_for_edge) == {
        "view": "VIEWED", "click": "CLICKED", "add_to_cart": "ADDED_TO_CART", "purchase": "PURCHASED",
        "search": "SEARCHED", "leads_to": "LEADS_TO", "in_category": "IN_CATEGORY", "social": "SOCIAL",
    }
    assert schema.interest_weights == {"purchase": 1.0, "add_to_cart": 0.6, "click": 0.3, "search": 0.2, "view": 0.1}
    assert list(schema.target_weights.items()) == [("purchase", 1.0), ("add_to_cart", 0.5), ("click", 0.25)]
    assert schema.positive_levels == (("purchase",), ("purchase", "add_to_cart"), ("purchase", "add_to_cart", "click"))
    assert schema.event(SEARCH.name).target == QUERY and PURCHASE.edge_type == ("user", "purchase", "item")
    assert LEADS_TO.edge_type == ("query", "leads_to", "item") and IN_CATEGORY.relationship == "IN_CATEGORY"


def test_extending_appends_and_keeps_existing_codes():
    extended = DEFAULT_SCHEMA.extended(WISHLIST)
    assert extended.event_names == DEFAULT_SCHEMA.event_names + ("wishlist",)
    assert all(extended.event_code[name] == code for name, code in DEFAULT_SCHEMA.event_code.items())
    assert extended.user_edge_types[-1] == ("user", "wishlist", "item")
    assert extended.forward_edge_types[-3:] == (LEADS_TO.edge_type, IN_CATEGORY.edge_type, SOCIAL.edge_type)
    assert extended.relationship_for_edge["wishlist"] == "WISHLISTED"
    assert extended.positive_levels[2] == ("purchase", "add_to_cart", "wishlist")
    equal = DEFAULT_SCHEMA.extended(EventType("save", ITEM, "SAVED", interest_weight=0.5, target_weight=0.5))
    assert equal.positive_levels[1] == ("purchase", "add_to_cart", "save")  # equal weights share a level


def test_weights_are_required_in_the_schema_line():
    with pytest.raises(TypeError, match="interest_weight"):
        EventType("wishlist", ITEM, "WISHLISTED", target_weight=0.3)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="target_weight"):
        EventType("wishlist", ITEM, "WISHLISTED", interest_weight=0.4)  # type: ignore[call-arg]


@pytest.mark.parametrize("event, reason", [
    (EventType("view", ITEM, "SEEN", 0.1, 0.0), "'view' appears twice"),
    (EventType("seen", ITEM, "VIEWED", 0.1, 0.0), "relationship 'VIEWED' appears twice"),
    (EventType("leads_to", ITEM, "LED", 0.1, 0.0), "name of a link edge type"),
    (EventType("rev_view", ITEM, "REVIEWED", 0.1, 0.0), "not a lower-case identifier"),
    (EventType("like", "category", "LIKED", 0.1, 0.0), "targets 'category'"),
    (EventType("like", ITEM, "LIKED`) DETACH DELETE n //", 0.1, 0.0), "not an UPPER_CASE identifier"),
    (EventType("like", ITEM, "LIKED", -0.1, 0.0), "negative weight"),
    (EventType("ask", QUERY, "ASKED", 0.1, 0.5), "does not target an item"),
])
def test_invalid_schemas_are_refused(event, reason):
    with pytest.raises(ValueError, match=reason):
        DEFAULT_SCHEMA.extended(event)


def test_module_names_follow_the_schema_in_use(wishlist):
    from personagraph.gnn import user_interactions
    from personagraph.graph import hetero_graph_builder
    from personagraph.profiles import interest_tags
    from personagraph.store import profile_store

    assert shop_schema() is wishlist and shop_data.EVENT_TYPES[-1] == "wishlist"
    assert shop_data.EVENT_CODE["wishlist"] == 5 and "wishlist" in shop_data.ITEM_EVENTS
    assert user_interactions.USER_EDGE_TYPES[5] == ("user", "wishlist", "item") and 5 in user_interactions.ITEM_EDGE_CODES
    assert ("user", "wishlist", "item") in hetero_graph_builder.FORWARD_EDGE_TYPES
    assert interest_tags.DEFAULT_EVENT_WEIGHTS["wishlist"] == 0.4
    assert profile_store.RELATIONSHIP_FOR_EDGE["wishlist"] == "WISHLISTED"
    from personagraph.gnn.train_config import TrainConfig

    assert TrainConfig().target_weights["wishlist"] == 0.3


def test_the_extension_ends_with_its_block():
    with extended_schema(WISHLIST):
        assert "wishlist" in shop_data.EVENT_TYPES
    assert shop_schema() is DEFAULT_SCHEMA and "wishlist" not in shop_data.EVENT_TYPES


def test_store_knows_the_new_relationship_type(wishlist):
    """The sync path writes a user's edges under their schema relationship; the store only accepts known types."""
    from personagraph.store.neo4j_profile_store import _check_rel_type
    from personagraph.store.profile_store import PROFILE_RELATIONSHIPS, relationship_types

    assert _check_rel_type("WISHLISTED") == "WISHLISTED"
    assert relationship_types() == frozenset(wishlist.relationship_for_edge.values()) | PROFILE_RELATIONSHIPS


def test_unknown_event_type_without_the_schema_line(tmp_path):
    from personagraph.errors import PersonaGraphError
    from personagraph.shop.shop_reader import shop_from_rows

    rows = [{"user_id": "u", "event": "wishlist", "timestamp": "2025-01-01T00:00:00Z", "item_id": "a"}]
    with pytest.raises(PersonaGraphError, match="unknown event type 'wishlist'"):
        shop_from_rows([{"item_id": "a", "title": "Drill"}], rows)
    with extended_schema(WISHLIST):
        assert shop_from_rows([{"item_id": "a", "title": "Drill"}], rows).events.kind.tolist() == [5]


def test_checkpoint_keeps_the_number_of_edge_types_it_was_trained_with(tmp_path):
    from personagraph.gnn.checkpoint import load_checkpoint, save_checkpoint
    from personagraph.gnn.profile_model import ProfileModel
    from personagraph.gnn.train_config import TrainConfig

    with extended_schema(WISHLIST):
        model = ProfileModel(dim=4)
        assert model.type_logit.shape == (6,)
        save_checkpoint(tmp_path / "wishlist.pt", model, TrainConfig(dim=4), None)
    assert load_checkpoint(tmp_path / "wishlist.pt").model.type_logit.shape == (6,)
    # A checkpoint written before the number was a hyper-parameter: the weights' shape tells it.
    save_checkpoint(tmp_path / "old.pt", ProfileModel(dim=4), TrainConfig(dim=4), None)
    saved = torch.load(tmp_path / "old.pt", weights_only=True)
    del saved["model_hparams"]["num_edge_types"]
    torch.save(saved, tmp_path / "old.pt")
    with extended_schema(WISHLIST):
        assert load_checkpoint(tmp_path / "old.pt").model.type_logit.shape == (5,)


# -- a new event type end to end --------------------------------------------------------
class _HashingEncoder(TextEncoder):
    """Deterministic text vectors, so the pipeline runs without loading a language model."""

    name = "test/hashing"
    dim = 8

    def _encode(self, texts, batch_size, show_progress):
        return np.stack([np.random.default_rng(zlib.crc32(t.encode())).normal(size=self.dim) for t in texts])


def _add_wishlists(shop_dir: Path) -> tuple[int, str]:
    """Every second user wishlists the first item of their log (at that event's time, so the split keeps
    it), and a new user `wisher` only wishlists one item three times. Returns (rows, that item's id)."""
    path = next(shop_dir.glob("events.*"))
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    first_item_row: dict[str, dict[str, str]] = {}
    for row in rows:
        if row["item_id"]:
            first_item_row.setdefault(row["user_id"], row)
    added = [{**row, "event": WISHLIST.name, "query": ""} for row in list(first_item_row.values())[::2]]
    wished = rows[-1]["item_id"] or first_item_row[rows[-1]["user_id"]]["item_id"]
    added += [{"user_id": "wisher", "event": WISHLIST.name, "timestamp": row["timestamp"], "item_id": wished,
               "query": ""} for row in rows[:3]]
    with path.open("a", newline="", encoding="utf-8") as handle:
        csv.DictWriter(handle, list(rows[0])).writerows(added)
    return len(rows) + len(added), wished


def test_a_new_event_type_reaches_graph_model_and_interest_tags(wishlist, tmp_path, monkeypatch):
    from personagraph.datasets.sample_shop import generate_sample_shop
    from personagraph.gnn.checkpoint import load_checkpoint
    from personagraph.gnn.train_config import TrainConfig
    from personagraph.gnn.user_interactions import UserInteractions
    from personagraph.graph.hetero_graph_builder import build_hetero_graph
    from personagraph.pipeline import train_pipeline
    from personagraph.pipeline.run_folder import RunFolder
    from personagraph.pipeline.train_pipeline import TrainOptions, run_training
    from personagraph.profiles.interest_tags import InterestTags, tag_evidence
    from personagraph.profiles.tag_vocabulary import TagVocabulary
    from personagraph.shop.shop_reader import read_shop

    generate_sample_shop(tmp_path / "shop", users=60, items=40, seed=3)
    num_rows, wished = _add_wishlists(tmp_path / "shop")
    monkeypatch.setattr(train_pipeline, "load_text_encoder", lambda *args, **kwargs: _HashingEncoder())
    options = TrainOptions(data_dir=tmp_path / "shop", out_dir=tmp_path / "run",
                           config=TrainConfig(dim=8, epochs=3, spectral_dim=0, seed=0), progress=False)
    summary = run_training(options, log=lambda line: None)

    code = wishlist.event_code[WISHLIST.name]
    assert summary["counts"]["events"] == num_rows  # the reader took every wishlist row
    assert options.config.target_weights[WISHLIST.name] == WISHLIST.target_weight

    shop = read_shop(tmp_path / "shop", progress=False)
    wisher = shop.events.user_ids.index("wisher")
    graph = build_hetero_graph(shop)
    wished_pairs = {(int(u), int(i)) for u, i, k in zip(shop.events.user, shop.events.item, shop.events.kind) if k == code}
    edges = graph[WISHLIST.edge_type].edge_index
    assert set(zip(edges[0].tolist(), edges[1].tolist())) == wished_pairs
    assert graph["item", f"rev_{WISHLIST.name}", "user"].edge_index.shape == edges.shape
    interactions = UserInteractions.from_graph(graph)
    assert int((interactions.kind == code).sum()) == len(wished_pairs)
    assert interactions.is_item()[interactions.kind == code].all()

    model = load_checkpoint(RunFolder(tmp_path / "run").checkpoint).model
    assert model.type_logit.shape == (len(wishlist.events),)
    assert float(model.type_logit.detach()[code]) != 0.0  # trained on users with wishlist edges

    vocabulary = TagVocabulary.from_shop(shop)
    leaf = int(vocabulary.item_leaf[shop.catalog.index[wished]])
    assert tag_evidence(shop.events, vocabulary)[wisher, leaf] > 0
    assert tag_evidence(shop.events, vocabulary, {WISHLIST.name: 0.0})[wisher].sum() == 0  # nothing else
    tags = dict(InterestTags.from_shop(shop, vocabulary).for_user(wisher))
    assert tags[vocabulary.labels[leaf]] > 0
    profile = {row["user_id"]: row for row in pq.read_table(RunFolder(tmp_path / "run").profiles).to_pylist()}
    assert profile["wisher"]["wishlist_count"] == 3 and profile["wisher"]["top_tags"]
