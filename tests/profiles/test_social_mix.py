"""The friends' weight is chosen on validation: 0 when links say nothing, above 0 when they carry taste."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from personagraph.evaluation.ranking_metrics import as_csr
from personagraph.profiles.social_mix import SOCIAL_WEIGHTS, SocialMix, mix_one, mix_social
from personagraph.shop.social_links import SocialLinks

GROUPS, ITEMS_PER_GROUP, USERS, DIM = 20, 15, 1200, 32


def planted_world(seed: int = 0):
    """Items in taste groups; each user belongs to a group, their own vector is a noisy view of it,
    and their held-out item is from that group."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(GROUPS, DIM))
    items = np.repeat(centres, ITEMS_PER_GROUP, axis=0) + 0.6 * rng.normal(size=(GROUPS * ITEMS_PER_GROUP, DIM))
    group = rng.integers(GROUPS, size=USERS)
    own = centres[group] + 2.2 * rng.normal(size=(USERS, DIM))
    own /= np.linalg.norm(own, axis=1, keepdims=True)
    targets = torch.from_numpy(group * ITEMS_PER_GROUP + rng.integers(ITEMS_PER_GROUP, size=USERS))
    excluded = as_csr(torch.zeros(2, 0, dtype=torch.long), USERS)
    return rng, group, own.astype(np.float32), items.astype(np.float32), targets, excluded


def links_of(pairs: np.ndarray) -> SocialLinks:
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    return SocialLinks.from_named(pairs[:, 0], pairs[:, 1], ["friend"] * len(pairs))


def test_friends_with_shared_taste_earn_a_weight():
    rng, group, own, items, targets, excluded = planted_world()
    members = [np.flatnonzero(group == g) for g in range(GROUPS)]
    pairs = np.array([(u, rng.choice(members[group[u]])) for u in range(USERS) for _ in range(4)])
    mix = SocialMix.choose(own, items, links_of(pairs), targets, excluded)
    assert mix.weight > 0, mix.tried
    recall = {row["weight"]: row["recall@20"] for row in mix.tried}
    assert recall[mix.weight] > recall[0.0] and [row["weight"] for row in mix.tried] == list(SOCIAL_WEIGHTS)


def test_random_links_keep_the_weight_at_zero():
    rng, _, own, items, targets, excluded = planted_world(1)
    pairs = rng.integers(USERS, size=(USERS * 4, 2))
    mix = SocialMix.choose(own, items, links_of(pairs), targets, excluded)
    assert mix.weight == 0.0, mix.tried


def test_no_links_is_weight_zero_without_trying():
    _, _, own, items, targets, excluded = planted_world()
    assert SocialMix.choose(own, items, None, targets, excluded).weight == 0.0
    assert SocialMix.choose(own, items, SocialLinks.empty(), targets, excluded).tried == []


def test_mix_is_the_normalised_blend_and_leaves_friendless_users_alone():
    own = np.array([[1, 0], [0, 1], [1, 1]], dtype=np.float32)
    adjacency = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=np.float32))
    mixed = mix_social(own, adjacency, 0.5)
    np.testing.assert_allclose(mixed[0], np.array([1, 1]) / np.sqrt(2), rtol=1e-6)
    np.testing.assert_array_equal(mixed[2], own[2])
    np.testing.assert_array_equal(mix_social(own, adjacency, 0.0), own)
    np.testing.assert_allclose(mix_one(own[0], own[1:2], 0.5), mixed[0], rtol=1e-6)
