import numpy as np
import pytest

from personagraph.shop.shop_reader import shop_from_rows
from personagraph.profiles.tag_vocabulary import TagVocabulary, category_levels, keywords, tag_key


def shop_of(items, events=()):
    events = list(events) or [{"user_id": "u0", "event": "view", "timestamp": 0, "item_id": items[0]["item_id"]}]
    return shop_from_rows(items, events)


def item(item_id, title="", category="", brand=""):
    return {"item_id": item_id, "title": title, "category": category, "brand": brand}


def test_every_category_level_is_a_tag_weighted_down_towards_the_root():
    shop = shop_of([item("a", category="Tools > Power Tools > Drills"), item("b", category="Garden > Hoses")])
    vocabulary = TagVocabulary.from_shop(shop, parent_weight=0.5)
    weights = dict(zip(vocabulary.labels, vocabulary.item_tags[0].toarray().ravel()))
    assert weights["Drills"] == 1.0 and weights["Power Tools"] == 0.5 and weights["Tools"] == 0.25
    assert weights["Hoses"] == 0.0
    assert vocabulary.labels[vocabulary.item_leaf[0]] == "Drills"
    assert vocabulary.labels[vocabulary.item_leaf[1]] == "Hoses"


def test_a_category_level_holding_most_items_is_dropped():
    shop = shop_of([item(str(i), category=f"All > Leaf{i % 2}") for i in range(4)])
    vocabulary = TagVocabulary.from_shop(shop, max_category_share=0.5)
    assert "All" not in vocabulary.labels
    assert {"Leaf0", "Leaf1"} <= set(vocabulary.labels)


def test_item_without_category_has_no_leaf():
    vocabulary = TagVocabulary.from_shop(shop_of([item("a", title="thing"), item("b", category="Drills")]))
    assert vocabulary.item_leaf[0] == -1
    assert vocabulary.labels[vocabulary.item_leaf[1]] == "Drills"


def test_keywords_drop_numbers_units_and_stop_words_and_fold_plurals():
    assert keywords("Koda 18V Cordless Drills with 2 Batteries, 500 ml", bigrams=False) == [
        "koda", "cordless", "drill", "battery",
    ]
    assert tag_key("Power Tools") == "power tool" == tag_key("power  tool")


def test_keyword_frequency_limits_and_merge_with_categories():
    titles = ["cordless drill"] * 3 + ["cordless saw"] * 3 + ["rare widget"] + ["hammer"] * 3
    items = [item(str(i), title=t, category="Drills" if "drill" in t else "Other") for i, t in enumerate(titles)]
    vocabulary = TagVocabulary.from_shop(shop_of(items), min_count=2, max_keyword_share=0.5, bigrams=False)
    labels = set(vocabulary.labels)
    assert {"saw", "hammer"} <= labels  # between the document-frequency limits
    assert "cordless" not in labels  # in 6 of 10 titles: more than half
    assert "widget" not in labels and "rare" not in labels  # one-off
    assert "drill" not in labels  # the title word is the category tag "Drills"
    drills = vocabulary.labels.index("Drills")
    assert vocabulary.item_tags[:, drills].nnz == 3


def test_a_frequent_word_pair_becomes_a_tag_unless_it_holds_a_brand():
    titles = ["Koda wall charger"] * 3 + ["Koda usb cable"] * 3 + ["wall clock", "desk lamp"] * 2
    items = [item(str(i), title=t, brand="Koda" if t.startswith("Koda") else "") for i, t in enumerate(titles)]
    vocabulary = TagVocabulary.from_shop(shop_of(items), min_count=3, max_keyword_share=0.5)
    assert "wall charger" in vocabulary.labels and "usb cable" in vocabulary.labels
    assert not any(label.startswith("koda ") for label in vocabulary.labels)
    assert "Koda" in vocabulary.labels and vocabulary.kinds[vocabulary.labels.index("Koda")] == "brand"


def test_query_keywords_map_to_the_same_tags_as_titles():
    items = [item("a", title="drill", category="Drills"), item("b", category="Hoses")]
    events = [{"user_id": "u0", "event": "search", "timestamp": 0, "query": "Drill"}]
    vocabulary = TagVocabulary.from_shop(shop_of(items, events), min_count=1, max_keyword_share=1.0)
    assert vocabulary.query_tags.shape == (1, len(vocabulary))
    assert vocabulary.labels[vocabulary.query_tags[0].indices[0]] == "Drills"


def test_tag_vectors_are_item_means_shrunk_towards_the_mean_item():
    shop = shop_of([item("a", category="X"), item("b", category="X"), item("c", category="Y")])
    vocabulary = TagVocabulary.from_shop(shop, max_category_share=1.0)
    item_vectors = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 3.0]], dtype=np.float32)
    plain, has_items = vocabulary.tag_vectors(item_vectors, prior_items=0)
    x, y = vocabulary.labels.index("X"), vocabulary.labels.index("Y")
    assert has_items.all()
    np.testing.assert_allclose(plain[x], [2.0, 0.0])
    shrunk, _ = vocabulary.tag_vectors(item_vectors, prior_items=1)
    # (0 + 3 + 1 * mean item (4/3, 1)) / 2
    np.testing.assert_allclose(shrunk[y], [2 / 3, 2.0], rtol=1e-6)


@pytest.mark.parametrize("bigrams", [True, False])
def test_empty_titles_give_no_keywords(bigrams):
    vocabulary = TagVocabulary.from_shop(shop_of([item("a"), item("b")]), bigrams=bigrams)
    assert len(vocabulary) == 0
    assert vocabulary.item_tags.shape == (2, 0)


def test_glued_category_levels_are_split_into_readable_tags():
    """Paths as the Amazon Scientific converter leaves them: some levels glued, a sentence, pack sizes."""
    assert category_levels("Industrial & Scientific > Radial Ball Bearings Deep Groove Ball Bearings") == [
        "Industrial & Scientific", "Radial Ball Bearings", "Deep Groove Ball Bearings"]
    assert category_levels("Apparel Protective Apparel & Gloves Exam Gloves") == [
        "Apparel", "Protective Apparel & Gloves", "Exam Gloves"]
    assert category_levels("Pressure & Vacuum Pressure & Vacuum Gauges") == ["Pressure & Vacuum", "Pressure & Vacuum Gauges"]
    assert category_levels("Shims & Shim Stock Shim Stock") == ["Shims & Shim Stock", "Shim Stock"]
    for whole in ("Latches Draw Latches & Tension Latches", "Label Makers, Thermal Printers & Supplies",
                  "Tapes, Adhesives & Sealants", "Oral Hygiene & Preventive Care"):
        assert " ".join(category_levels(whole)) == whole and all(len(level.split()) > 0 for level in category_levels(whole))
    assert category_levels("Latches Draw Latches & Tension Latches") == ["Latches", "Draw Latches & Tension Latches"]
    assert category_levels("Lab > 1 pack 2 pack 5 pack") == ["Lab"]
    assert category_levels("Abrasives > Flaps grind and blend in a single step") == ["Abrasives"]


def test_tags_of_a_real_like_catalog_are_single_levels_brands_or_words():
    items = [
        item("g1", "Nitrile Exam Gloves, Powder Free, Large", "Industrial & Scientific > Occupational Health & Safety "
             "Products > Personal Protective Equipment > Apparel Protective Apparel & Gloves Exam Gloves", "Medline"),
        item("g2", "Vinyl Exam Gloves Powder Free", "Industrial & Scientific > Occupational Health & Safety "
             "Products > Personal Protective Equipment > Apparel Protective Apparel & Gloves Exam Gloves", "Medline"),
        item("b1", "6202-2RS Ball Bearing", "Industrial & Scientific > Power Transmission Products > Bearings > "
             "Ball Bearings > Radial Ball Bearings Deep Groove Ball Bearings", "VXB"),
        item("b2", "608ZZ Skate Bearings", "Industrial & Scientific > Power Transmission Products > Bearings > "
             "Ball Bearings > Radial Ball Bearings Deep Groove Ball Bearings", "uxcell"),
    ]
    vocabulary = TagVocabulary.from_shop(shop_of(items), min_count=2, max_category_share=0.9, max_keyword_share=0.6)
    categories = {label for label, kind in zip(vocabulary.labels, vocabulary.kinds) if kind == "category"}
    assert {"Exam Gloves", "Protective Apparel & Gloves", "Deep Groove Ball Bearings", "Radial Ball Bearings"} <= categories
    assert not any("Gloves Exam" in label or "Bearings Deep" in label for label in vocabulary.labels)
    assert vocabulary.labels[vocabulary.item_leaf[0]] == "Exam Gloves"
    assert vocabulary.labels[vocabulary.item_leaf[2]] == "Deep Groove Ball Bearings"
    assert "Medline" in vocabulary.labels and "powder free" in vocabulary.labels
