import numpy as np
import pytest

from personagraph.profiles.silhouette import cosine_silhouette


def test_hand_computed_silhouette():
    # two points at angle 0 and two opposite: within distance 0, between distance 2 -> s = 1
    unit = np.array([[1.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]])
    assert cosine_silhouette(unit, np.array([0, 0, 1, 1])) == pytest.approx(1.0)
    # orthogonal points: a = 1 (to its partner), b = mean(1, 2) = 1.5 or mean(1, 0)...
    unit = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    labels = np.array([0, 0, 1])
    # point 0: a = 1, b = 2 -> 0.5; point 1: a = 1, b = 1 -> 0; point 2 alone -> 0
    assert cosine_silhouette(unit, labels) == pytest.approx(0.5 / 3)


def test_one_cluster_or_sampled():
    unit = np.eye(4)
    assert cosine_silhouette(unit, np.zeros(4, dtype=int)) == 0.0
    rng = np.random.default_rng(0)
    points = np.repeat(np.eye(3), 100, axis=0)
    labels = np.repeat(np.arange(3), 100)
    assert cosine_silhouette(points, labels, sample_size=50, seed=1) == pytest.approx(1.0)
    assert cosine_silhouette(rng.normal(size=(10, 3)), np.arange(10) % 2, sample_size=4) <= 1.0
