"""Overhead of PersonaGraph's cached text encoder over a bare ``SentenceTransformer.encode``.

Encodes the same real item texts (Amazon Industrial & Scientific) with both, block by
block and alternating which goes first, so that load from other processes hits both
alike; each block is new to the cache (cold: everything encoded and written). Then the
cached encoder runs once more over all texts, warm.
Prints a markdown table. Run: ``.venv/bin/python benchmarks/encoder_overhead.py``.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from sentence_transformers import SentenceTransformer

from personagraph.encoders.cached_text_encoder import CachedTextEncoder
from personagraph.encoders.sentence_transformer_encoder import SentenceTransformerEncoder

DEFAULT_TEXTS = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets" / "amazon-scientific" / "Scientific.text"


def read_item_texts(path: Path, count: int) -> list[str]:
    """The first ``count`` distinct item texts of a ``Scientific.text`` file (after its header)."""
    texts: dict[str, None] = {}
    with path.open(encoding="utf-8") as handle:
        next(handle)
        for line in handle:
            texts[line.rstrip("\n").split("\t", 1)[1]] = None
            if len(texts) == count:
                return list(texts)
    raise SystemExit(f"{path} holds only {len(texts)} distinct texts, asked for {count}")


def timed(function) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts-file", type=Path, default=DEFAULT_TEXTS)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--block", type=int, default=250, help="texts per interleaved pair of runs")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    texts = read_item_texts(args.texts_file, args.count)
    encoder = SentenceTransformerEncoder()
    bare: SentenceTransformer = encoder.model  # the very same loaded model, called directly
    bare.encode(texts[: args.batch_size], batch_size=args.batch_size)  # warm-up

    bare_times, cold_times, cold_blocks = [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        for number, start in enumerate(range(0, len(texts), args.block)):
            block = texts[start : start + args.block]
            cached = CachedTextEncoder(encoder, Path(scratch) / "cache")  # blocks are disjoint: cold
            runs = {
                "bare": lambda: bare.encode(block, batch_size=args.batch_size, normalize_embeddings=True),
                "cold": lambda: cached.encode(block, batch_size=args.batch_size),
            }
            order = ["bare", "cold"] if number % 2 == 0 else ["cold", "bare"]
            results = {name: timed(runs[name]) for name in order}
            assert cached.last_hits == 0
            bare_times.append(results["bare"][0])
            cold_times.append(results["cold"][0])
            cold_blocks.append(results["cold"][1])
            np.testing.assert_allclose(results["cold"][1], results["bare"][1], atol=1e-4)
        warm = CachedTextEncoder(encoder, Path(scratch) / "cache")
        warm_seconds, warm_vectors = timed(lambda: warm.encode(texts, batch_size=args.batch_size))
        assert warm.last_misses == 0
    np.testing.assert_array_equal(warm_vectors, np.concatenate(cold_blocks))

    bare_total, cold_total = sum(bare_times), sum(cold_times)
    print(f"{len(texts):,} item texts, {encoder.name}, batch size {args.batch_size}, "
          f"bare and cold runs interleaved in blocks of {args.block}\n")
    print("| encoder | seconds | texts/s | vs bare |")
    print("| --- | ---: | ---: | ---: |")
    for name, seconds in [
        ("bare SentenceTransformer.encode", bare_total),
        ("CachedTextEncoder, cold cache", cold_total),
        ("CachedTextEncoder, warm cache", warm_seconds),
    ]:
        print(f"| {name} | {seconds:.2f} | {len(texts) / seconds:,.0f} | {seconds / bare_total:.3f} |")
    ratios = [cold / bare for cold, bare in zip(cold_times, bare_times)]
    print(f"\ncold-cache overhead: {100 * (cold_total / bare_total - 1):+.1f}% in total; "
          f"per block median {100 * (statistics.median(ratios) - 1):+.1f}% "
          f"(min {100 * (min(ratios) - 1):+.1f}%, max {100 * (max(ratios) - 1):+.1f}%)")


if __name__ == "__main__":
    main()
