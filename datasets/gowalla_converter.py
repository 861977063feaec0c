"""Convert the LightGCN Gowalla split (``train.txt`` / ``test.txt``) into the shop format.

Gowalla is ID-only: items get empty titles and categories. Training interactions
become ``purchase`` events; the test pairs go, untouched, to ``test.parquet`` so that
evaluation uses exactly the published split (``"protocol": "given-split"``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from personagraph.errors import PersonaGraphError
from personagraph.datasets.conversion_io import (
    DAY_SECONDS,
    FORMAT_VERSION,
    id_strings,
    items_table,
    parse_int,
    read_lines,
    source_error,
    source_file,
    synthetic_timestamps,
    write_converted_dataset,
)

TRAIN_FILE = "train.txt"
TEST_FILE = "test.txt"


def read_user_item_lists(path: Path, show_progress: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``user item item ...`` lines as parallel arrays ``(user, item, position)``,
    where ``position`` counts each user's items from 0 in file order."""
    users: list[int] = []
    counts: list[int] = []
    item_tokens: list[str] = []
    first_line: dict[int, int] = {}
    for number, line in read_lines(path, show_progress, unit="user"):
        tokens = line.split()
        if not tokens:
            continue
        user = parse_int(path, number, tokens[0], "the user id")
        if user in first_line:
            raise source_error(path, number, f"user {user} already has a line ({first_line[user]}); "
                               "give one line per user")
        first_line[user] = number
        bad = next((t for t in tokens[1:] if not t.isdigit()), None)
        if bad is not None:
            raise source_error(path, number, f"item ids must be non-negative integers, got {bad!r}")
        users.append(user)
        counts.append(len(tokens) - 1)
        item_tokens.extend(tokens[1:])
    if not users:
        raise PersonaGraphError(f"{path} holds no interactions; expected lines of 'user item item ...'")
    counts_array = np.asarray(counts, dtype=np.int64)
    user = np.repeat(np.asarray(users, dtype=np.int64), counts_array)
    item = np.asarray(item_tokens, dtype=np.int64) if item_tokens else np.zeros(0, dtype=np.int64)
    starts = np.repeat(np.cumsum(counts_array) - counts_array, counts_array)
    position = np.arange(len(item), dtype=np.int64) - starts
    return user, item, position


def convert_gowalla(src_dir: str | Path, out_dir: str | Path, show_progress: bool = False) -> dict:
    """Write ``items.parquet``, ``events.parquet``, ``test.parquet`` and ``dataset.json``
    for the Gowalla split in ``src_dir`` to ``out_dir``; returns the ``dataset.json`` content.

    The split is chronological (its authors: each user's latest 20 % is the test, NGCF issue 19),
    and the test items are closer to the last items of each training line than to the first
    (docs/BENCHMARKS-quality.md): a line is in time order. The split has no times, so each
    training event gets a synthetic one from its place in the line (one day apart, as the Amazon
    converter does): models may then weigh a user's recent items more, and validation asks the
    test's question: it holds out the end of each line (``"validation_holdout": "latest"``).
    """
    train_path, test_path = source_file(src_dir, TRAIN_FILE), source_file(src_dir, TEST_FILE)
    train_user, train_item, train_position = read_user_item_lists(train_path, show_progress)
    test_user, test_item, _ = read_user_item_lists(test_path, show_progress)

    num_users = int(max(train_user.max(), test_user.max(initial=0))) + 1
    num_items = int(max(train_item.max(initial=0), test_item.max(initial=0))) + 1
    user_names = [str(i) for i in range(num_users)]
    item_names = [str(i) for i in range(num_items)]
    timestamp = synthetic_timestamps(train_position)

    events = pa.table({
        "user_id": id_strings(train_user, user_names),
        "event": pa.array(np.full(len(train_user), "purchase")),
        "timestamp": pa.array(timestamp, type=pa.int64()),
        "item_id": id_strings(train_item, item_names),
        "query": pa.nulls(len(train_user), type=pa.string()),
    })
    test = pa.table({"user_id": id_strings(test_user, user_names), "item_id": id_strings(test_item, item_names)})
    empty = [""] * num_items
    items = items_table(item_names, empty, empty, empty)

    description = {
        "name": "gowalla",
        "format_version": FORMAT_VERSION,
        "source": "LightGCN Gowalla split (train.txt, test.txt)",
        "items": "items.parquet",
        "events": "events.parquet",
        "test": "test.parquet",
        "protocol": "given-split",
        "derived_queries": False,
        "synthetic_timestamps": True,
        "ordered_histories": True,
        "validation_holdout": "latest",
        "test_period_start": int(timestamp.max(initial=0)) + DAY_SECONDS,
        "counts": {
            "users": num_users,
            "items": num_items,
            "events": len(train_user),
            "purchases": len(train_user),
            "test_pairs": len(test_user),
            "test_users": len(np.unique(test_user)),
        },
        "notes": [
            "ID-only data: items have no title, category, brand or price; ids are the "
            "split's remapped integer ids as strings.",
            "Every training interaction is a 'purchase' event. Timestamps are synthetic (the split has "
            "no times): one day apart in the order of each user's line, all before test_period_start.",
            "The split is chronological (each user's latest 20% is the test), so validation holds out "
            "the end of each user's training line, as large a share as the test's "
            "(validation_holdout 'latest').",
            "Evaluate on exactly test.parquet: rank all items, excluding each user's training "
            "items, and report Recall@20 / NDCG@20 as in the LightGCN paper.",
        ],
    }
    write_converted_dataset(out_dir, {"items": items, "events": events, "test": test}, description)
    return description
