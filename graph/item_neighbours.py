"""Each item's most similar items by who interacted with them: item-kNN's table.

Similarity is the cosine of two items' user columns (binary user x item matrix), each item
keeping its ``k`` most similar other items. The profile vectors are a low-rank view of the
same matrix; the neighbour lists keep the pairwise long tail that a few hundred dimensions
cannot, which is why ranking may add them (item-kNN the baseline scores with this table
alone). Built a block of items at a time, so memory is bounded whatever the catalogue.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

#: Entries of a dense similarity block computed at once (bounds memory on big catalogues).
BLOCK_ENTRIES = 20_000_000
#: The settings a neighbour score is tuned over on validation (item-kNN's, and the profile's
#: neighbour blend's): neighbours per item; recency decays of the history (a user's k-th newest item
#: weighs ``decay ** k``: the strong ones suit short sessions, the mild ones long histories whose
#: next items are still near their end); user-weight exponents of the similarity (0: plain cosine).
NEIGHBOUR_COUNTS: tuple[int, ...] = (50, 200, 800)
RECENCY_DECAYS: tuple[float, ...] = (1.0, 0.95, 0.9, 0.8, 0.6, 0.4)
USER_WEIGHT_EXPONENTS: tuple[float, ...] = (0.0, 0.5, 1.0)


class ItemNeighbours:
    """``nearest[i]`` are item ``i``'s ``k`` most similar items, best first, ``similarity[i]`` their
    cosines (0 where an item has fewer co-occurring items)."""

    def __init__(self, nearest: np.ndarray, similarity: np.ndarray) -> None:
        if nearest.shape != similarity.shape or nearest.ndim != 2:
            raise ValueError(f"nearest {nearest.shape} and similarity {similarity.shape} must be one [items, k] shape")
        index_type = np.int32 if nearest.shape[0] < np.iinfo(np.int32).max else np.int64  # half the memory
        self.nearest = np.asarray(nearest, dtype=index_type)
        self.similarity = np.asarray(similarity, dtype=np.float32)

    @property
    def num_items(self) -> int:
        return int(self.nearest.shape[0])

    @property
    def k(self) -> int:
        return int(self.nearest.shape[1])

    @classmethod
    def fit(cls, interactions: sp.spmatrix, k: int, user_weight_exponent: float = 0.0) -> "ItemNeighbours":
        """The ``k`` nearest items of every item of ``interactions`` (users x items; any non-zero counts
        as one interaction). ``user_weight_exponent`` ``e`` weighs each user's co-occurrences by
        ``degree ** -e`` (a weighted cosine): a user with few items says more about each pair than one
        who touched thousands (``e = 1`` is the normalised item-item graph of the GF-CF filters)."""
        binary = sp.csr_matrix(interactions, dtype=np.float32, copy=True)
        binary.data[:] = 1.0
        if user_weight_exponent:
            degree = np.diff(binary.indptr).astype(np.float32)
            binary = sp.diags(np.maximum(degree, 1.0) ** (-user_weight_exponent / 2)).astype(np.float32) @ binary
            binary = binary.tocsr()
        num_items = binary.shape[1]
        norms = np.sqrt(np.asarray(binary.multiply(binary).sum(axis=0)).ravel()).astype(np.float32)
        norms[norms == 0] = 1.0
        by_item = binary.T.tocsr()
        # Co-occurring pairs of each item before they are summed (an upper bound of its row's entries):
        # blocks are cut by it, so a block's work and memory stay bounded however popular its items.
        user_degree = np.diff(binary.indptr).astype(np.float64)
        pairs = np.bincount(np.repeat(np.arange(num_items), np.diff(by_item.indptr)),
                            weights=user_degree[by_item.indices], minlength=num_items)

        def cosines(start: int, stop: int) -> sp.csr_matrix:
            cosine = (by_item[start:stop] @ binary).tocsr()
            rows = np.repeat(np.arange(stop - start), np.diff(cosine.indptr))
            cosine.data /= norms[start + rows] * norms[cosine.indices]
            return cosine

        return cls.from_sparse_blocks(num_items, k, cosines, pairs)

    @classmethod
    def from_sparse_blocks(cls, num_items: int, k: int, strengths: Callable[[int, int], sp.csr_matrix],
                           entries: np.ndarray) -> "ItemNeighbours":
        """Each item's ``k`` strongest other items, from sparse ``strengths(start, stop)`` (items
        ``start..stop`` x all items; an entry absent is no tie at all), asked for blocks of about
        :data:`BLOCK_ENTRIES` entries by ``entries`` (an upper bound of each item's row). Costs what the
        rows hold, not ``items x items``: a co-occurrence row holds the few items that share a user.
        Ties keep the lower item first. Slots beyond an item's entries have similarity 0 and, as padding
        that never lists the item itself, the next item's index (a zero adds nothing to any score)."""
        k = min(max(int(k), 1), max(num_items - 1, 1))
        index_type = np.int32 if num_items < np.iinfo(np.int32).max else np.int64
        nearest = np.repeat(((np.arange(num_items) + 1) % max(num_items, 1)).astype(index_type)[:, None], k, axis=1)
        similarity = np.zeros((num_items, k), dtype=np.float32)
        entries = np.asarray(entries, dtype=np.float64)
        block_of = (np.cumsum(entries) - entries) // BLOCK_ENTRIES  # an item alone over the bound is a block
        starts = np.flatnonzero(np.diff(block_of, prepend=-1.0))
        for start, stop in zip(starts, np.append(starts[1:], num_items)):
            block = strengths(int(start), int(stop)).tocsr()
            block.sum_duplicates()  # sorted columns: ties then keep the lower item first
            rows = np.repeat(np.arange(stop - start), np.diff(block.indptr))
            keep = (block.indices != start + rows) & (block.data > 0)
            rows, columns, values = rows[keep], block.indices[keep], block.data[keep]
            order = np.lexsort((-values, rows))  # by row, then strongest first; stable for ties
            rows, columns, values = rows[order], columns[order], values[order]
            rank = np.arange(rows.size) - np.searchsorted(rows, rows)  # position within its row
            listed = rank < k
            nearest[start + rows[listed], rank[listed]] = columns[listed]
            similarity[start + rows[listed], rank[listed]] = values[listed]
        return cls(nearest, similarity)

    @classmethod
    def from_blocks(cls, num_items: int, k: int, strengths: Callable[[int, int], np.ndarray]) -> "ItemNeighbours":
        """Each item's ``k`` strongest other items, from ``strengths(start, stop)``: the ``[stop - start,
        num_items]`` strengths of items ``start..stop`` to every item, asked for a block at a time
        (:data:`BLOCK_ENTRIES` at once). An item is never its own neighbour; strengths below 0 count as 0."""
        k = min(max(int(k), 1), max(num_items - 1, 1))
        nearest = np.zeros((num_items, k), dtype=np.int32 if num_items < np.iinfo(np.int32).max else np.int64)
        similarity = np.zeros((num_items, k), dtype=np.float32)
        block = max(1, BLOCK_ENTRIES // max(num_items, 1))
        for start in range(0, num_items, block):
            stop = min(start + block, num_items)
            strength = np.asarray(strengths(start, stop), dtype=np.float32)
            strength[np.arange(stop - start), np.arange(start, stop)] = -np.inf
            top_strength, top = torch.topk(torch.from_numpy(strength), k, dim=1)  # strongest first, threaded
            nearest[start:stop] = top.numpy()
            similarity[start:stop] = np.maximum(top_strength.numpy(), 0.0)
        return cls(nearest, similarity)

    def cut(self, k: int) -> "ItemNeighbours":
        """The same table keeping each item's ``k`` best neighbours."""
        return ItemNeighbours(self.nearest[:, :k], self.similarity[:, :k])

    def matrix(self, num_items: int | None = None) -> sp.csr_matrix:
        """Items x items: row ``i`` holds item ``i``'s neighbours and their similarities; ``num_items``
        (at least the table's) pads it for a catalogue that grew since (new items have no neighbours)."""
        size = max(self.num_items, num_items or 0)
        # Built as compressed rows directly (k entries a row), sharing the table's arrays where they are
        # contiguous: a coordinate-list detour would hold several copies of a table this size at once.
        indptr = np.minimum(np.arange(size + 1, dtype=np.int64) * self.k, self.nearest.size)
        return sp.csr_matrix((self.similarity.ravel(), self.nearest.ravel(), indptr), shape=(size, size))

    def scores(self, history: sp.spmatrix, matrix: sp.csr_matrix | None = None) -> np.ndarray:
        """``[users, items]`` each item's summed similarity to the items of each row of ``history``
        (users x items, weighted as the caller likes: e.g. by recency); ``matrix`` is :meth:`matrix`
        when the caller keeps it for many calls."""
        history = sp.csr_matrix(history)
        item_item = self.matrix(history.shape[1]) if matrix is None else matrix
        return np.asarray((history @ item_item).toarray(), dtype=np.float32)

    def save(self, path: str | Path) -> None:
        """An ``.npz`` file that :meth:`load` reads back."""
        with open(path, "wb") as file:
            np.savez(file, nearest=self.nearest, similarity=self.similarity)

    @classmethod
    def load(cls, path: str | Path) -> "ItemNeighbours":
        with np.load(path) as stored:
            return cls(stored["nearest"], stored["similarity"])


def recency_weighted(user: np.ndarray, item: np.ndarray, timestamp: np.ndarray, shape: tuple[int, int],
                     recency_decay: float = 1.0) -> sp.csr_matrix:
    """Users x items, one entry per distinct (user, item) of the given interactions, weighing
    ``recency_decay ** k`` where ``k`` is how many distinct times of that user are newer than the
    item's latest one (1.0: binary; items of one time weigh the same, so no order of ties matters).

    The history a neighbour score sums over; one definition for training, evaluation and serving.
    """
    user = np.asarray(user, dtype=np.int64)
    timestamp = np.nan_to_num(np.asarray(timestamp, dtype=np.float64), nan=-np.inf)
    order = np.lexsort((-timestamp, user))  # newest first per user
    user, item, timestamp = user[order], np.asarray(item, dtype=np.int64)[order], timestamp[order]
    _, first = np.unique(user * max(shape[1], 1) + item, return_index=True)
    first = np.sort(first)  # each pair once (its newest time), still newest first per user
    user, item, timestamp = user[first], item[first], timestamp[first]
    new_user = np.r_[True, user[1:] != user[:-1]] if user.size else np.zeros(0, dtype=bool)
    new_time = new_user | np.r_[True, timestamp[1:] != timestamp[:-1]] if user.size else new_user
    steps = np.cumsum(new_time & ~new_user)  # distinct-time changes, counted across users ...
    rank = steps - np.maximum.accumulate(np.where(new_user, steps, 0))  # ... and restarted at each user
    weight = np.power(recency_decay, rank, dtype=np.float64).astype(np.float32)
    return sp.csr_matrix((weight, (user, item)), shape=shape)
