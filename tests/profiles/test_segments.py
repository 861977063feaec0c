import numpy as np
import pytest
from scipy.special import comb

from personagraph.errors import PersonaGraphError
from personagraph.shop.shop_reader import shop_from_rows
from personagraph.profiles.interest_tags import InterestTags
from personagraph.profiles.segments import Segments
from personagraph.profiles.tag_vocabulary import TagVocabulary

METHODS = ["kmeans", "communities"]


def adjusted_rand_index(truth: np.ndarray, found: np.ndarray) -> float:
    """Hubert & Arabie's ARI: 1 for the same partition, about 0 for chance agreement."""
    _, truth = np.unique(truth, return_inverse=True)
    _, found = np.unique(found, return_inverse=True)
    table = np.zeros((truth.max() + 1, found.max() + 1))
    np.add.at(table, (truth, found), 1)
    pairs = comb(table, 2).sum()
    rows, cols = comb(table.sum(axis=1), 2).sum(), comb(table.sum(axis=0), 2).sum()
    expected = rows * cols / comb(truth.size, 2)
    return float((pairs - expected) / ((rows + cols) / 2 - expected))


def planted(num_clusters=4, per_cluster=60, dim=16, noise=0.15, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(num_clusters, dim))
    truth = np.repeat(np.arange(num_clusters), per_cluster)
    vectors = centres[truth] / np.linalg.norm(centres[truth], axis=1, keepdims=True)
    return (vectors + noise * rng.normal(size=vectors.shape) / np.sqrt(dim)).astype(np.float32), truth


def test_adjusted_rand_index_helper():
    assert adjusted_rand_index(np.array([0, 0, 1, 1]), np.array([5, 5, 3, 3])) == 1.0
    assert adjusted_rand_index(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])) < 0


@pytest.mark.parametrize("method", METHODS)
def test_planted_clusters_are_recovered(method):
    vectors, truth = planted()
    segments = Segments.fit(vectors, method=method, candidate_sizes=(2, 3, 4, 6, 8), seed=0)
    assert adjusted_rand_index(truth, segments.labels) > 0.95
    assert segments.silhouette > 0.5


def test_kmeans_with_a_given_k_and_random_vectors_do_not_look_clustered():
    vectors, truth = planted(num_clusters=3)
    assert adjusted_rand_index(truth, Segments.fit(vectors, method="kmeans", num_segments=3).labels) > 0.95
    noise = np.random.default_rng(1).normal(size=(180, 16))
    assert Segments.fit(noise, method="kmeans", num_segments=3).silhouette < 0.2


@pytest.mark.parametrize("method", METHODS)
def test_same_seed_same_segments(method):
    vectors, _ = planted(noise=0.8)
    first = Segments.fit(vectors, method=method, candidate_sizes=(3, 4), seed=3)
    second = Segments.fit(vectors, method=method, candidate_sizes=(3, 4), seed=3)
    np.testing.assert_array_equal(first.labels, second.labels)


@pytest.mark.parametrize("method", METHODS)
def test_segments_are_numbered_by_size(method):
    vectors, _ = planted(num_clusters=3)
    vectors = vectors[: 60 + 60 + 20]  # sizes 60, 60, 20
    segments = Segments.fit(vectors, method=method, num_segments=3 if method == "kmeans" else None)
    sizes = [s.size for s in segments.segments]
    assert sizes == sorted(sizes, reverse=True) and sum(sizes) == len(vectors)
    assert [s.id for s in segments.segments] == list(range(len(sizes)))
    np.testing.assert_array_equal(np.bincount(segments.labels), sizes)


@pytest.mark.parametrize("method", METHODS)
def test_fewer_users_than_segments_and_identical_vectors(method):
    two = Segments.fit(np.array([[1.0, 0.0], [0.0, 1.0]]), method=method, num_segments=5 if method == "kmeans" else None)
    assert len(two.segments) <= 2 and two.labels.shape == (2,)
    one = Segments.fit(np.array([[1.0, 2.0]]), method=method)
    assert one.labels.tolist() == [0] and one.segments[0].name == "Segment 1"
    same = Segments.fit(np.ones((50, 4)), method=method, num_segments=4 if method == "kmeans" else None)
    assert same.labels.tolist() == [0] * 50 and same.silhouette == 0.0
    scaled = Segments.fit(np.array([[1.0, 1.0]] * 5 + [[2.0, 2.0]] * 5 + [[0.0, 0.0]]), method=method)
    assert len(set(scaled.labels[:10].tolist())) == 1  # same direction, different length


def test_unknown_method_and_bad_k_are_refused():
    with pytest.raises(PersonaGraphError, match="unknown segmentation method"):
        Segments.fit(np.eye(3), method="spectral")
    with pytest.raises(PersonaGraphError, match="at least 1"):
        Segments.fit(np.eye(3), method="kmeans", num_segments=0)


def two_group_tags():
    """Users 0-9 buy drills and saws, users 10-19 hoses; everyone views a sander once."""
    items = [
        {"item_id": name, "title": "", "category": f"Tools > {name.title()}"}
        for name in ("drills", "saws", "sanders")
    ] + [{"item_id": "hoses", "title": "", "category": "Garden > Hoses"}]
    events = []
    for u in range(20):
        bought = ["drills", "drills", "saws"] if u < 10 else ["hoses"]
        events += [{"user_id": f"u{u:02d}", "event": "purchase", "timestamp": 0, "item_id": i} for i in bought]
        events.append({"user_id": f"u{u:02d}", "event": "view", "timestamp": 0, "item_id": "sanders"})
    shop = shop_from_rows(items, events)
    vocabulary = TagVocabulary.from_shop(shop, max_category_share=1.0)
    return InterestTags.from_shop(shop, vocabulary, half_life_days=None)


def test_segment_top_tags_and_names_come_from_member_tags():
    tags = two_group_tags()
    vectors = np.repeat(np.eye(2), 10, axis=0) + 0.01 * np.random.default_rng(0).normal(size=(20, 2))
    segments = Segments.fit(vectors, tags, method="kmeans", num_segments=2)
    by_first_user = {segments.labels[0]: "tools", segments.labels[10]: "garden"}
    tools = segments.segments[[k for k, v in by_first_user.items() if v == "tools"][0]]
    garden = segments.segments[[k for k, v in by_first_user.items() if v == "garden"][0]]
    assert [label for label, _ in tools.top_tags][:2] == ["Drills", "Tools"]
    assert dict(tools.top_tags)["Drills"] == pytest.approx(1.0)
    assert [label for label, _ in garden.top_tags][:2] == ["Hoses", "Garden"]
    # Sanders (weight 0.1/2.0 for everyone) is no more typical of one group: never on top
    assert tools.name == "Drills · Tools" and garden.name == "Hoses · Garden"


def test_tags_for_other_users_are_refused():
    with pytest.raises(PersonaGraphError, match="20 users have tags but 3 have vectors"):
        Segments.fit(np.eye(3), two_group_tags())


def brand_tags(fans: bool):
    """Users 0-9 buy drills, users 10-19 hoses; the drill buyers' drills are mostly (fans) or once Koda's."""
    items = [{"item_id": "koda-drill", "title": "", "category": "Tools > Drills", "brand": "Koda"},
             {"item_id": "drill", "title": "", "category": "Tools > Drills", "brand": ""},
             {"item_id": "saw", "title": "", "category": "Tools > Saws", "brand": ""},
             {"item_id": "hose", "title": "", "category": "Garden > Hoses", "brand": "Hartwell"}]
    events = []
    for u in range(20):
        bought = (["koda-drill"] * 4 if fans else ["koda-drill", "drill", "drill", "saw", "saw"]) if u < 10 else ["hose"]
        events += [{"user_id": f"u{u:02d}", "event": "purchase", "timestamp": 0, "item_id": i} for i in bought]
    shop = shop_from_rows(items, events)
    return InterestTags.from_shop(shop, TagVocabulary.from_shop(shop, max_category_share=1.0), half_life_days=None)


@pytest.mark.parametrize("fans", [True, False])
def test_a_brand_names_a_segment_only_when_the_members_are_its_fans(fans):
    vectors = np.repeat(np.eye(2), 10, axis=0)
    segments = Segments.fit(vectors, brand_tags(fans), method="kmeans", num_segments=2)
    tools = segments.segments[segments.labels[0]]
    assert "Koda" in dict(tools.top_tags)  # always listed among the top tags
    assert ("Koda" in tools.name) == fans
    assert "Drills" in tools.name


def test_distinct_directions_and_inertia_counted_in_chunks_equal_the_whole(monkeypatch):
    from personagraph.profiles import segments as segments_module

    rng = np.random.default_rng(3)
    directions = rng.standard_normal((7, 5))
    unit = np.repeat(directions / np.linalg.norm(directions, axis=1, keepdims=True), 3, axis=0)
    unit = unit[rng.permutation(unit.shape[0])] + 1e-9 * rng.standard_normal(unit.shape)  # float noise
    centroids, labels = unit[:4], rng.integers(0, 4, unit.shape[0])
    whole = float(((unit - centroids[labels]) ** 2).sum())
    monkeypatch.setattr(segments_module, "_ROWS_PER_CHUNK", 2)
    assert segments_module._distinct_rows(unit) == 7
    assert segments_module._distinct_rows(unit, at_most=3) >= 3  # stops early, never undercounts
    assert segments_module._distinct_rows(unit, at_most=50) == 7
    assert segments_module._distinct_rows(unit[:0]) == 0
    assert segments_module._inertia(unit, centroids, labels) == pytest.approx(whole, rel=1e-12)


def test_unit_rows_in_chunks_equal_the_whole_array(monkeypatch):
    from personagraph.profiles import segments as segments_module

    vectors = np.random.default_rng(4).standard_normal((9, 6)).astype(np.float32)
    vectors[4] = 0.0  # a user without a direction stays zero
    whole = segments_module.unit_rows(vectors, np.float64)
    monkeypatch.setattr(segments_module, "_UNIT_ROWS_PER_CHUNK", 2)
    chunked = segments_module.unit_rows(vectors, np.float64)
    assert chunked.dtype == np.float64 and np.array_equal(chunked, whole)
    expected = vectors.astype(np.float64) / np.maximum(np.linalg.norm(vectors.astype(np.float64), axis=1,
                                                                      keepdims=True), 1e-300)
    assert np.array_equal(chunked, expected) and not chunked[4].any()
    assert segments_module.unit_rows(vectors).dtype == np.float32
