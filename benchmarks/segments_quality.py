"""Quality of the readable profile attributes on the sample shop: interest tags and segments.

Protocol: ``leave_last_out`` holds out each user's next item; everything below is computed
from the training part only. User/item vectors come from the project's profile GNN trained
on that part (``--vectors gnn``, no text encoder so it runs in seconds) or from PureSVD of
the user x item matrix (``--vectors svd``), a weaker, model-free reference.

Printed measures:
- tags: share of users whose top-3 tags hold the held-out item's leaf category, raw-count
  tags vs tags ranked with the vectors;
- segments (k-means with silhouette-chosen k vs Louvain communities of the kNN graph, and a
  random labelling of the k-means sizes as floor): cosine silhouette on a sample; purchase
  concentration (share of members' item events in the segment's top-3 leaf categories);
  next-item hit (the held-out item's leaf is among its segment's top-3 leaf categories);
- activity: Spearman correlation of the price percentile with the planted price sensitivity.

With ``--run RUN`` it measures a trained run instead (real data, e.g. Amazon Scientific): the
run's stored profile vectors (`profiles.parquet`) and its shop; tags are rebuilt with the current
vocabulary code and printed for a few users; segments (the default, Louvain communities, which
choose their number by modularity) against k-means with the same number of segments on the same
vectors and a random labelling: silhouette, purchase concentration (share of members' purchases
in the segment's top-3 leaf categories) and every segment's name, size and top tags.

Run: ``python benchmarks/segments_quality.py [--users 3000 --items 1000 --seeds 0 1 2]``, or
``python benchmarks/segments_quality.py --run RUN``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds
from scipy.stats import spearmanr

from personagraph.shop.leave_last_out import leave_last_out
from personagraph.datasets.sample_shop import generate_sample_shop
from personagraph.shop.shop_data import EVENT_TYPES, ShopData
from personagraph.profiles.activity import user_activity
from personagraph.profiles.interest_tags import DEFAULT_EVENT_WEIGHTS, InterestTags
from personagraph.profiles.segments import Segments
from personagraph.profiles.tag_vocabulary import TagVocabulary


def profile_model_vectors(shop: ShopData, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of the project's profile GNN (no text features), trained on ``shop`` with its own
    last item per user held out for early stopping, then applied to all of ``shop``."""
    import torch

    from personagraph.gnn.profile_trainer import train_profile_model
    from personagraph.gnn.train_config import TrainConfig
    from personagraph.graph.hetero_graph_builder import build_hetero_graph

    inner = leave_last_out(shop)
    config = TrainConfig(epochs=30, patience=3, seed=seed)
    model = train_profile_model(build_hetero_graph(inner.train), torch.as_tensor(inner.targets), config, False).model
    graph = build_hetero_graph(shop)
    with torch.no_grad():
        return model.user_embeddings(graph).numpy(), model.item_embeddings(graph).numpy()


def pure_svd_vectors(shop: ShopData, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stand-in vectors: truncated SVD of the event-weighted, log-damped user x item matrix."""
    events = shop.events
    has = events.item >= 0
    weight = np.array([DEFAULT_EVENT_WEIGHTS[name] for name in EVENT_TYPES])
    matrix = sp.csr_matrix(
        (weight[events.kind[has]], (events.user[has], events.item[has])), shape=(events.num_users, len(shop.catalog))
    )
    matrix.data = np.log1p(matrix.data)
    u, s, vt = svds(matrix, k=dim, random_state=seed)
    return (u * np.sqrt(s)).astype(np.float32), (vt.T * np.sqrt(s)).astype(np.float32)


def leaf_counts(shop: ShopData, vocabulary: TagVocabulary) -> sp.csr_matrix:
    """``[num_users, num_tags]``: each user's item events per leaf-category tag."""
    events = shop.events
    leaf = np.where(events.item >= 0, vocabulary.item_leaf[np.maximum(events.item, 0)], -1)
    keep = leaf >= 0
    return sp.csr_matrix(
        (np.ones(int(keep.sum())), (events.user[keep], leaf[keep])), shape=(events.num_users, len(vocabulary))
    )


def behaviour(labels: np.ndarray, counts: sp.csr_matrix, target_leaf: np.ndarray) -> tuple[float, float]:
    """(purchase concentration, next-item hit) of a labelling, both over users."""
    num_segments = int(labels.max()) + 1
    membership = sp.csr_matrix((np.ones(labels.size), (labels, np.arange(labels.size))), shape=(num_segments, labels.size))
    per_segment = np.asarray((membership @ counts).todense())
    top3 = np.argsort(-per_segment, axis=1, kind="stable")[:, :3]
    concentration = np.take_along_axis(per_segment, top3, axis=1).sum() / per_segment.sum()
    has_target = target_leaf >= 0
    hit = (top3[labels[has_target]] == target_leaf[has_target, None]).any(axis=1)
    return float(concentration), float(hit.mean())


def run(users: int, items: int, seed: int, vectors: str, dim: int) -> list[tuple[str, str]]:
    sample = generate_sample_shop(users=users, items=items, seed=seed)
    split = leave_last_out(sample.shop)
    train, targets = split.train, split.targets
    if vectors == "gnn":
        user_vectors, item_vectors = profile_model_vectors(train, seed)
    else:
        user_vectors, item_vectors = pure_svd_vectors(train, dim, seed)
    vocabulary = TagVocabulary.from_shop(train)
    rows: list[tuple[str, str]] = [("tag vocabulary size", str(len(vocabulary)))]
    raw = InterestTags.from_shop(train, vocabulary)
    start = time.perf_counter()
    ranked = InterestTags.from_shop(train, vocabulary, user_vectors, item_vectors)
    rows.append(("tags: vector-ranked time (s)", f"{time.perf_counter() - start:.2f}"))
    rows.append(("tags: raw-count top-3 leaf hit", f"{raw.category_hit_rate(targets):.4f}"))
    rows.append(("tags: vector-ranked top-3 leaf hit", f"{ranked.category_hit_rate(targets):.4f}"))

    counts = leaf_counts(train, vocabulary)
    target_leaf = np.where(targets >= 0, vocabulary.item_leaf[np.maximum(targets, 0)], -1)
    variants = [("communities", {"method": "communities"}), ("kmeans (auto k)", {"method": "kmeans"})]
    for name, options in variants:
        start = time.perf_counter()
        segments = Segments.fit(user_vectors, ranked, seed=seed, **options)
        elapsed = time.perf_counter() - start
        if name == "communities":  # k-means with as many segments, for a like-for-like comparison
            variants.append(("kmeans (k = communities)", {"method": "kmeans", "num_segments": len(segments.segments)}))
        concentration, hit = behaviour(segments.labels, counts, target_leaf)
        rows += [
            (f"{name}: segments / time (s)", f"{len(segments.segments)} / {elapsed:.2f}"),
            (f"{name}: silhouette", f"{segments.silhouette:.4f}"),
            (f"{name}: purchase concentration", f"{concentration:.4f}"),
            (f"{name}: next-item leaf hit", f"{hit:.4f}"),
            (f"{name}: example names", " | ".join(s.name for s in segments.segments[:3])),
        ]
        if name == "communities":
            shuffled = np.random.default_rng(seed).permutation(segments.labels)
            concentration, hit = behaviour(shuffled, counts, target_leaf)
            rows += [("random (communities' sizes): purchase concentration", f"{concentration:.4f}"),
                     ("random (communities' sizes): next-item leaf hit", f"{hit:.4f}")]

    activity = user_activity(train)
    sensitivity = np.array([sample.price_sensitivity[u] for u in train.events.user_ids])
    priced = ~np.isnan(activity["price_percentile"])
    rho = spearmanr(activity["price_percentile"][priced], sensitivity[priced]).statistic
    rows.append(("activity: Spearman(price percentile, planted sensitivity)", f"{rho:.3f} (n={int(priced.sum())})"))
    return rows


def real_run(run_dir: Path, seed: int) -> None:
    """Tags and segments of a trained run's profiles (see the module docstring)."""
    import pyarrow.parquet as pq

    from personagraph.pipeline.run import Run

    run = Run.load(run_dir)
    shop = run.shop
    table = pq.read_table(run.folder.profiles, columns=["user_id", "vector"]).to_pydict()
    row = {user_id: n for n, user_id in enumerate(table["user_id"])}
    vectors = np.asarray(table["vector"], dtype=np.float32)[[row[u] for u in shop.events.user_ids]]
    vocabulary = TagVocabulary.from_shop(shop)
    tags = InterestTags.from_shop(shop, vocabulary, vectors, run.item_vectors)
    kinds = {kind: vocabulary.kinds.count(kind) for kind in ("category", "brand", "keyword")}
    print(f"run {run_dir}: {shop.events.num_users:,} users, {len(shop.catalog):,} items; tags {kinds}")
    print("\n| user | top-5 interest tags |\n| --- | --- |")
    for user in np.random.default_rng(seed).choice(shop.events.num_users, 6, replace=False):
        print(f"| {user} | {', '.join(f'{label} ({weight:.2f})' for label, weight in tags.for_user(user)[:5])} |")
    counts = leaf_counts(shop, vocabulary)
    no_target = np.full(shop.events.num_users, -1)
    found = Segments.fit(vectors, tags, seed=seed)
    kmeans = Segments.fit(vectors, tags, method="kmeans", num_segments=len(found.segments), seed=seed)
    shuffled = np.random.default_rng(seed).permutation(found.labels)
    print("\n| segmentation | segments | silhouette | purchase concentration (top-3 leaves) |\n| --- | --- | --- | --- |")
    for name, labels, silhouette in (("communities (default)", found.labels, found.silhouette),
                                     ("k-means, same k", kmeans.labels, kmeans.silhouette),
                                     ("random, same sizes", shuffled, float("nan"))):
        concentration, _ = behaviour(labels, counts, no_target)
        print(f"| {name} | {int(labels.max()) + 1} | {silhouette:.3f} | {concentration:.3f} |")
    print("\n| segment | size | top tags (mean weight) |\n| --- | --- | --- |")
    for segment in found.segments:
        print(f"| {segment.name} | {segment.size} | "
              f"{', '.join(f'{label} ({weight:.2f})' for label, weight in segment.top_tags)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--vectors", choices=("gnn", "svd"), default="gnn",
                        help="the profile GNN's vectors, or a PureSVD stand-in")
    parser.add_argument("--dim", type=int, default=32, help="PureSVD dimension")
    parser.add_argument("--run", type=Path, help="measure this trained run (real data) instead of the sample shop")
    args = parser.parse_args()
    if args.run:
        real_run(args.run, args.seeds[0])
        return
    source = "profile GNN vectors (no text features)" if args.vectors == "gnn" else f"PureSVD vectors (d={args.dim})"
    print(f"sample shop: {args.users} users, {args.items} items; {source}")
    for seed in args.seeds:
        print(f"\n| seed {seed} | value |\n| --- | --- |")
        for name, value in run(args.users, args.items, seed, args.vectors, args.dim):
            print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
