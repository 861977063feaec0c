"""`personagraph train`: validate → build graph → encode → train → profiles → run folder → store.

Each stage only reads what the previous one produced, and nothing is written to the store
before every earlier stage has succeeded, so bad input never leaves a half-written database.
The run is built in a folder beside ``--out`` and swapped in only when complete, under the run
folder's writer lock: a train that fails leaves the previous run there as it was.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from personagraph.encoders.load_text_encoder import load_text_encoder
from personagraph.encoders.text_features import attach_text_features, share_text_features
from personagraph.encoders.text_encoder import TextEncoder
from personagraph.errors import PersonaGraphError
from personagraph.gnn.checkpoint import save_checkpoint
from personagraph.gnn.distributed_training import DistributedTraining
from personagraph.shop.leave_last_out import leave_last_out
from personagraph.gnn.profile_trainer import train_profile_model
from personagraph.gnn.train_config import TrainConfig
from personagraph.gnn.user_interactions import UserInteractions
from personagraph.graph.hetero_graph_builder import build_hetero_graph
from personagraph.store.profile_store import ProfileStore
from personagraph.shop.dataset_description import read_dataset_description
from personagraph.shop.shop_reader import read_shop_files, write_rejected
from personagraph.shop.shop_privacy import CONFIG_KEY as PRIVACY_CONFIG_KEY, ShopPrivacy
from personagraph.shop.shop_reading import ShopReading
from personagraph.shop.timestamp_window import TimestampWindow
from personagraph.evaluation.ranking_data import RankingData
from personagraph.profiles.profile_space import ProfileSpace
from personagraph.profiles.search_projection import MIN_USERS, SEARCH_DIM, SearchProjection
from personagraph.profiles.social_mix import choose_social_mix
from personagraph.store.bulk_import import AUTO
from personagraph.store.neo4j_server import Neo4jServer
from personagraph.store.profile_sync import whole_run_changes
from personagraph.pipeline.run_folder import SHOP_STATE_ONLY, RunFolder
from personagraph.pipeline.run_load import write_whole_run
from personagraph.pipeline.stage_clock import StageClock
from personagraph.process_memory import timed


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
    privacy: ShopPrivacy = field(default_factory=ShopPrivacy)  # default: raw ids, contact details redacted
    progress: bool = True
    wait: float | None = 0.0  # seconds to wait for another writer of out_dir (an update); None: as long as it takes
    # How the run reaches the store: "auto" bulk-imports into the managed server's empty database
    # (``managed_server``: the one ``open_store`` reaches, None for any other) and UNWINDs otherwise.
    load: str = AUTO
    managed_server: Neo4jServer | None = None
    processes: DistributedTraining = field(default_factory=DistributedTraining)  # under torchrun: this one's rank
    # The store's user index is over search vectors this wide when profiles are wider and there
    # are at least search_min_users users (SearchProjection.for_profiles); else over the profiles.
    search_dim: int = SEARCH_DIM
    search_min_users: int = MIN_USERS


def run_training(
    options: TrainOptions,
    open_store: Callable[[], ProfileStore] | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run the whole pipeline; with ``open_store`` the profiles are synced to that store.

    Returns the run summary (also written to ``metrics.json``). ``out_dir`` has one writer at a
    time: a train or update already writing it makes this one wait ``options.wait`` seconds, then fail.
    """
    target = RunFolder(options.out_dir)
    if not options.processes.is_main:  # a helper of distributed training: it trains, rank 0 writes
        return _train(options, target, None, log)
    target.check_replaceable()  # at once, before anything is made beside it (checked again under the lock)
    with target.writing(f"personagraph train {options.data_dir}", options.wait):
        return _train(options, target, open_store, log)


def _train(
    options: TrainOptions,
    target: RunFolder,
    open_store: Callable[[], ProfileStore] | None,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """The stages, building the run beside ``target`` and swapping it in before the sync."""
    clock = StageClock()
    processes = options.processes
    # Fails at once if out_dir is something other than a run folder; a helper process writes none.
    run = target.staging() if processes.is_main else None
    run_id = f"{target.path.name}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}"

    window = options.timestamp_window or TimestampWindow.default()
    with clock.stage("validate"):
        reading = _read(options, window)
        dataset = read_dataset_description(options.data_dir)
    clock.count("validate", reading.tables[1].rows_read, "events")  # tables: items, events[, social]
    input_counts = reading.counts()
    # Right after reading, before the graph: raw ids and contact details never go further.
    shop, rejected = options.privacy.shop(reading.shop), options.privacy.rejected(reading.rejected)
    del reading  # the shop as read (before pseudonyms) is not needed again: don't carry a second copy
    if rejected and run is not None:
        write_rejected(rejected, run.rejected)
        log(f"skipped {len(rejected)} bad rows; they are in {target.rejected}")

    with clock.stage("graph"):
        split = leave_last_out(shop)
        train_graph = build_hetero_graph(split.train)
    clock.count("graph", len(shop.events), "events")
    validation_users, train_events = int((split.targets >= 0).sum()), len(split.train.events)

    with clock.stage("encode"), processes.main_first():  # the others then read rank 0's embedding cache
        encoder = load_text_encoder(options.model, _cache_dir(options))
        encoded = attach_text_features(shop, [train_graph], encoder, options.encode_batch_size, options.progress)
    clock.count("encode", encoded["texts"], "texts", encoded=encoded["encoded"])

    with clock.stage("train"):
        torch.manual_seed(options.config.seed)
        result = train_profile_model(train_graph, torch.from_numpy(split.targets), options.config, options.progress,
                                     processes)
        if run is None:  # a helper process is done: rank 0 chooses the rest, writes and syncs
            return {"rank": processes.rank, "training_processes": processes.world_size}
        # The friends' weight is chosen on validation too, with the model as validated (0 without links).
        with timed(result.phases, "social choice"):
            social_mix = choose_social_mix(result.model, train_graph, split.train.social,
                                           torch.from_numpy(split.targets), RankingData(split.train, train_graph).excluded)
        with timed(result.phases, "refit on all the history"):
            # The whole history's graph is built only now, so that training never holds both graphs.
            del split
            graph = share_text_features(train_graph, build_hetero_graph(shop))
            del train_graph
            # Width and mix were chosen on validation; the filter itself is fitted to all the history.
            result.model.refit_spectral(graph, options.config.seed)
            # Likewise the neighbour table, when validation chose to rank with it.
            blend = result.neighbour_blend
            neighbours = (blend.fit_table(UserInteractions.from_graph(graph).item_matrix(len(shop.catalog)))
                          if blend.active else None)
    # Events seen per second over all epochs (validation and choosing the mixes included); where the
    # stage's time and memory went, part by part.
    clock.count("train", train_events * len(result.history), "events", epochs=len(result.history),
                phases=result.phases)

    with clock.stage("profiles"):
        # Profiles are pooled over the run's frozen space, as `personagraph update` pools them later.
        space, profiles = ProfileSpace.build(result.model, graph, shop, seed=options.config.seed,
                                             social_weight=social_mix.weight)
        item_vectors = space.item_vectors(result.model)
        search = SearchProjection.for_profiles(profiles.vectors, options.config.seed, options.search_dim,
                                               options.search_min_users)
    clock.count("profiles", len(profiles.user_ids), "users")

    with clock.stage("write"), tqdm(total=len(profiles.user_ids) + len(shop.catalog), unit="row", unit_scale=True,
                                    desc="writing the run folder", disable=not options.progress, file=sys.stderr,
                                    leave=False) as bar:
        save_checkpoint(run.checkpoint, result.model, options.config, encoder.name)
        run.write_profiles(profiles.user_ids, profiles.vectors, profiles.attribute_columns())
        bar.update(len(profiles.user_ids))
        run.write_item_vectors(shop.catalog.item_ids, item_vectors)
        bar.update(len(shop.catalog))
        space.save(run.profile_space)
        if search is not None:
            search.save(run.search_projection)
        if neighbours is not None:
            neighbours.save(run.item_neighbours)
        pseudonymised = options.privacy.pseudonymiser is not None
        if pseudonymised:  # the data folder holds raw ids: the run never reads it again
            run.write_shop_state(shop, 0)
        run.write_json("config.json", {
            "run_id": run_id,
            "data_dir": str(Path(options.data_dir).resolve()),
            "encoder": encoder.name,
            "embedding_cache": str(_cache_dir(options).resolve()),
            "train": options.config.to_dict(),
            "neighbour_blend": blend.as_dict(),
            "dataset": dataset,
            "timestamp_window": window.to_dict(),
            PRIVACY_CONFIG_KEY: options.privacy.to_config(),
            **({SHOP_STATE_ONLY: True} if pseudonymised else {}),
        })

    clock.count("write", len(profiles.user_ids) + len(shop.catalog), "rows")  # profiles and item vectors
    summary: dict[str, Any] = {
        "run_id": run_id,
        "run_folder": str(target.path),
        "counts": {
            "users": shop.events.num_users,
            "items": len(shop.catalog),
            "queries": len(shop.events.query_texts),
            "categories": int(graph["category"].num_nodes),
            "events": len(shop.events),
            "rejected_rows": len(rejected),
            "validation_users": validation_users,
            "segments": len(profiles.segments.segments),
        },
        "input": input_counts,
        "encoder": {"name": encoder.name, **encoded},
        "training_processes": processes.world_size,
        "best_epoch": result.best_epoch,
        "spectral": {"dim": result.model.spectral.k if result.model.spectral is not None else 0,
                     "mix": round(float(result.model.spectral_mix), 4), "tried": result.spectral_tuning},
        "neighbour_blend": {**blend.as_dict(), "tried": result.neighbour_tuning},
        "validation": result.best_metrics,
        "history": result.history,
        "segments": {"method": profiles.segments.method, "silhouette": profiles.segments.silhouette},
        "social": {"links": len(shop.social) if shop.social is not None else 0, **social_mix.to_dict()},
        "search_vector": search.summary() if search is not None
        else {"dim": None, "width": int(profiles.vectors.shape[1])},
    }
    summary["stages"] = clock.stages
    summary["total_seconds"] = clock.total_seconds
    run.write_json("metrics.json", summary)
    target.replace_with(run)  # complete: only now does it replace the previous run, and only then is it synced
    if open_store is not None:
        with clock.stage("sync"):
            changes = whole_run_changes(shop, graph, profiles, item_vectors, dataset.get("derived_queries", False),
                                        search, blend, neighbours)
            summary["load"], summary["synced"] = write_whole_run(
                options.load, options.managed_server, open_store, changes, run_id, target.path,
                int(profiles.vectors.shape[0]), options.progress)
        clock.count("sync", sum(summary["synced"].values()), "rows")
    summary["stages"] = clock.stages
    summary["total_seconds"] = clock.total_seconds
    target.write_json("metrics.json", summary)
    return summary


def _read(options: TrainOptions, window: TimestampWindow) -> ShopReading:
    """The shop, checked for everything training needs before any expensive stage runs."""
    if options.on_error not in ("fail", "skip"):
        raise PersonaGraphError(f"--on-error must be 'fail' or 'skip', not {options.on_error!r}")
    reading = read_shop_files(options.data_dir, options.on_error, options.progress, window)  # type: ignore[arg-type]
    if not len(reading.shop.events):
        events = reading.tables[1]
        raise PersonaGraphError(f"{events.file} holds no usable events ({events}); training needs the shop's events"
                                + (" (--on-error fail lists why rows were rejected)" if events.rows_rejected else ""))
    return reading


def _cache_dir(options: TrainOptions) -> Path:
    return options.cache_dir or Path(options.out_dir).resolve().parent / ".embedding-cache"
