"""Are the readable profiles and text audiences right about what users do next? (Amazon Scientific)

Protocol: convert the set (`personagraph convert amazon-scientific SRC --out DATA`), hold out
each user's last item with ``leave_last_out`` and compute everything from the rest: the
profile GNN (text features from all-MiniLM-L6-v2) is trained on that part with its own last
item per user held out again for early stopping, then profiles every user from the whole
training part. The queries of this set are DERIVED (each purchase's category leaf).

Printed measures, over users with a held-out item:
- tags: share of users whose top-3 interest tags hold the held-out item's leaf category,
  tags ranked with the vectors vs raw-count tags (``InterestTags.category_hit_rate``);
- audiences: for every leaf category that is the held-out item of at least ``--min-users``
  users, its name is the audience text; precision@100 = share of the 100 users ranked
  first whose held-out item is in that category, averaged over the categories. Ranked by
  the text's profile (``TextAudience``: as a known query node, and as new text alone), by
  a keyword match (users whose history titles and queries contain every word of the name,
  most matching events first, ties at random), and at random (the base rate).

Run: ``python benchmarks/profile_quality.py --data /tmp/sci [--epochs 40 --seed 0]``.
"""
from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np
import torch

from personagraph.encoders.load_text_encoder import load_text_encoder
from personagraph.shop.leave_last_out import leave_last_out
from personagraph.gnn.profile_trainer import train_profile_model
from personagraph.gnn.train_config import TrainConfig
from personagraph.graph.hetero_graph_builder import build_hetero_graph
from personagraph.shop.shop_data import ShopData
from personagraph.shop.shop_reader import read_shop
from personagraph.profiles.interest_tags import InterestTags
from personagraph.profiles.profile_space import ProfileSpace
from personagraph.profiles.tag_vocabulary import TagVocabulary
from personagraph.pipeline.text_audience import TextAudience
from personagraph.encoders.text_features import attach_text_features

AUDIENCE_SIZE = 100
_WORD = re.compile(r"\w+")


def words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def keyword_scores(shop: ShopData, name: str) -> np.ndarray:
    """Per user, how many of their events have an item title or a query holding every word of ``name``."""
    events, wanted = shop.events, words(name)
    title_match = np.array([wanted <= words(title) for title in shop.catalog.titles] + [False])
    query_match = np.array([wanted <= words(text) for text in events.query_texts] + [False])
    # Index -1 (no item / no query) lands on the trailing False.
    matched = title_match[events.item] | query_match[events.query]
    return np.bincount(events.user[matched], minlength=events.num_users).astype(np.float64)


def precision_at(scores: np.ndarray, relevant: np.ndarray, rng: np.random.Generator, k: int = AUDIENCE_SIZE) -> float:
    """Share of relevant users among the ``k`` best scores (ties broken at random)."""
    order = np.lexsort((rng.random(scores.shape[0]), -scores))
    return float(relevant[order[:k]].mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/sci"), help="converted amazon-scientific folder")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-users", type=int, default=100, help="held-out users a category needs")
    parser.add_argument("--cache-dir", type=Path, default=Path(".cache/embedding-cache"))
    args = parser.parse_args()
    started = time.perf_counter()

    shop = read_shop(args.data, progress=False)
    split = leave_last_out(shop)
    train, targets = split.train, split.targets
    inner = leave_last_out(train)
    graph, inner_graph = build_hetero_graph(train), build_hetero_graph(inner.train)
    encoder = load_text_encoder(None, args.cache_dir)
    attach_text_features(train, [graph, inner_graph], encoder, 64, progress=True)
    torch.manual_seed(args.seed)
    config = TrainConfig(epochs=args.epochs, seed=args.seed)
    result = train_profile_model(inner_graph, torch.from_numpy(inner.targets), config, progress=True)
    model = result.model
    with torch.no_grad():
        user_vectors = model.user_embeddings(graph).numpy()
        item_vectors = model.item_embeddings(graph).numpy()

    vocabulary = TagVocabulary.from_shop(train)
    vector_tags = InterestTags.from_shop(train, vocabulary, user_vectors, item_vectors)
    raw_tags = InterestTags.from_shop(train, vocabulary)

    judged = np.flatnonzero(targets >= 0)
    target_path = np.asarray(train.catalog.categories, dtype=object)[targets[judged]]
    paths, counts = np.unique(target_path[target_path != ""], return_counts=True)
    chosen = [str(p) for p, n in zip(paths, counts) if n >= args.min_users]
    names = [path.split(">")[-1].strip() for path in chosen]
    space, _ = ProfileSpace.build(model, graph, train, seed=args.seed)
    as_query = TextAudience(model, space, train.catalog, encoder.encode).vectors(names)
    as_text = TextAudience(model, space, train.catalog, encoder.encode, known_queries=False).vectors(names)

    rng = np.random.default_rng(args.seed)
    rows = {"audience: text as query node": [], "audience: text alone": [], "keyword match": [], "random": []}
    for c, (path, name) in enumerate(zip(chosen, names)):
        relevant = target_path == path
        rows["audience: text as query node"].append(precision_at(user_vectors[judged] @ as_query[c], relevant, rng))
        rows["audience: text alone"].append(precision_at(user_vectors[judged] @ as_text[c], relevant, rng))
        rows["keyword match"].append(precision_at(keyword_scores(train, name)[judged], relevant, rng))
        rows["random"].append(float(relevant.mean()))

    recall = result.best_metrics.get("recall@20", float("nan"))
    print(f"Amazon Scientific ({args.data}), derived queries; {len(judged):,} users with a held-out item; "
          f"best epoch {result.best_epoch}, validation recall@20 {recall:.4f}")
    print()
    print("| interest tags | top-3 hit rate of the held-out item's leaf category |")
    print("| --- | --- |")
    print(f"| ranked with the profile vectors | {vector_tags.category_hit_rate(targets):.4f} |")
    print(f"| raw counts | {raw_tags.category_hit_rate(targets):.4f} |")
    print()
    print(f"Audiences: {len(chosen)} leaf categories with >= {args.min_users} held-out users: "
          + ", ".join(f"{name} ({n})" for name, n in zip(names, counts[np.isin(paths, chosen)])))
    print()
    print(f"| audience ranking | mean precision@{AUDIENCE_SIZE} | min | max |")
    print("| --- | --- | --- | --- |")
    for label, values in rows.items():
        print(f"| {label} | {np.mean(values):.4f} | {np.min(values):.4f} | {np.max(values):.4f} |")
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
