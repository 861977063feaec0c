"""Does in-domain fine-tuning of the text encoder help profiles end to end? Base vs fine-tuned, one run.

Fine-tunes the packaged all-MiniLM-L6-v2 on pairs mined from a converted shop (as
``personagraph finetune-encoder`` does, from the training part only), then evaluates ours
(exactly what ``personagraph train`` produces) and the text-only baseline with the base
and with the fine-tuned encoder on the same leave-one-out split, and prints a markdown
table: pair-retrieval Recall@10 before/after, the fine-tuning time, and test Recall@20 /
NDCG@20 per encoder.

Run (after ``personagraph convert amazon-scientific ../shared/datasets/amazon-scientific --out /tmp/pg-amazon``):
``.venv/bin/python benchmarks/finetuned_encoder.py --data /tmp/pg-amazon --out /tmp/ft-amazon``.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

from personagraph.encoders.encoder_finetuner import EncoderFinetuner
from personagraph.evaluation.evaluation_protocol import EvaluationProtocol
from personagraph.pipeline.model_evaluation import ModelEvaluation
from personagraph.shop.shop_reader import read_shop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a converted shop folder (leave-one-out)")
    parser.add_argument("--out", type=Path, required=True, help="where the fine-tuned model goes (new or empty)")
    parser.add_argument("--max-pairs", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=1, help="seeds for ours")
    parser.add_argument("--cache-dir", type=Path, default=None, help="embedding cache shared by both runs")
    args = parser.parse_args()

    started = time.perf_counter()
    finetune = EncoderFinetuner(max_pairs=args.max_pairs, epochs=args.epochs).finetune(read_shop(args.data), args.out)
    protocol = EvaluationProtocol.from_folder(args.data)
    results = {}
    for label, encoder in (("base all-MiniLM-L6-v2", None), ("fine-tuned", finetune.out_dir)):
        evaluation = ModelEvaluation(models=["ours", "text"], seeds=args.seeds, encoder=encoder,
                                     cache_dir=args.cache_dir, progress=False, log=lambda line: None)
        results[label] = {row["model"]: row for row in evaluation.run(protocol)["models"]}

    pairs = finetune.pairs
    print(f"\n{args.data} (leave-one-out, test figures, ours over {args.seeds} seed(s)); "
          f"{platform.machine()}, {os.cpu_count()} CPUs; whole run {time.perf_counter() - started:.0f} s\n")
    print(f"Fine-tuning: {pairs['train']:,} training pairs, {pairs['held_out']:,} held out, "
          f"{args.epochs} epoch(s) in {finetune.train_seconds:.0f} s "
          f"(command total {finetune.total_seconds:.0f} s).\n")
    print("| held-out pair Recall@10 | pairs | base | fine-tuned |\n| --- | ---: | ---: | ---: |")
    for label, prefix in (("all", ""), ("query → item", "query_"), ("item → item", "item_")):
        before, after = finetune.before[f"{prefix}recall@10"], finetune.after[f"{prefix}recall@10"]
        count = int(finetune.before[f"{prefix}pairs"] or 0)
        print(f"| {label} | {count:,} | {_number(before)} | {_number(after)} |")
    print("\n| encoder | model | Recall@20 | NDCG@20 | seconds |\n| --- | --- | ---: | ---: | ---: |")
    for label, rows in results.items():
        for model, row in rows.items():
            metrics = row["test"]
            print(f"| {label} | {model} | {_spread(metrics['recall@20'])} | {_spread(metrics['ndcg@20'])} "
                  f"| {row['total_seconds']['mean']:.0f} |")


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _spread(values: dict[str, float]) -> str:
    return f"{values['mean']:.4f} ± {values['std']:.4f}"


if __name__ == "__main__":
    main()
