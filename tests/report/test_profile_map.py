import numpy as np

from personagraph.report import ProfileMap, stratified_sample


def test_the_sample_is_proportional_keeps_every_segment_and_respects_the_budget():
    labels = np.repeat([0, 1, 2, 3], [9000, 900, 90, 3])
    rows = stratified_sample(labels, 1000, seed=0)
    assert len(rows) == 1000 and np.all(np.diff(rows) > 0)
    counts = np.bincount(labels[rows], minlength=4)
    assert counts.tolist()[3] >= 1 and abs(counts[0] - 900) <= 2 and abs(counts[1] - 90) <= 2
    assert np.array_equal(rows, stratified_sample(labels, 1000, seed=0))


def test_a_small_run_is_shown_whole():
    assert stratified_sample(np.zeros(10, dtype=int), 5000).tolist() == list(range(10))


def test_more_segments_than_points_stays_within_the_budget():
    labels = np.arange(50).repeat(3)
    assert len(stratified_sample(labels, 20)) == 20


def test_the_map_separates_clusters_along_its_first_axis():
    rng = np.random.default_rng(0)
    vectors = np.concatenate([rng.normal(size=(50, 8)) * 0.05 + 1, rng.normal(size=(50, 8)) * 0.05 - 1])
    vectors[:, 1:] += rng.normal(size=(100, 7)) * 0.01
    profile_map = ProfileMap.project(np.arange(100), vectors.astype(np.float32))
    first = profile_map.coordinates[:, 0]
    assert (np.sign(first[:50]) != np.sign(first[50:])).all()
    assert profile_map.explained[0] > 0.5 and profile_map.coordinates.dtype == np.float32


def test_a_single_user_map_does_not_fail():
    assert ProfileMap.project(np.array([0]), np.ones((1, 4))).coordinates.tolist() == [[0.0, 0.0]]
