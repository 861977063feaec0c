"""A small run folder made in a second, for tests of live profiles that need no trained model.

The model is untrained but deterministic, with learned item IDs and no text layers, so
nothing is encoded: profiles, updates and online profiles all run in milliseconds.
Importable from test modules because pytest puts ``tests/`` (the conftest's folder) on ``sys.path``.
"""
from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from personagraph.gnn.checkpoint import save_checkpoint
from personagraph.gnn.profile_model import ProfileModel
from personagraph.gnn.train_config import TrainConfig
from personagraph.graph.hetero_graph_builder import build_hetero_graph
from personagraph.datasets.sample_shop import generate_sample_shop
from personagraph.shop.shop_reader import read_shop
from personagraph.profiles.profile_space import ProfileSpace
from personagraph.pipeline.run_folder import RunFolder

DIM = 8


def make_run(root: Path, users: int = 80, items: int = 40, seed: int = 1,
             edit_shop: Callable[[Path], None] | None = None, social: bool = False,
             social_weight: float = 0.0) -> RunFolder:
    """Write a sample shop to ``root/shop`` (then ``edit_shop(root / "shop")``, if given) and a run
    folder for it to ``root/run``; with ``social``, the shop has links and profiles mix in the
    friends by ``social_weight``."""
    generate_sample_shop(root / "shop", users=users, items=items, seed=seed, social=social)
    if edit_shop is not None:
        edit_shop(root / "shop")
    shop = read_shop(root / "shop", progress=False)
    graph = build_hetero_graph(shop)
    torch.manual_seed(seed)
    model = ProfileModel(dim=DIM, num_known_items=len(shop.catalog)).eval()
    torch.nn.init.normal_(model.user_out.weight, std=0.1)
    space, profiles = ProfileSpace.build(model, graph, shop, seed=seed, social_weight=social_weight)
    run = RunFolder(root / "run").create()
    save_checkpoint(run.checkpoint, model, TrainConfig(dim=DIM), None)
    run.write_profiles(profiles.user_ids, profiles.vectors, profiles.attribute_columns())
    run.write_item_vectors(shop.catalog.item_ids, space.item_vectors(model))
    space.save(run.profile_space)
    run.write_json("config.json", {"run_id": "live-test", "data_dir": str((root / "shop").resolve()),
                                   "encoder": None, "embedding_cache": str(root / "cache"), "dataset": {}})
    return run


def write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    columns = list(dict.fromkeys(column for row in rows for column in row))
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def profile_rows(run: RunFolder) -> dict[str, dict]:
    """``profiles.parquet`` as user id -> row (plain Python values)."""
    import pyarrow.parquet as pq

    return {row["user_id"]: row for row in pq.read_table(run.profiles).to_pylist()}


def assert_same_tags(actual: list[tuple[str, float]], expected: list[tuple[str, float]], atol: float = 1e-5) -> None:
    """Top tags equal up to float rounding: the same weights, and the same tag for each weight
    except among tags of (nearly) equal weight, whose order and cut-off rounding may decide."""
    np.testing.assert_allclose([w for _, w in actual], [w for _, w in expected], atol=atol)
    expected_weight = dict(expected)
    boundary = expected[-1][1] if expected else 0.0
    for tag, weight in actual:
        if tag in expected_weight:
            assert abs(expected_weight[tag] - weight) <= atol, tag
        else:
            assert abs(weight - boundary) <= atol, f"{tag} is not among the expected tags"


def two_senders(run, tmp_path) -> list:
    """Two event files, each touching an existing user and bringing a new one."""
    from personagraph.pipeline.run import Run

    shop = Run.load(run.path).shop
    users, items = shop.events.user_ids, shop.catalog.item_ids
    return [write_csv(tmp_path / f"from_{name}.csv", [
        {"user_id": users[k], "event": "view", "timestamp": "2025-09-01T10:00:00Z", "item_id": items[k]},
        {"user_id": f"new-{name}", "event": "purchase", "timestamp": "2025-09-01T10:05:00Z", "item_id": items[k + 1]},
    ]) for k, name in ((1, "a"), (2, "b"))]
