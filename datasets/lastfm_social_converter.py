"""Convert the HetRec 2011 Last.fm split (listening plus friendships) into the shop format.

The source is IDs only: users, artists and who listens to whom, with play counts, and the
users' mutual friendships. Every training (user, artist) pair becomes one ``purchase`` event;
the friendships become the shop's optional ``social`` table (relation ``friend``, both
directions as the source gives them), so the same folder trains and evaluates with and without
the social edges. The test pairs go, untouched, to ``test.parquet`` (``"protocol":
"given-split"``). Play counts and the artists' tag ids are not carried over: the shop format
has no interaction weight, and tag ids without their words would be text without meaning.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

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
from personagraph.errors import PersonaGraphError

TRAIN_FILE = "train.dat"
TEST_FILE = "test.dat"
FRIENDS_FILE = "user_user.dat"
FRIEND_RELATION = "friend"


def read_id_pairs(path: Path, columns: int, show_progress: bool = False) -> np.ndarray:
    """``[rows, 2]`` int64: the first two tab-separated integers of each line that has ``columns`` fields."""
    pairs: list[tuple[int, int]] = []
    for number, line in read_lines(path, show_progress):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != columns:
            raise source_error(path, number, f"expected {columns} tab-separated fields, got {len(fields)}")
        pairs.append((parse_int(path, number, fields[0].strip(), "the user id"),
                      parse_int(path, number, fields[1].strip(), "the second id")))
    if not pairs:
        raise PersonaGraphError(f"{path} holds no rows; expected tab-separated ids")
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def convert_lastfm_social(src_dir: str | Path, out_dir: str | Path, show_progress: bool = False) -> dict:
    """Write ``items``, ``events``, ``social``, ``test`` (parquet) and ``dataset.json`` for the
    Last.fm split in ``src_dir`` to ``out_dir``; returns the ``dataset.json`` content.

    Friendships with a user who has no training artist are left out (the shop's links join users
    with events) and counted in ``dataset.json``.
    """
    train = np.unique(read_id_pairs(source_file(src_dir, TRAIN_FILE), 3, show_progress), axis=0)
    test = np.unique(read_id_pairs(source_file(src_dir, TEST_FILE), 3, show_progress), axis=0)
    friends = np.unique(read_id_pairs(source_file(src_dir, FRIENDS_FILE), 2, show_progress), axis=0)
    friends = friends[friends[:, 0] != friends[:, 1]]

    users = np.unique(train[:, 0])
    unknown_test = np.setdiff1d(test[:, 0], users)
    if unknown_test.size:
        raise PersonaGraphError(f"{TEST_FILE}: {unknown_test.size} user(s) have no training artist "
                                f"(e.g. {unknown_test[:3].tolist()}); the split must give every test user a history")
    artists = np.unique(np.concatenate([train[:, 1], test[:, 1]]))
    user_names = [str(u) for u in users.tolist()]
    artist_names = [str(a) for a in artists.tolist()]
    user_code = lambda ids: np.searchsorted(users, ids)  # noqa: E731 - ids are known users here
    artist_code = lambda ids: np.searchsorted(artists, ids)  # noqa: E731

    known = np.isin(friends[:, 0], users) & np.isin(friends[:, 1], users)
    links = friends[known]
    timestamp = synthetic_timestamps(np.zeros(len(train), dtype=np.int64))
    events = pa.table({
        "user_id": id_strings(user_code(train[:, 0]), user_names),
        "event": pa.array(np.full(len(train), "purchase")),
        "timestamp": pa.array(timestamp, type=pa.int64()),
        "item_id": id_strings(artist_code(train[:, 1]), artist_names),
        "query": pa.nulls(len(train), type=pa.string()),
    })
    social = pa.table({
        "user_id": id_strings(user_code(links[:, 0]), user_names),
        "other_user_id": id_strings(user_code(links[:, 1]), user_names),
        "relation": pa.array(np.full(len(links), FRIEND_RELATION)),
    })
    test_table = pa.table({"user_id": id_strings(user_code(test[:, 0]), user_names),
                           "item_id": id_strings(artist_code(test[:, 1]), artist_names)})
    empty = [""] * len(artists)
    items = items_table(artist_names, empty, empty, empty)

    description = {
        "name": "lastfm-social",
        "format_version": FORMAT_VERSION,
        "source": "HetRec 2011 Last.fm (train.dat, test.dat, user_user.dat)",
        "items": "items.parquet",
        "events": "events.parquet",
        "social": "social.parquet",
        "test": "test.parquet",
        "protocol": "given-split",
        "derived_queries": False,
        "synthetic_timestamps": True,
        "ordered_histories": False,
        "test_period_start": int(timestamp.max(initial=0)) + DAY_SECONDS,
        "counts": {
            "users": len(users),
            "items": len(artists),
            "events": len(train),
            "social_links": len(links),
            "social_links_dropped": int((~known).sum()),
            "test_pairs": len(test),
            "test_users": len(np.unique(test[:, 0])),
        },
        "notes": [
            "ID-only data: items (artists) have no title, category, brand or price; ids are the source's.",
            "Every training (user, artist) pair is one 'purchase' event; play counts are not kept. "
            "Timestamps are synthetic and equal (the split has no times).",
            "social.parquet: the mutual friendships, both directions, relation 'friend'.",
            "Evaluate on exactly test.parquet: rank all artists, excluding each user's training artists.",
        ],
    }
    write_converted_dataset(out_dir, {"items": items, "events": events, "social": social, "test": test_table},
                            description)
    return description
