"""The low-pass filter's neighbour table: its polynomial run on narrow column blocks against the whole block.

A table row of :class:`~personagraph.gnn.low_pass_filter.LowPassFilter` is the filter applied to one
item's one-hot signal; :meth:`~personagraph.gnn.low_pass_filter.LowPassFilter.neighbours` asks for blocks
of such rows (as many as :data:`~personagraph.graph.item_neighbours.BLOCK_ENTRIES` allows) and each block
costs ``2 * order`` sparse products over the interactions. This script times the same blocks side by
side, in one process, with the polynomial's products run ``POLYNOMIAL_COLUMNS`` columns at a time and
with all of a block's columns at once (as before), checks that both give the same numbers, and repeats
it on growing shares of Gowalla's users (the shop's size), so the ratio and the growth show together.
The whole table's time is the per-block time times the number of blocks.

Run: ``python benchmarks/low_pass_table.py [--gowalla ../shared/datasets/gowalla --shares 0.25 0.5 1
--blocks 3]``.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

import personagraph.gnn.low_pass_filter as low_pass
from personagraph.graph.item_neighbours import BLOCK_ENTRIES


def gowalla_matrix(folder: Path) -> sp.csr_matrix:
    """Users x items of Gowalla's ``train.txt`` (a line: user, then the user's items)."""
    users, items = [], []
    with open(folder / "train.txt") as lines:
        for line in lines:
            fields = line.split()
            if len(fields) > 1:
                users += [int(fields[0])] * (len(fields) - 1)
                items += [int(item) for item in fields[1:]]
    return sp.csr_matrix((np.ones(len(users), np.float32), (users, items)))


def block_seconds(table: low_pass.LowPassFilter, blocks: int, columns: int) -> tuple[float, list[torch.Tensor]]:
    """Seconds per block of one-hot rows (as ``neighbours`` asks for them) with ``columns`` per product."""
    width = max(1, BLOCK_ENTRIES // table.num_items)
    kept, outputs = low_pass.POLYNOMIAL_COLUMNS, []
    low_pass.POLYNOMIAL_COLUMNS = columns
    try:
        started = time.perf_counter()
        for block in range(blocks):
            start = block * width
            signal = torch.zeros(table.num_items, width)
            signal[torch.arange(start, start + width), torch.arange(width)] = 1.0
            outputs.append(table._apply(signal))
        return (time.perf_counter() - started) / blocks, outputs
    finally:
        low_pass.POLYNOMIAL_COLUMNS = kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gowalla", type=Path, default=Path("../shared/datasets/gowalla"))
    parser.add_argument("--shares", type=float, nargs="+", default=[0.25, 0.5, 1.0],
                        help="shares of the users (the first ones) each shop keeps")
    parser.add_argument("--blocks", type=int, default=3, help="blocks timed per shop and setting")
    args = parser.parse_args()
    matrix = gowalla_matrix(args.gowalla)
    narrow = low_pass.POLYNOMIAL_COLUMNS
    print(f"torch threads: {torch.get_num_threads()}; {args.blocks} blocks per shop and setting")
    print(f"| users | items | interactions | blocks in a table | s / block, {narrow} columns | s / block, whole block "
          f"| ratio | table s, {narrow} columns (projected) | same numbers |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for share in args.shares:
        shop = matrix[: max(1, int(round(share * matrix.shape[0])))]
        shop = shop[:, np.flatnonzero(np.asarray(shop.sum(axis=0)).ravel())].tocsr()  # items someone has
        table = low_pass.LowPassFilter(shop)
        width = max(1, BLOCK_ENTRIES // table.num_items)
        whole, expected = block_seconds(table, args.blocks, width)
        split, outputs = block_seconds(table, args.blocks, narrow)
        same = all(torch.equal(a, b) for a, b in zip(outputs, expected))
        blocks = -(-table.num_items // width)
        print(f"| {shop.shape[0]:,} | {shop.shape[1]:,} | {shop.nnz:,} | {blocks} | {split:.2f} | {whole:.2f} "
              f"| {whole / split:.2f}× | {split * blocks:.0f} | {'yes' if same else 'NO'} |", flush=True)


if __name__ == "__main__":
    main()
