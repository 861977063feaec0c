"""A small sample shop, trained and synced to the test Neo4j once, for modules that query stored profiles.

Importable from test modules because pytest puts ``tests/`` (the conftest's folder) on ``sys.path``.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from personagraph.gnn.train_config import TrainConfig
from personagraph.store.connection_settings import ConnectionSettings
from personagraph.store.neo4j_profile_store import Neo4jProfileStore
from personagraph.store.neo4j_server import Neo4jServer, file_lock
from personagraph.datasets.sample_shop import generate_sample_shop
from personagraph.shop.shop_data import ShopData
from personagraph.pipeline.train_pipeline import TrainOptions, run_training

SEED = 5
#: Kept between sessions (text embeddings never change), so only the first run pays for encoding.
EMBEDDING_CACHE = Path(__file__).resolve().parents[1] / ".cache" / "test-embedding-cache"


@dataclass
class TrainedSample:
    """The shop as trained, its run folder (``<root>/runs/sample``) and the store holding its profiles."""

    root: Path
    shop: ShopData
    interests: dict[str, dict[str, float]]  # planted: user id -> leaf category path -> weight
    run_dir: Path
    summary: dict[str, Any]
    store: Neo4jProfileStore


@contextmanager
def trained_sample(server: Neo4jServer, settings: ConnectionSettings, root: Path,
                   config: TrainConfig | None = None) -> Iterator[TrainedSample]:
    """Train 300 users / 150 items for a few epochs (``config``) and sync them; holds the test-database
    lock meanwhile, so no other test empties the database under the caller."""
    with file_lock(server.home / "tests.lock"), Neo4jProfileStore.connect(settings) as store:
        store.delete_all()
        sample = generate_sample_shop(root / "shop", users=300, items=150, seed=SEED)
        run_dir = root / "runs" / "sample"
        options = TrainOptions(
            data_dir=root / "shop",
            out_dir=run_dir,
            # Ranked by the profile vectors alone, so tests can check `recommend` against a brute-force cosine
            # (the neighbour score beside them is tested in tests/pipeline/test_recommender.py).
            config=config or TrainConfig(dim=16, epochs=4, seed=SEED, neighbour_weight=0.0),
            cache_dir=EMBEDDING_CACHE,
            progress=False,
        )
        summary = run_training(options, lambda: Neo4jProfileStore.connect(settings), log=lambda line: None)
        yield TrainedSample(root=root, shop=sample.shop, interests=sample.interests, run_dir=run_dir,
                            summary=summary, store=store)
