"""`personagraph train`: validate → build graph → encode → train → profiles → run folder → store.

Each stage only reads what the previous one produced, and nothing is written to the store
before every earlier stage has succeeded, so bad input never leaves a half-written database.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from personagraph.encoders.load_text_encoder import load_text_encoder
from personagraph.encoders.text_features import attach_text_features
from personagraph.encoders.text_encoder import TextEncoder
from personagraph.errors import PersonaGraphError
from personagraph.gnn.checkpoint import save_checkpoint
from personagraph.shop.leave_last_out import leave_last_out
from personagraph.gnn.profile_trainer import train_profile_model
from personagraph.gnn.train_config import TrainConfig
from personagraph.graph.hetero_graph_builder import build_hetero_graph
from personagraph.store.profile_store import ProfileStore
from personagraph.shop.dataset_description import read_dataset_description
from personagraph.shop.shop_reader import read_shop_files, write_rejected
from personagraph.shop.shop_reading import ShopReading
from personagraph.shop.timestamp_window import TimestampWindow
from personagraph.profiles.profile_space import ProfileSpace
from personagraph.store.profile_sync import sync_profiles
from personagraph.pipeline.run_folder import RunFolder
from personagraph.pipeline.stage_clock import StageClock


@dataclass
class TrainOptions:
    """Everything `personagraph train` can be told; the defaults are the documented ones."""

    data_dir: Path
    out_dir: Path
    config: TrainConfig = field(default_factory=TrainConfig)
    model: str | None = None  # text encoder: None = the packaged all-MiniLM-L6-v2
    encode_batch_size: int = 64
    cache_dir: Path | None = None  # embedding cache; None = <out_dir>/../.embedding-cache
    on_error: str = "fail"
    timestamp_window: TimestampWindow | None = None  # None = TimestampWindow.default() when the run starts
    progress: bool = True


def run_training(
    options: TrainOptions,
    open_store: Callable[[], ProfileStore] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the whole pipeline; with ``open_store`` the profiles are synced to that store.

    Returns the run summary (also written to ``metrics.json``).
    """
    clock = StageClock()
    run = RunFolder(options.out_dir)
    run_id = f"{run.path.name}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}"

    window = options.timestamp_window or TimestampWindow.default()
    with clock.stage("validate"):
        reading = _read(options, window)
        dataset = read_dataset_description(options.data_dir)
    shop, rejected = reading.shop, reading.rejected
    run.create()
    if rejected:
        write_rejected(rejected, run.rejected)
        log(f"skipped {len(rejected)} bad rows; they are in {run.rejected}")

    with clock.stage("graph"):
        split = leave_last_out(shop)
        graph = build_hetero_graph(shop)
        train_graph = build_hetero_graph(split.train)

    with clock.stage("encode"):
        encoder = load_text_encoder(options.model, _cache_dir(options))
        encoded = attach_text_features(shop, [graph, train_graph], encoder, options.encode_batch_size, options.progress)

    with clock.stage("train"):
        torch.manual_seed(options.config.seed)
        result = train_profile_model(train_graph, torch.from_numpy(split.targets), options.config, options.progress)
        # Width and mix were chosen on validation; the filter itself is fitted to all the history.
        result.model.refit_spectral(graph, options.config.seed)

    with clock.stage("profiles"):
        # Profiles are pooled over the run's frozen space, as `personagraph update` pools them later.
        space, profiles = ProfileSpace.build(result.model, graph, shop, seed=options.config.seed)
        item_vectors, user_vectors = space.item_vectors(result.model), profiles.vectors

    with clock.stage("write"):
        save_checkpoint(run.checkpoint, result.model, options.config, encoder.name)
        run.write_profiles(profiles.user_ids, profiles.vectors, profiles.attribute_columns())
        run.write_item_vectors(shop.catalog.item_ids, item_vectors)
        space.save(run.profile_space)
        run.write_json("config.json", {
            "run_id": run_id,
            "data_dir": str(Path(options.data_dir).resolve()),
            "encoder": encoder.name,
            "embedding_cache": str(_cache_dir(options).resolve()),
            "train": options.config.to_dict(),
            "dataset": dataset,
            "timestamp_window": window.to_dict(),
        })

    summary: dict[str, Any] = {
        "run_id": run_id,
        "run_folder": str(run.path),
        "counts": {
            "users": shop.events.num_users,
            "items": len(shop.catalog),
            "queries": len(shop.events.query_texts),
            "categories": int(graph["category"].num_nodes),
            "events": len(shop.events),
            "rejected_rows": len(rejected),
            "validation_users": int((split.targets >= 0).sum()),
            "segments": len(profiles.segments.segments),
        },
        "input": reading.counts(),
        "encoder": {"name": encoder.name, **encoded},
        "best_epoch": result.best_epoch,
        "spectral": {"dim": result.model.spectral.k if result.model.spectral is not None else 0,
                     "mix": round(float(result.model.spectral_mix), 4), "tried": result.spectral_tuning},
        "validation": result.best_metrics,
        "history": result.history,
        "segments": {"method": profiles.segments.method, "silhouette": profiles.segments.silhouette},
    }
    if open_store is not None:
        with clock.stage("sync"), open_store() as store:
            store.ensure_schema(int(user_vectors.shape[1]))
            summary["synced"] = sync_profiles(
                store, shop, graph, profiles, item_vectors, run_id, dataset.get("derived_queries", False),
                options.progress
            )
    summary["stages"] = clock.stages
    summary["total_seconds"] = clock.total_seconds
    run.write_json("metrics.json", summary)
    return summary


def _read(options: TrainOptions, window: TimestampWindow) -> ShopReading:
    """The shop, checked for everything training needs before any expensive stage runs."""
    if options.on_error not in ("fail", "skip"):
        raise PersonaGraphError(f"--on-error must be 'fail' or 'skip', not {options.on_error!r}")
    reading = read_shop_files(options.data_dir, options.on_error, options.progress, window)  # type: ignore[arg-type]
    if not len(reading.shop.events):
        events = reading.tables[-1]
        raise PersonaGraphError(f"{events.file} holds no usable events ({events}); training needs the shop's events"
                                + (" (--on-error fail lists why rows were rejected)" if events.rows_rejected else ""))
    return reading


def _cache_dir(options: TrainOptions) -> Path:
    return options.cache_dir or Path(options.out_dir).resolve().parent / ".embedding-cache"
