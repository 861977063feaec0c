"""Overhead of PersonaGraph's cached text encoder over a bare ``SentenceTransformer.encode``.

Encodes the same real item texts (Amazon Industrial & Scientific) with both, interleaved
and repeated so that machine noise hits both alike: the cached encoder starts from an
empty cache each time (cold, everything encoded and written), then once more warm.
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
    """The first ``count`` item texts of a ``Scientific.text`` file (after its header)."""
    with path.open(encoding="utf-8") as handle:
        next(handle)
        texts = [line.rstrip("\n").split("\t", 1)[1] for _, line in zip(range(count), handle)]
    if len(texts) < count:
        raise SystemExit(f"{path} holds only {len(texts)} texts, asked for {count}")
    return texts


def timed(function) -> tuple[float, np.ndarray]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts-file", type=Path, default=DEFAULT_TEXTS)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    texts = read_item_texts(args.texts_file, args.count)
    encoder = SentenceTransformerEncoder()
    bare: SentenceTransformer = encoder.model  # the very same loaded model, called directly

    def bare_encode() -> np.ndarray:
        return bare.encode(texts, batch_size=args.batch_size, normalize_embeddings=True)

    bare_encode()  # warm-up: first call pays one-off allocations
    bare_times, cold_times = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(args.repeats):
            cached = CachedTextEncoder(encoder, Path(scratch) / f"cold-{repeat}")
            runs = [("bare", bare_encode), ("cold", lambda: cached.encode(texts, batch_size=args.batch_size))]
            for name, run in runs if repeat % 2 == 0 else runs[::-1]:
                seconds, vectors = timed(run)
                (bare_times if name == "bare" else cold_times).append(seconds)
                if name == "cold":
                    assert cached.last_misses == len(set(texts))
                    cold_vectors = vectors
        warm = CachedTextEncoder(encoder, Path(scratch) / "cold-0")
        warm_seconds, warm_vectors = timed(lambda: warm.encode(texts, batch_size=args.batch_size))
        assert warm.last_misses == 0
    np.testing.assert_allclose(cold_vectors, bare_encode(), atol=1e-4)
    np.testing.assert_array_equal(warm_vectors, cold_vectors)

    bare_median, cold_median = statistics.median(bare_times), statistics.median(cold_times)
    print(f"{len(texts):,} item texts, {encoder.name}, batch size {args.batch_size}, "
          f"median of {args.repeats} interleaved runs\n")
    print("| encoder | seconds | texts/s | vs bare |")
    print("| --- | ---: | ---: | ---: |")
    for name, seconds in [
        ("bare SentenceTransformer.encode", bare_median),
        ("CachedTextEncoder, cold cache", cold_median),
        ("CachedTextEncoder, warm cache", warm_seconds),
    ]:
        print(f"| {name} | {seconds:.2f} | {len(texts) / seconds:,.0f} | {seconds / bare_median:.3f} |")
    print(f"\ncold-cache overhead: {100 * (cold_median / bare_median - 1):+.1f}% "
          f"(runs: bare {', '.join(f'{t:.2f}' for t in bare_times)}; "
          f"cold {', '.join(f'{t:.2f}' for t in cold_times)})")


if __name__ == "__main__":
    main()
