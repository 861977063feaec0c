import numpy as np

from personagraph.report import BinnedCounts


def test_linear_bins_count_every_known_value():
    binned = BinnedCounts.linear(np.array([0.0, 1.0, 2.0, 3.0, np.nan]), bins=3)
    assert sum(binned.counts) == 4 and binned.missing == 1 and len(binned.labels) == 3


def test_logarithmic_integer_bins_give_zeros_their_own_bin_and_whole_number_labels():
    values = np.array([0, 0, 1, 1, 2, 3, 10, 100, 1000])
    binned = BinnedCounts.logarithmic(values, bins=5, integer=True)
    assert binned.labels[0] == "0" and binned.counts[0] == 2
    assert sum(binned.counts) == len(values) and binned.labels[1:3] == ["1–3", "4–15"]
    assert all("." not in label for label in binned.labels)


def test_one_distinct_value_and_no_values_are_fine():
    assert sum(BinnedCounts.logarithmic(np.array([5.0, 5.0])).counts) == 2
    assert sum(BinnedCounts.linear(np.array([7.0, 7.0])).counts) == 2
    assert BinnedCounts.linear(np.array([np.nan])).counts == []
