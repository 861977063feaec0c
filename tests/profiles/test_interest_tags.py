import math

import numpy as np
import pytest

from personagraph.errors import PersonaGraphError
from personagraph.shop.shop_reader import shop_from_rows
from personagraph.profiles.interest_tags import InterestTags, tag_evidence
from personagraph.profiles.tag_vocabulary import TagVocabulary

DAY = 86400.0
END = 100 * DAY
ITEMS = [
    {"item_id": "drill", "title": "", "category": "Tools > Drills"},
    {"item_id": "hose", "title": "", "category": "Garden > Hoses"},
    {"item_id": "saw", "title": "", "category": "Tools > Saws"},
    {"item_id": "thing", "title": ""},  # no category
]


def event(user, kind, item=None, timestamp=END, query=None):
    return {"user_id": user, "event": kind, "timestamp": timestamp, "item_id": item, "query": query}


def tags_of(shop, **options):
    vocabulary = TagVocabulary.from_shop(shop, max_category_share=1.0, min_count=1, max_keyword_share=1.0)
    return vocabulary, InterestTags.from_shop(shop, vocabulary, **options)


def assert_tags(actual, expected):
    assert [label for label, _ in actual] == [label for label, _ in expected]
    assert [weight for _, weight in actual] == pytest.approx([weight for _, weight in expected], rel=1e-5)


def test_event_type_weights_order_the_raw_tags():
    shop = shop_from_rows(ITEMS, [event("u0", "purchase", "hose")] + [event("u0", "view", "drill")] * 3)
    vocabulary, tags = tags_of(shop, half_life_days=None)
    # Hoses: purchase 1.0; Garden: 0.5 * 1.0; Drills: 3 views * 0.1; Tools: 0.5 * 0.3
    assert_tags(tags.for_user(0), [("Hoses", 1.0), ("Garden", 0.5), ("Drills", 0.3), ("Tools", 0.15)])
    assert tags.tag[0, 4:].tolist() == [-1] * 6 and tags.weight[0, 4:].tolist() == [0.0] * 6


def test_recency_decay_halves_weight_per_half_life():
    shop = shop_from_rows(ITEMS, [event("u0", "view", "drill", END - 30 * DAY), event("u0", "view", "hose", END)])
    vocabulary = TagVocabulary.from_shop(shop, max_category_share=1.0)
    evidence = tag_evidence(shop.events, vocabulary, half_life_days=30.0).toarray()[0]
    assert evidence[vocabulary.labels.index("Hoses")] == pytest.approx(0.1)
    assert evidence[vocabulary.labels.index("Drills")] == pytest.approx(0.05)
    no_decay = tag_evidence(shop.events, vocabulary, half_life_days=None).toarray()[0]
    assert no_decay[vocabulary.labels.index("Drills")] == pytest.approx(0.1)


def test_custom_event_weights_and_unknown_event_type():
    shop = shop_from_rows(ITEMS, [event("u0", "view", "drill"), event("u0", "click", "hose")])
    vocabulary, tags = tags_of(shop, event_weights={"view": 2.0, "click": 1.0}, half_life_days=None)
    assert [label for label, _ in tags.for_user(0)][:2] == ["Drills", "Tools"]
    with pytest.raises(PersonaGraphError, match="unknown event types"):
        tag_evidence(shop.events, vocabulary, {"like": 1.0})


def test_vector_ranking_reorders_tags_and_adds_untouched_ones():
    items = [{"item_id": i, "title": "", "category": c} for i, c in [("a", "Drills"), ("b", "Hoses"), ("c", "Saws")]]
    shop = shop_from_rows(items, [event("u0", "view", "a")] * 2 + [event("u0", "view", "b")])
    vocabulary = TagVocabulary.from_shop(shop, max_category_share=1.0)
    item_vectors = np.eye(3, dtype=np.float32)[[vocabulary.item_leaf[i] for i in range(3)]]
    user_vectors = np.array([[0.0, 0.0, 0.0]], dtype=np.float32)
    user_vectors[0, vocabulary.item_leaf[1]] = 1.0  # points at Hoses ...
    user_vectors[0, vocabulary.item_leaf[2]] = 0.5  # ... and a little at Saws, never touched

    raw = InterestTags.from_shop(shop, vocabulary, half_life_days=None)
    ranked = InterestTags.from_shop(
        shop, vocabulary, user_vectors, item_vectors,
        half_life_days=None, vector_weight=0.5, temperature=1.0, prior_items=0,
    )
    assert [label for label, _ in raw.for_user(0)] == ["Drills", "Hoses"]
    # evidence (2/3, 1/3, 0); scores (0, 1, 0.5) standardised to (-1.2247, 1.2247, 0), softmax
    softmax = np.exp([-math.sqrt(1.5), math.sqrt(1.5), 0.0])
    softmax /= softmax.sum()
    mixture = 0.5 * np.array([2 / 3, 1 / 3, 0.0]) + 0.5 * softmax
    expected = [("Hoses", 1.0), ("Drills", mixture[0] / mixture[1]), ("Saws", mixture[2] / mixture[1])]
    assert_tags(ranked.for_user(0), expected)


def test_search_only_user_gets_tags_from_query_words():
    items = ITEMS + [{"item_id": "drill2", "title": "drill", "category": "Tools > Drills"}]
    shop = shop_from_rows(items, [event("u0", "search", query="cordless drills"), event("u1", "view", "hose")])
    vocabulary, tags = tags_of(shop, half_life_days=None)
    # the query's words and their pair, each with the search weight, "drills" merged into the category
    assert dict(tags.for_user(0)) == pytest.approx({"Drills": 1.0, "cordless": 1.0, "cordless drill": 1.0})


def test_user_without_events_has_no_raw_tags_but_vector_tags():
    shop = shop_from_rows(ITEMS, [event("u0", "view", "drill")])
    vocabulary = TagVocabulary.from_shop(shop, max_category_share=1.0)
    shop.events.user_ids.append("u_new")  # a user known to the model but with no event in this log
    raw = InterestTags.from_shop(shop, vocabulary)
    assert raw.for_user(1) == []
    rng = np.random.default_rng(0)
    ranked = InterestTags.from_shop(shop, vocabulary, rng.normal(size=(2, 4)), rng.normal(size=(4, 4)), top_n=3)
    assert len(ranked.for_user(1)) == 3 and ranked.for_user(1)[0][1] == 1.0


def test_category_hit_rate_counts_targets_in_top_k():
    shop = shop_from_rows(ITEMS, [event(u, "view", "drill") for u in ("u0", "u1", "u2", "u3")])
    vocabulary = TagVocabulary.from_shop(shop, max_category_share=1.0)
    drills, saws, hoses = (vocabulary.labels.index(name) for name in ("Drills", "Saws", "Hoses"))
    tags = InterestTags(
        vocabulary=vocabulary,
        tag=np.array([[drills, hoses, -1], [hoses, saws, drills], [saws, drills, -1], [drills, -1, -1]]),
        weight=np.ones((4, 3), dtype=np.float32),
    )
    targets = np.array([0, 0, 2, 3])  # drill, drill, saw, the uncategorised thing
    assert tags.category_hit_rate(targets, k=2) == 0.5  # u0 yes, u1 no (3rd), u2 yes, u3 no leaf
    assert tags.category_hit_rate(targets, k=3) == 0.75
    assert tags.category_hit_rate(np.array([-1, 0, -1, -1]), k=1) == 0.0
    with pytest.raises(PersonaGraphError, match="no user has a target"):
        tags.category_hit_rate(np.full(4, -1))


def test_vectors_that_do_not_match_the_shop_are_refused():
    shop = shop_from_rows(ITEMS, [event("u0", "view", "drill")])
    vocabulary = TagVocabulary.from_shop(shop)
    with pytest.raises(PersonaGraphError, match="2 user vectors for 1 users"):
        InterestTags.from_shop(shop, vocabulary, np.zeros((2, 3)), np.zeros((4, 3)))
    with pytest.raises(PersonaGraphError, match="give both"):
        InterestTags.from_shop(shop, vocabulary, np.zeros((1, 3)))


def test_sparse_form_holds_the_top_weights():
    shop = shop_from_rows(ITEMS, [event("u0", "purchase", "hose"), event("u1", "view", "saw")])
    vocabulary, tags = tags_of(shop, half_life_days=None)
    dense = tags.to_sparse().toarray()
    assert dense.shape == (2, len(vocabulary))
    assert dense[0, vocabulary.labels.index("Hoses")] == 1.0 and dense[1, vocabulary.labels.index("Tools")] == 0.5
