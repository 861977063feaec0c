"""Social features on a tiny hand-made graph, where the right answers are plain to see."""
from __future__ import annotations

import numpy as np
import pytest

from personagraph.profiles.social_features import SocialFeatures, communities, pagerank, tag_agreement
from personagraph.shop.social_links import SocialLinks

# Two triangles {0, 1, 2} and {3, 4, 5} joined by 2 -> 3; everybody follows 0; user 6 has no link.
PAIRS = [(0, 1), (1, 2), (2, 0), (3, 4), (4, 5), (5, 3), (2, 3), (1, 0), (3, 0), (4, 0), (5, 0)]
RELATIONS = ["friend", "friend", "friend", "friend", "friend", "friend", "invited", "follows", "follows", "follows",
             "follows"]
LINKS = SocialLinks.from_named(np.array([p[0] for p in PAIRS]), np.array([p[1] for p in PAIRS]), RELATIONS)
TAGS = [["drills", "saws"], ["drills", "saws"], ["drills", "glue"], ["flour", "ovens"], ["flour", "ovens"],
        ["flour"], ["yarn"]]


def test_pagerank_finds_the_followed_user_and_averages_one():
    ranks = pagerank(LINKS, 7)
    assert ranks.argmax() == 0 and ranks.mean() == pytest.approx(1.0)
    assert ranks[6] == ranks.min()


def test_louvain_separates_the_two_triangles():
    labels = communities(LINKS, 7)
    assert labels[6] == -1
    assert len({labels[0], labels[1], labels[2]}) == 1 and len({labels[3], labels[4], labels[5]}) == 1
    assert labels[0] != labels[3]
    np.testing.assert_array_equal(communities(LINKS, 7), labels)  # seeded


def test_agreement_and_link_counts():
    assert tag_agreement(["a", "b"], [["a"], ["c"]]) == pytest.approx(0.25)
    assert np.isnan(tag_agreement(["a"], []))
    features = SocialFeatures.compute(LINKS, 7, TAGS)
    assert features.agreement[1] == pytest.approx((1.0 + 0.5) / 2)  # friends 0 and 2
    assert np.isnan(features.agreement[6])
    columns = features.columns()
    assert columns["social_links"][0] == 5 and columns["social_links"][6] == 0
    assert dict(zip(columns["social_relations"][0], columns["social_relation_counts"][0])) == {
        "follows": 4, "friend": 2}
    assert columns["social_community"][6] is None and columns["friend_tag_agreement"][6] is None
    subset = SocialFeatures.compute(LINKS, 7, {u: TAGS[u] for u in range(7)}, users=np.array([1, 3]))
    assert subset.agreement.tolist() == pytest.approx(features.agreement[[1, 3]].tolist())
