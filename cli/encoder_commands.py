"""`personagraph finetune-encoder`: teach the text encoder the shop's own vocabulary."""
from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("finetune-encoder")
@click.argument("data_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to save the fine-tuned sentence-transformers model to (must be new or empty).")
@click.option("--base", metavar="MODEL",
              help="Model to start from: a sentence-transformers name or local folder "
                   "[default: the packaged all-MiniLM-L6-v2].")
@click.option("--epochs", type=click.IntRange(min=1), default=1, show_default=True, help="Passes over the pairs.")
@click.option("--batch-size", type=click.IntRange(min=2), default=32, show_default=True,
              help="Pairs per batch; every other pair in the batch is a negative, so larger is harder.")
@click.option("--max-pairs", type=click.IntRange(min=1), default=2_000, show_default=True,
              help="Most training pairs (a random sample of them); bounds the time on a CPU.")
@click.option("--held-out", type=click.IntRange(min=1), default=500, show_default=True,
              help="Pairs kept apart to measure Recall@10 before and after.")
@click.option("--window-hours", type=click.FloatRange(min=0), default=72.0, show_default=True,
              help="Two purchases of one user at most this far apart make an item -> item pair.")
@click.option("--use-all-events", is_flag=True,
              help="Also learn from each user's latest positive item, which `personagraph train` holds out "
                   "for validation (for a production model; not when comparing validation figures).")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed for the split, sampling and training.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bars.")
def finetune_encoder(data_dir: Path, out_dir: Path, base: str | None, epochs: int, batch_size: int, max_pairs: int,
                     held_out: int, window_hours: float, use_all_events: bool, seed: int, as_json: bool,
                     quiet: bool) -> None:
    """Fine-tune the text encoder on pairs mined from the shop in DATA_DIR.

    Pairs: a search query and the item clicked or bought from it (search events that
    carry an item_id), and two items one user bought within --window-hours. Trains with
    MultipleNegativesRankingLoss (in-batch negatives), prints Recall@10 of held-out
    pairs among all items before and after, and saves a sentence-transformers folder.
    Use it with `personagraph train DATA_DIR --model OUT`. Example:

        personagraph finetune-encoder data/sample --out models/sample-minilm
    """
    from personagraph.encoders.encoder_finetuner import EncoderFinetuner
    from personagraph.shop.shop_reader import read_shop

    shop = read_shop(data_dir, progress=not quiet)
    finetuner = EncoderFinetuner(base=base, epochs=epochs, batch_size=batch_size, max_pairs=max_pairs,
                                 held_out=held_out, window_seconds=window_hours * 3600, seed=seed,
                                 use_all_events=use_all_events, progress=not quiet)
    report = finetuner.finetune(shop, out_dir)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    pairs = report.pairs
    click.echo(f"{pairs['mined']:,} distinct pairs mined; trained on {pairs['train']:,} "
               f"({pairs['train_query_item']:,} query->item, {pairs['train_item_item']:,} item->item) "
               f"in {report.train_seconds:.0f} s; {pairs['held_out']:,} held out")
    click.echo("held-out Recall@10   all     query->item  item->item")
    for label, metrics in (("before", report.before), ("after", report.after)):
        cells = [_rate(metrics[f"{kind}recall@10"]) for kind in ("", "query_", "item_")]
        click.echo(f"  {label:<18} {cells[0]}  {cells[1]}       {cells[2]}")
    click.echo(f"Saved to {report.out_dir}; use it with --model {report.out_dir}")


def _rate(value: float | None) -> str:
    return "     -" if value is None else f"{value:.4f}"
