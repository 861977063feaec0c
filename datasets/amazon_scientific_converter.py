"""Convert the Amazon "Industrial & Scientific" set (UniSRec/RecBole atomic files) into the shop format.

Source files: ``Scientific.text`` (ASIN, "title. category path. brand."),
``Scientific.item2index`` / ``Scientific.user2index`` (original ids -> indices) and
``Scientific.test.inter`` (each user's full chronological history, last item apart).

Every interaction becomes a ``purchase`` with synthetic, strictly increasing per-user
timestamps. The data has no search log, so by default each purchase also gets a
*derived* ``search`` event whose query is the item's category leaf (as in the Amazon
personalised product-search literature), at the purchase's own timestamp, so that
cutting a history at a target's time also drops the target's query.
"""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa

from personagraph.errors import PersonaGraphError
from personagraph.datasets.conversion_io import (
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

TEXT_FILE = "Scientific.text"
ITEM_INDEX_FILE = "Scientific.item2index"
USER_INDEX_FILE = "Scientific.user2index"
INTERACTIONS_FILE = "Scientific.test.inter"
TEXT_HEADER = "item_id:token\ttext:token_seq"
INTERACTIONS_HEADER = "user_id:token\titem_id_list:token_seq\titem_id:token"
#: Every non-empty category path of this set starts with its top-level category.
CATEGORY_ROOT = "Industrial & Scientific"
_ITEM_TEXT = re.compile(
    rf"^(?P<title>.*?)\. (?P<category>{re.escape(CATEGORY_ROOT)}[^.]*|)\. (?P<brand>.*)$", re.DOTALL
)


def split_item_text(text: str) -> tuple[str, str, str]:
    """``(title, flat category path, brand)`` from a line "title. category path. brand. ".

    The category path's words are space-joined, without its level boundaries
    (see :func:`segment_category_paths`). Titles and brands may contain ". ".
    """
    text = text.strip()
    if text.endswith("."):
        text = text[:-1]
    match = _ITEM_TEXT.match(text)
    if match:
        return match["title"].strip(), match["category"].strip(), match["brand"].strip()
    parts = text.rsplit(". ", 2)
    if len(parts) == 3:
        return parts[0].strip(), parts[1].strip(), parts[2].strip()
    return text, "", ""


def segment_category_paths(flat_paths: list[str]) -> dict[str, list[str]]:
    """Recover the levels of space-joined category paths, e.g.
    ``"Industrial & Scientific Fasteners Screws Sheet Metal Screws"`` ->
    ``["Industrial & Scientific", "Fasteners", "Screws", "Sheet Metal Screws"]``.

    The source lost the boundaries, so they are inferred from all paths together:
    a boundary follows a word prefix that is itself some item's full path, or after
    which paths branch. A branch point that would make a one-word level is kept only
    if that word looks like a plural noun (levels are named "Screws", "Valves"), since
    siblings often share a first modifier ("Lab Bottles" / "Lab Flasks", "Sanding
    Rolls" / "Sanding Sheets"). No boundary splits "A & B" or "A, B". Some levels
    stay merged where the data gives no evidence (e.g. "Valves Float Valves").
    """
    word_paths = {path: path.split() for path in set(flat_paths) if path.strip()}
    complete = {tuple(words) for words in word_paths.values()}
    next_words: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for words in word_paths.values():
        for end in range(1, len(words)):
            next_words[tuple(words[:end])].add(words[end])

    levels: dict[str, list[str]] = {}
    for path, words in word_paths.items():
        segments: list[str] = []
        start = 0
        for end in range(1, len(words)):
            if words[end - 1] == "&" or words[end - 1].endswith(",") or words[end] == "&":
                continue
            prefix = tuple(words[:end])
            is_complete = prefix in complete
            is_branch = len(next_words[prefix]) > 1
            if is_complete or (is_branch and (end - start > 1 or words[end - 1].endswith("s"))):
                segments.append(" ".join(words[start:end]))
                start = end
        segments.append(" ".join(words[start:]))
        levels[path] = segments
    return levels


def _read_index(path: Path, show_progress: bool) -> list[str]:
    """Original ids in index order from ``id<TAB>index`` lines (indices 0..n-1)."""
    by_index: dict[int, str] = {}
    for number, line in read_lines(path, show_progress):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0]:
            raise source_error(path, number, f"expected 'id<TAB>index', got {line[:80]!r}")
        index = parse_int(path, number, fields[1], "the index")
        if index in by_index:
            raise source_error(path, number, f"index {index} is already given to {by_index[index]!r}")
        by_index[index] = fields[0]
    if sorted(by_index) != list(range(len(by_index))):
        raise PersonaGraphError(f"{path}: indices must be 0..{len(by_index) - 1} without gaps")
    return [by_index[i] for i in range(len(by_index))]


def _check_header(path: Path, number: int, line: str, expected: str) -> None:
    if line.strip() != expected:
        raise source_error(path, number, f"expected the header {expected!r}, got {line[:80]!r}")


def _read_texts(path: Path, item_index: dict[str, int], show_progress: bool) -> list[str]:
    """Item texts in item-index order ("" for items without a text line)."""
    texts = [""] * len(item_index)
    for number, line in read_lines(path, show_progress):
        if number == 1:
            _check_header(path, number, line, TEXT_HEADER)
            continue
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2:
            raise source_error(path, number, f"expected 'item id<TAB>text', got {len(fields)} fields")
        if fields[0] not in item_index:
            raise source_error(path, number, f"item {fields[0]!r} is not in {ITEM_INDEX_FILE}")
        texts[item_index[fields[0]]] = fields[1]
    return texts


def _read_sequences(
    path: Path, num_users: int, num_items: int, show_progress: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(user, item, position)`` arrays, one row per interaction."""
    users: list[int] = []
    items: list[int] = []
    positions: list[int] = []
    seen: dict[int, int] = {}
    for number, line in read_lines(path, show_progress, unit="user"):
        if number == 1:
            _check_header(path, number, line, INTERACTIONS_HEADER)
            continue
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3:
            raise source_error(path, number, f"expected 'user<TAB>item list<TAB>last item', got {len(fields)} fields")
        user = parse_int(path, number, fields[0], "the user index")
        if user >= num_users:
            raise source_error(path, number, f"user index {user} is not in {USER_INDEX_FILE}")
        if user in seen:
            raise source_error(path, number, f"user {user} already has a line ({seen[user]})")
        seen[user] = number
        sequence = [parse_int(path, number, token, "an item index") for token in fields[1].split()]
        sequence.append(parse_int(path, number, fields[2].strip(), "the last item index"))
        unknown = next((item for item in sequence if item >= num_items), None)
        if unknown is not None:
            raise source_error(path, number, f"item index {unknown} is not in {ITEM_INDEX_FILE}")
        users.extend([user] * len(sequence))
        items.extend(sequence)
        positions.extend(range(len(sequence)))
    if not users:
        raise PersonaGraphError(f"{path} holds no interactions")
    return np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64), np.asarray(positions, dtype=np.int64)


def convert_amazon_scientific(
    src_dir: str | Path, out_dir: str | Path, derived_queries: bool = False, show_progress: bool = False
) -> dict:
    """Write ``items.parquet``, ``events.parquet`` and ``dataset.json`` for the set in
    ``src_dir`` to ``out_dir``; returns the ``dataset.json`` content.

    Items and users keep their original ids (ASINs, reviewer ids). With
    ``derived_queries`` (off by default: on this set they cut the profile model's validation
    Recall@20 from 0.185 to 0.153, see docs/BENCHMARKS.md) each purchase of an item with a category gets a ``search``
    event (query = category leaf, same item and timestamp), listed before the purchase.
    """
    item_ids = _read_index(source_file(src_dir, ITEM_INDEX_FILE), show_progress)
    user_ids = _read_index(source_file(src_dir, USER_INDEX_FILE), show_progress)
    texts = _read_texts(source_file(src_dir, TEXT_FILE), {a: i for i, a in enumerate(item_ids)}, show_progress)
    user, item, position = _read_sequences(
        source_file(src_dir, INTERACTIONS_FILE), len(user_ids), len(item_ids), show_progress
    )

    titles, flat_categories, brands = (list(column) for column in zip(*map(split_item_text, texts)))
    levels = segment_category_paths(flat_categories)
    categories = [" > ".join(levels.get(path, [])) for path in flat_categories]
    leaves = np.asarray([levels[path][-1] if path in levels else "" for path in flat_categories], dtype=object)

    timestamp = synthetic_timestamps(position)
    kind = np.full(len(user), "purchase", dtype=object)
    query = np.full(len(user), None, dtype=object)
    if derived_queries:
        searched = leaves[item] != ""
        query = np.concatenate([leaves[item[searched]], query])
        kind = np.concatenate([np.full(int(searched.sum()), "search", dtype=object), kind])
        user, item, timestamp = (np.concatenate([a[searched], a]) for a in (user, item, timestamp))
    order = np.lexsort((kind != "search", timestamp, user))  # by user and time, search first
    user, item, timestamp, kind, query = (a[order] for a in (user, item, timestamp, kind, query))

    events = pa.table({
        "user_id": id_strings(user, user_ids),
        "event": pa.array(kind, type=pa.string()),
        "timestamp": pa.array(timestamp, type=pa.int64()),
        "item_id": id_strings(item, item_ids),
        "query": pa.array(query, type=pa.string()),
    })
    items = items_table(item_ids, titles, categories, brands)
    num_purchases = int((kind == "purchase").sum())
    num_searches = len(kind) - num_purchases
    notes = [
        "Items keep their ASINs and users their reviewer ids. Titles, category paths and brands "
        "are split from the one-line item text; category levels are inferred (the source joins "
        "them with spaces). The source has no descriptions or prices.",
        "Every interaction is a 'purchase'. Timestamps are synthetic: one day apart per user, "
        "in the source's chronological order.",
        "Leave-one-out: each user's last purchase is the test target, the second-to-last the "
        "validation target; rank all items excluding the input history; Recall@20 / NDCG@20.",
    ]
    if derived_queries:
        notes.append(
            "DERIVED QUERIES: the source has no search log. Each purchase of an item with a category "
            "has a 'search' event whose query is the item's category leaf, with the same item and "
            "timestamp as the purchase (truncating at a target's time drops its query too). "
            "Report results on this set as using derived queries."
        )
    description = {
        "name": "amazon-scientific",
        "format_version": FORMAT_VERSION,
        "source": "Amazon Reviews 2018 Industrial & Scientific, UniSRec 'Scientific' split "
                  f"({TEXT_FILE}, {ITEM_INDEX_FILE}, {USER_INDEX_FILE}, {INTERACTIONS_FILE})",
        "items": "items.parquet",
        "events": "events.parquet",
        "protocol": "leave-one-out",
        "derived_queries": derived_queries,
        "synthetic_timestamps": True,
        "counts": {
            "users": len(user_ids),
            "items": len(item_ids),
            "events": len(kind),
            "purchases": num_purchases,
            "searches": num_searches,
            "distinct_queries": len({q for q in query if q is not None}),
            "items_with_category": int(sum(1 for c in categories if c)),
        },
        "notes": notes,
    }
    write_converted_dataset(out_dir, {"items": items, "events": events}, description)
    return description
