"""Run folders for report tests: a small trained run (no Neo4j), and synthetic ones of any size in a second."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from trained_sample import EMBEDDING_CACHE

from personagraph.pipeline.run_folder import RunFolder


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> RunFolder:
    """300 users / 150 items trained for a few epochs, not synced; its shop is ``<root>/shop``."""
    from personagraph.datasets.sample_shop import generate_sample_shop
    from personagraph.gnn.train_config import TrainConfig
    from personagraph.pipeline.train_pipeline import TrainOptions, run_training

    root = tmp_path_factory.mktemp("report-run")
    generate_sample_shop(root / "shop", users=300, items=150, seed=5)
    options = TrainOptions(data_dir=root / "shop", out_dir=root / "runs" / "small",
                           config=TrainConfig(dim=16, epochs=4, seed=5), cache_dir=EMBEDDING_CACHE, progress=False)
    run_training(options, None, log=lambda line: None)
    return RunFolder(root / "runs" / "small")


@pytest.fixture
def synthetic_run(tmp_path: Path) -> Callable[..., RunFolder]:
    """``make(users, segments, id_length, ...)``: a run folder with the files a report reads and made-up
    profiles, for sizes no test could train."""

    def make(users: int = 500, segments: int = 12, dim: int = 32, id_length: int = 8, tags_per_user: int = 5,
             metrics: dict | None = None, name: str = "synthetic") -> RunFolder:
        rng = np.random.default_rng(0)
        run = RunFolder(tmp_path / name).create()
        labels = np.minimum(rng.geometric(0.25, size=users) - 1, segments - 1)
        centres = rng.normal(size=(segments, dim))
        vectors = centres[labels] + 0.3 * rng.normal(size=(users, dim))
        vocabulary = [f"tag number {i}" for i in range(200)]
        tag_numbers = (labels[:, None] * 7 + np.arange(tags_per_user) * 3 + rng.integers(3, size=(users, 1))) % 200
        top_tags = [[vocabulary[number] for number in row] for row in tag_numbers.tolist()]
        event_count = rng.geometric(0.05, size=users)
        spend = np.where(rng.random(users) < 0.4, rng.lognormal(4, 1, size=users), 0.0)
        columns = {
            "view_count": event_count // 2, "purchase_count": (spend > 0).astype(np.int64),
            "search_count": event_count - event_count // 2 - (spend > 0), "event_count": event_count,
            "recency_days": rng.uniform(0, 200, size=users), "spend": spend, "top_tags": top_tags,
            "segment": labels.astype(np.int64), "segment_name": [f"Segment {label} · tag {label * 7}" for label in labels],
        }
        user_ids = [f"{i:0{id_length}d}" for i in range(users)]
        run.write_profiles(user_ids, vectors.astype(np.float32), columns)
        run.write_json("config.json", {"run_id": f"{name}-1", "data_dir": str(tmp_path / "shop"), "train": {"dim": dim}})
        history = [{"epoch": float(e), "loss": 5.0 / e, "recall@20": 0.1 + 0.01 * e, "seconds": 1.0} for e in range(1, 6)]
        tried = [{"spectral_dim": float(w), "mix": m, "recall@20": 0.1 + m / 10} for w in (8, 16) for m in (0.1, 0.5, 1.0)]
        run.write_json("metrics.json", metrics if metrics is not None else {
            "run_id": f"{name}-1", "counts": {"users": users, "segments": segments}, "encoder": {"name": "test"},
            "best_epoch": 4, "spectral": {"dim": 16, "mix": 1.0, "tried": tried}, "validation": {"recall@20": 0.14},
            "history": history, "segments": {"method": "k-means", "silhouette": 0.3},
            "stages": {"train": {"seconds": 1.5, "peak_rss_mb": 100.0}}, "total_seconds": 1.5,
        })
        return run

    return make
