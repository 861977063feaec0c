"""User segments: clusters of the learned profile vectors, named after what their members care about.

Two clusterings of the L2-normalised user vectors (cosine geometry, as the vectors are
compared by direction):

* ``"kmeans"``: k-means (scipy ``kmeans2``, k-means++ seeding, best of a few seeded
  restarts); k is given, or the one of ``candidate_sizes`` whose k-means of a user sample
  has the best silhouette.
* ``"communities"``: Louvain communities (networkx) of the k-nearest-neighbour cosine graph
  of a user sample; every user then joins the community whose mean direction is nearest.

``benchmarks/segments_quality.py`` compares them (silhouette and behavioural measures); on
the sample shop, communities beat k-means with the same number of segments on silhouette
and purchase concentration, tie on the next-item measure, and need no k, so they are the
default. Segments are numbered by size, largest
first, and the result is the same for the same seed.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import networkx as nx
import numpy as np
import scipy.sparse as sp
from scipy.cluster.vq import kmeans2

from personagraph.errors import PersonaGraphError
from personagraph.profiles.interest_tags import InterestTags
from personagraph.profiles.segment import Segment
from personagraph.profiles.segment_names import segment_names
from personagraph.profiles.silhouette import cosine_silhouette
from personagraph.profiles.tag_vocabulary import tag_key

Method = Literal["kmeans", "communities"]
_KMEANS_RESTARTS = 3
_KMEANS_ITERATIONS = 30
#: Rows handled at once where a whole-shop temporary would cost ``users x width`` floats.
_ROWS_PER_CHUNK = 65_536
#: Rows normalised at a time: two float64 temporaries of this many rows (a few tens of MB) beside the result.
_UNIT_ROWS_PER_CHUNK = 16_384
#: A brand names a segment only when its mean tag weight among the members reaches this (1 = every
#: member's top tag): the segment is that brand's fans, not buyers of a category the brand leads.
BRAND_FANS_WEIGHT = 0.5


@dataclass
class Segments:
    """Segment ``labels[u]`` of every user, and the segments themselves (``segments[i].id == i``)."""

    labels: np.ndarray  # int64 [num_users]
    segments: list[Segment]
    method: str
    silhouette: float  # cosine silhouette of the labels on a user sample

    @classmethod
    def fit(
        cls,
        user_vectors: np.ndarray,
        tags: InterestTags | None = None,
        *,
        method: Method = "communities",
        num_segments: int | None = None,
        candidate_sizes: tuple[int, ...] = (8, 12, 16, 24, 32, 48, 64),
        neighbours: int = 10,
        resolution: float = 1.0,
        sample_size: int = 3000,
        top_tags: int = 5,
        seed: int = 0,
    ) -> "Segments":
        """Cluster the users and describe each cluster by its members' tags.

        Args:
            user_vectors: ``[num_users, d]`` profile vectors.
            tags: the users' interest tags, for segment names and top tags (without them,
                segments are named "Segment <n>").
            method: "kmeans" or "communities" (see the module docstring).
            num_segments: k for k-means; None picks it from ``candidate_sizes`` by the
                silhouette of k-means on a user sample.
            neighbours, resolution: kNN-graph degree and Louvain resolution (communities).
            sample_size: users sampled for the silhouette and for the community graph.
            top_tags: tags kept per segment.
        """
        if tags is not None and len(tags) != user_vectors.shape[0]:
            raise PersonaGraphError(
                f"{len(tags)} users have tags but {user_vectors.shape[0]} have vectors; compute both from one shop"
            )
        unit = unit_rows(user_vectors, dtype=np.float64)
        if method == "kmeans":
            labels = _kmeans_labels(unit, num_segments, candidate_sizes, sample_size, seed)
        elif method == "communities":
            labels = _community_labels(unit, neighbours, resolution, sample_size, seed)
        else:
            raise PersonaGraphError(f"unknown segmentation method {method!r}; use 'kmeans' or 'communities'")
        labels = _by_size(labels)
        silhouette = cosine_silhouette(unit, labels, sample_size, seed)
        return cls(labels=labels, segments=_describe(labels, tags, top_tags), method=method, silhouette=silhouette)


def unit_rows(vectors: np.ndarray, dtype: np.dtype | type | None = None) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero) in an array of ``dtype`` (default: the input's), the
    norms taken in that type. A chunk of rows at a time, so a million users' vectors get no whole-array
    temporary (a converted copy, their squares) beside the result."""
    vectors = np.asarray(vectors)
    out = np.zeros(vectors.shape, dtype=vectors.dtype if dtype is None else dtype)
    for start in range(0, vectors.shape[0], _UNIT_ROWS_PER_CHUNK):
        block = vectors[start:start + _UNIT_ROWS_PER_CHUNK].astype(out.dtype, copy=False)
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        np.divide(block, norms, out=out[start:start + _UNIT_ROWS_PER_CHUNK], where=norms > 0)
    return out


def _at_most_one_direction(unit: np.ndarray) -> bool:
    """Whether all rows are one direction (to 1e-6): column ranges, no copy of the rows."""
    return unit.shape[0] == 0 or float((unit.max(axis=0) - unit.min(axis=0)).max()) < 1e-6


def _distinct_rows(unit: np.ndarray, at_most: int | None = None) -> int:
    """How many different directions there are (rounded, so float noise does not count).

    With ``at_most``, counting stops once that many are found: rows are read ``_ROWS_PER_CHUNK``
    at a time, so a shop of millions of users is not rounded and sorted whole to learn that it
    has more users than segments.
    """
    found = np.empty((0, unit.shape[1]), dtype=unit.dtype)
    for start in range(0, unit.shape[0], _ROWS_PER_CHUNK):
        found = np.unique(np.concatenate([found, np.round(unit[start:start + _ROWS_PER_CHUNK], 6)]), axis=0)
        if at_most is not None and found.shape[0] >= at_most:
            break
    return found.shape[0]


def _kmeans(unit: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Labels of the restart with the lowest within-cluster squared distance."""
    k = min(k, _distinct_rows(unit, at_most=k))
    if k <= 1:
        return np.zeros(unit.shape[0], dtype=np.int64)
    best_labels, best_inertia = None, np.inf
    for restart in range(_KMEANS_RESTARTS):
        with warnings.catch_warnings():  # an emptied cluster is fine: labels are renumbered after
            warnings.simplefilter("ignore", UserWarning)
            centroids, labels = kmeans2(
                unit, k, iter=_KMEANS_ITERATIONS, minit="++", missing="warn", rng=np.random.default_rng([seed, restart])
            )
        inertia = _inertia(unit, centroids, labels)
        if inertia < best_inertia:
            best_labels, best_inertia = labels, inertia
    return best_labels.astype(np.int64)


def _inertia(unit: np.ndarray, centroids: np.ndarray, labels: np.ndarray) -> float:
    """The within-cluster squared distance, a chunk of rows at a time (no ``[users, dim]`` temporaries)."""
    return float(sum(np.square(unit[start:start + _ROWS_PER_CHUNK] - centroids[labels[start:start + _ROWS_PER_CHUNK]]).sum()
                     for start in range(0, unit.shape[0], _ROWS_PER_CHUNK)))


def _kmeans_labels(
    unit: np.ndarray, num_segments: int | None, candidate_sizes: tuple[int, ...], sample_size: int, seed: int
) -> np.ndarray:
    if num_segments is not None:
        if num_segments < 1:
            raise PersonaGraphError(f"num_segments must be at least 1, not {num_segments}")
        return _kmeans(unit, num_segments, seed)
    rng = np.random.default_rng(seed)
    sample = unit[np.sort(rng.choice(unit.shape[0], sample_size, replace=False))] if unit.shape[0] > sample_size else unit
    distinct = _distinct_rows(sample)
    sizes = sorted({min(k, distinct) for k in candidate_sizes})
    scores = [cosine_silhouette(sample, _kmeans(sample, k, seed), sample_size, seed) for k in sizes]
    return _kmeans(unit, sizes[int(np.argmax(scores))], seed)


def _community_labels(unit: np.ndarray, neighbours: int, resolution: float, sample_size: int, seed: int) -> np.ndarray:
    n = unit.shape[0]
    if _at_most_one_direction(unit):
        return np.zeros(n, dtype=np.int64)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, sample_size, replace=False)) if n > sample_size else np.arange(n)
    points = unit[sample]
    similarity = points @ points.T
    np.fill_diagonal(similarity, -np.inf)
    degree = min(neighbours, sample.size - 1)
    nearest = np.argpartition(-similarity, degree - 1, axis=1)[:, :degree]
    graph = nx.Graph()
    graph.add_nodes_from(range(sample.size))
    for i, row in enumerate(nearest):
        # Cosine similarity shifted into [0, 1]: modularity needs non-negative weights.
        graph.add_weighted_edges_from((i, int(j), (1.0 + similarity[i, j]) / 2.0) for j in row)
    communities = nx.community.louvain_communities(graph, weight="weight", resolution=resolution, seed=seed)
    centroids = np.stack([points[sorted(c)].mean(axis=0) for c in communities])
    return np.argmax(unit @ unit_rows(centroids).T, axis=1).astype(np.int64)


def _by_size(labels: np.ndarray) -> np.ndarray:
    """Relabel to 0..k-1, largest segment first (ties: the one whose first member comes first)."""
    if labels.size == 0:
        return labels.astype(np.int64)
    values, first, counts = np.unique(labels, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    new_label = np.empty(values.size, dtype=np.int64)
    new_label[order] = np.arange(values.size)
    return new_label[np.searchsorted(values, labels)]


def _describe(labels: np.ndarray, tags: InterestTags | None, top_tags: int) -> list[Segment]:
    """Size, distinctive top tags and a unique name for each segment.

    A segment is named after what its members buy (category and product-word tags); a brand (or
    a title word that is only part of a brand name, "karter" of "Karter Scientific") names it
    only when it is strong among the members (:data:`BRAND_FANS_WEIGHT`).
    """
    num_segments = int(labels.max()) + 1 if labels.size else 0
    sizes = np.bincount(labels, minlength=num_segments)
    tag_lists: list[list[tuple[str, float]]] = [[] for _ in range(num_segments)]
    name_tags: list[list[str]] = [[] for _ in range(num_segments)]
    if tags is not None and len(tags.vocabulary):
        membership = sp.csr_matrix(
            (np.ones(labels.size), (labels, np.arange(labels.size))), shape=(num_segments, labels.size)
        )
        weights = tags.to_sparse()
        segment_mean = np.asarray((membership @ weights).todense()) / sizes[:, None]
        overall_mean = np.asarray(weights.mean(axis=0))
        # mean x lift (mean / overall mean): strong among the members and stronger than elsewhere.
        score = np.divide(segment_mean**2, overall_mean, out=np.zeros_like(segment_mean), where=overall_mean > 0)
        is_brand = _brand_like(tags.vocabulary.labels, tags.vocabulary.kinds)
        for s in range(num_segments):
            order = [t for t in np.lexsort((np.arange(score.shape[1]), -score[s])) if score[s, t] > 0]
            tag_lists[s] = [(tags.vocabulary.labels[t], float(segment_mean[s, t])) for t in order[:top_tags]]
            nameable = [t for t in order if not is_brand[t] or segment_mean[s, t] >= BRAND_FANS_WEIGHT]
            name_tags[s] = [tags.vocabulary.labels[t] for t in nameable[:top_tags]]
    names = segment_names(name_tags)
    return [
        Segment(id=s, name=names[s], size=int(sizes[s]), top_tags=tag_lists[s]) for s in range(num_segments)
    ]


def _brand_like(labels: list[str], kinds: list[str]) -> np.ndarray:
    """Per tag: a brand, or a keyword made only of brand-name words."""
    brand_words = {word for label, kind in zip(labels, kinds) if kind == "brand" for word in tag_key(label).split()}
    return np.asarray([
        kind == "brand" or (kind == "keyword" and set(tag_key(label).split()) <= brand_words)
        for label, kind in zip(labels, kinds)
    ])
