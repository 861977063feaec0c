"""`TextAudience`: a text is profiled in the run's frozen space as `update` would store a user who searched it."""
import hashlib
from dataclasses import dataclass

import numpy as np
import pytest
import torch

from random_model import randomised_model

from personagraph.encoders.text_encoder import TextEncoder
from personagraph.errors import PersonaGraphError
from personagraph.gnn.profile_model import ProfileModel
from personagraph.graph.hetero_graph_builder import build_hetero_graph
from personagraph.pipeline.incremental_update import merge_shop
from personagraph.pipeline.text_audience import TextAudience
from personagraph.profiles.profile_space import ProfileSpace, select_items
from personagraph.shop.shop_data import ShopData
from personagraph.shop.shop_reader import shop_from_rows

DAY = 86400.0
ITEMS = [
    {"item_id": "drill", "title": "Cordless drill driver", "category": "Tools > Drills"},
    {"item_id": "saw", "title": "Circular saw", "category": "Tools > Saws"},
    {"item_id": "beaker", "title": "Glass beaker", "category": "Lab > Glassware"},
    {"item_id": "flask", "title": "Erlenmeyer flask", "category": "Lab > Glassware"},
]
EVENTS = [
    {"user_id": "u1", "event": "search", "timestamp": DAY, "item_id": "drill", "query": "drill"},
    {"user_id": "u1", "event": "purchase", "timestamp": 2 * DAY, "item_id": "drill"},
    {"user_id": "u1", "event": "view", "timestamp": 3 * DAY, "item_id": "saw"},
    {"user_id": "u2", "event": "search", "timestamp": DAY, "item_id": "beaker", "query": "lab glass"},
    {"user_id": "u2", "event": "click", "timestamp": 2 * DAY, "item_id": "flask"},
    {"user_id": "u3", "event": "view", "timestamp": DAY, "item_id": "flask"},
    {"user_id": "u3", "event": "purchase", "timestamp": 4 * DAY, "item_id": "saw"},
]


class HashingEncoder(TextEncoder):
    """Deterministic word-hashing vectors: texts sharing words get similar vectors."""

    name = "hashing-test-encoder"
    dim = 16

    def _encode(self, texts, batch_size, show_progress):
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().split():
                vectors[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        return vectors + 1e-3


def graph_of(shop, encoder, with_queries=True):
    graph = build_hetero_graph(shop)
    graph["item"].x = torch.from_numpy(encoder.encode([shop.catalog.text(i) for i in range(len(shop.catalog))]))
    if with_queries:
        graph["query"].x = torch.from_numpy(encoder.encode(shop.events.query_texts))
    return graph


@dataclass
class Trained:
    """A run's parts in memory: its shop, model, frozen space and encoder."""

    shop: ShopData
    model: ProfileModel
    space: ProfileSpace
    encoder: TextEncoder

    def audience(self, **options) -> TextAudience:
        return TextAudience(self.model, self.space, self.shop.catalog, self.encoder.encode, **options)

    def stored_profile(self, new_events, new_items=()):
        """What `update` stores for user "zz" after ``new_events``: zz pooled over the space extended by them."""
        incoming = shop_from_rows(ITEMS + list(new_items), new_events)
        added = select_items(incoming.catalog, range(len(ITEMS), len(incoming.catalog)))
        merged, _ = merge_shop(self.shop, added, incoming)
        space = self.space.extend(self.model, merged, self.encoder.encode)
        zz = np.asarray([merged.events.user_ids.index("zz")])
        return space.profile_users(self.model, merged, zz).vectors[0]


def trained(with_queries=True) -> Trained:
    encoder = HashingEncoder()
    shop = shop_from_rows(ITEMS, EVENTS)
    graph = graph_of(shop, encoder, with_queries)
    model = randomised_model(graph, seed=0)
    space, _ = ProfileSpace.build(model, graph, shop)
    return Trained(shop, model, space, encoder)


@pytest.fixture
def run():
    return trained()


@pytest.fixture
def audience(run):
    return run.audience()


def views_of(items, user="zz"):
    return [{"user_id": user, "event": "view", "timestamp": DAY, "item_id": ITEMS[i]["item_id"]} for i in items]


def test_described_items_are_the_keyword_matches_then_the_nearest_items(audience):
    # Every word in the title (plurals folded, stop words ignored): the saw; then the 3 nearest by text.
    described = audience.described_items("the Circular Saws").tolist()
    assert described[0] == 1 and len(set(described)) == len(described) and 3 <= len(described) <= 4
    assert audience.described_items("Glass beakers")[0] == 2 and audience.described_items("glass")[0] == 2
    none = TextAudience(audience.model, audience.space, audience.catalog, audience.encode, nearest_items=0)
    assert none.described_items("cordless saw").size == 0  # no title holds both words


def test_new_text_is_profiled_as_update_stores_a_user_who_searched_it_and_viewed_its_items(run, audience):
    described = audience.described_items("cordless saw")
    assert described.size == 3  # no keyword match: the nearest items
    expected = run.stored_profile(
        [{"user_id": "zz", "event": "search", "timestamp": DAY, "query": "cordless saw"}, *views_of(described)])
    assert audience.vector("  Cordless SAW ") == pytest.approx(expected, abs=1e-5)


def test_known_query_keeps_the_items_it_led_to(run, audience):
    expected = run.stored_profile([{"user_id": "zz", "event": "search", "timestamp": DAY, "query": "lab glass"}])
    assert audience.vector("Lab Glass") == pytest.approx(expected, abs=1e-5)
    # The query's state holds its items: as a new text, the same words get another profile.
    as_new_text = run.audience(known_queries=False)
    assert not np.allclose(audience.vector("Lab Glass"), as_new_text.vector("Lab Glass"), atol=1e-3)


def test_known_query_needs_no_encoder(run):
    def encode(texts):
        raise AssertionError(f"encoded {texts}")

    audience = TextAudience(run.model, run.space, run.shop.catalog, encode)
    assert audience.vector("drill") == pytest.approx(run.audience().vector("drill"), abs=1e-6)


def test_batch_matches_single_texts(audience):
    texts = ["drill", "beaker and flask", "lab glass", "beaker and flask"]
    assert audience.vectors(texts) == pytest.approx(np.stack([audience.vector(t) for t in texts]), abs=1e-5)
    assert np.linalg.norm(audience.vectors(texts), axis=1) == pytest.approx(np.ones(4), abs=1e-5)


def test_model_without_queries_views_the_described_items():
    run = trained(with_queries=False)
    assert run.model.query_text is None
    audience = run.audience()
    described = audience.described_items("Erlenmeyer flasks")
    assert described[0] == 3
    assert audience.vector("Erlenmeyer flasks") == pytest.approx(run.stored_profile(views_of(described)), abs=1e-5)
    keywords_only = TextAudience(run.model, run.space, run.shop.catalog, run.encoder.encode, nearest_items=0)
    with pytest.raises(PersonaGraphError, match="no item title"):
        keywords_only.vector("garden hose")


def test_empty_text_and_textless_model_fail_clearly(run, audience):
    with pytest.raises(PersonaGraphError, match="empty"):
        audience.vector("   ")
    graph = build_hetero_graph(run.shop)
    with pytest.raises(PersonaGraphError, match="no text input"):
        TextAudience(ProfileModel.from_graph(graph, dim=8), run.space, run.shop.catalog, run.encoder.encode)


def test_find_returns_the_nearest_stored_users_of_a_segment(audience, profile_store):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 8))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    profile_store.ensure_schema(8)
    profile_store.upsert_users(
        ({"id": f"p{n:02d}", "embedding": vectors[n], "segment": n % 3, "segment_name": f"seg {n % 3}"}
         for n in range(40)),
        run_id="test",
    )
    target = audience.vector("cordless drill")
    for segment, members in ((1, np.arange(1, 40, 3)), ("seg 2", np.arange(2, 40, 3)), (None, np.arange(40))):
        hits = audience.find(profile_store, "cordless drill", k=5, segment=segment)
        expected = members[np.argsort(-(vectors[members] @ target))[:5]]
        assert [hit.id for hit in hits] == [f"p{n:02d}" for n in expected]
        assert [hit.score for hit in hits] == pytest.approx(vectors[expected] @ target, abs=1e-4)
