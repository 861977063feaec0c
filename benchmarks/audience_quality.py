"""Do `personagraph audience` results buy what the text says? (Amazon Scientific, held-out purchases)

Protocol. Convert the set (`personagraph convert amazon-scientific SRC --out DATA`); ``--prepare``
writes ``HELDOUT`` = DATA without each user's last purchase (the test item) and prints the
`personagraph train HELDOUT --out RUN --no-sync` command; the run is trained on that. The audience
phrases are drawn by a rule from the data, not picked by hand:

* leaf categories: the leaves (readable category levels, :func:`category_levels`) bought by the
  most users whose name is a product name, i.e. at least half of the leaf's item titles hold every
  word of it ("Exam Gloves", not "Lab Supplies & Consumables");
* title phrases: the word pairs (adjacent informative title words, brands left out) found in the
  most item titles.

Each phrase needs ``--min-positives`` held-out matches. A user **matches** a phrase when an item
title holds every word of it (lower case, plurals folded), judged two ways:

* held-out: the user's test purchase (never seen by the run) — what the audience predicts;
* history: a training purchase (the history the profiles were computed from) — easy for text.

Rankings of all users, top 50 and top 100 judged: **ours**, ``TextAudience.from_run(run)`` — the
code path of `personagraph audience` — scoring the run's stored profiles (`profiles.parquet`, what
the store's vector index searches); **text-only**, the cosine between the phrase's MiniLM vector
and the mean MiniLM vector of the titles each user bought (training history); **random** (the
base rate, its expected precision).

Run: ``python benchmarks/audience_quality.py --data DATA --run RUN [--phrases-per-source 20]``.
"""
from __future__ import annotations

import argparse
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp

from personagraph.pipeline.run import Run
from personagraph.pipeline.text_audience import TextAudience
from personagraph.profiles.tag_vocabulary import category_levels, keywords, tag_key
from personagraph.shop.shop_data import ShopData
from personagraph.shop.shop_reader import read_shop

AUDIENCE_SIZES = (50, 100)
_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> frozenset[str]:
    """The words a match needs, lower case with plurals folded ("Exam Gloves" -> {exam, glove})."""
    return frozenset(tag_key(w) for w in _WORD.findall(text.lower()))


def prepare_heldout(data: Path, heldout: Path) -> None:
    """Copy the converted set without each user's last event (its test purchase)."""
    heldout.mkdir(parents=True, exist_ok=True)
    events = pq.read_table(data / "events.parquet")
    users = np.asarray(events["user_id"].to_pylist(), dtype=object)
    order = np.lexsort((events["timestamp"].to_numpy(), users))
    last = np.zeros(len(users), dtype=bool)
    is_last = np.r_[users[order][1:] != users[order][:-1], True]
    last[order[is_last]] = True
    pq.write_table(events.filter(pa.array(~last)), heldout / "events.parquet")
    for name in ("items.parquet", "dataset.json"):
        shutil.copy(data / name, heldout / name)


def test_items(full: ShopData, shop: ShopData) -> np.ndarray:
    """Per user of ``shop`` (the run's), the catalogue index of the purchase the run never saw (-1: none)."""
    events = full.events
    last = np.r_[events.user[1:] != events.user[:-1], True]
    by_user = {events.user_ids[u]: full.catalog.item_ids[i] for u, i in zip(events.user[last], events.item[last])}
    index = {item_id: i for i, item_id in enumerate(shop.catalog.item_ids)}
    return np.asarray([index.get(by_user.get(u, ""), -1) for u in shop.events.user_ids], dtype=np.int64)


def draw_phrases(shop: ShopData, per_source: int) -> list[tuple[str, str]]:
    """``(source, phrase)``: the most-bought product-naming leaves, then the most frequent title word pairs."""
    catalog, events = shop.catalog, shop.events
    title_words = [words(t) for t in catalog.titles]
    leaf = [levels[-1] if (levels := category_levels(c)) else "" for c in catalog.categories]
    items_of: dict[str, list[int]] = {}
    for i, name in enumerate(leaf):
        if name:
            items_of.setdefault(name, []).append(i)
    bought = events.item >= 0
    buyers = {name: np.unique(events.user[bought][np.isin(events.item[bought], items)]).size
              for name, items in items_of.items()}
    names_products = [name for name, items in items_of.items()
                      if np.mean([words(name) <= title_words[i] for i in items]) >= 0.5]
    leaves = sorted(names_products, key=lambda name: (-buyers[name], name))[:per_source]
    brand_words = {w for brand in catalog.brands for w in words(brand)}
    pair_counts: dict[str, int] = {}
    for title in catalog.titles:
        for pair in {k for k in keywords(title, bigrams=True) if " " in k}:
            pair_counts[pair] = pair_counts.get(pair, 0) + 1
    taken = {words(name) for name in leaves}
    pairs = []
    for pair in sorted(pair_counts, key=lambda p: (-pair_counts[p], p)):
        if len(pairs) == per_source:
            break
        if words(pair) in taken or words(pair) & brand_words:
            continue
        taken.add(words(pair))
        pairs.append(pair)
    return [("leaf", name) for name in leaves] + [("title", pair) for pair in pairs]


def matches(shop: ShopData, tests: np.ndarray, phrase: str) -> tuple[np.ndarray, np.ndarray]:
    """``(held-out, history)`` bool per user: their test / some training purchase's title holds the phrase."""
    wanted = words(phrase)
    title_match = np.asarray([wanted <= words(t) for t in shop.catalog.titles] + [False])
    events = shop.events
    history = np.zeros(events.num_users, dtype=bool)
    history[events.user[title_match[events.item]]] = True  # item -1 lands on the trailing False
    return title_match[tests], history


def text_only_scores(run: Run, phrases: list[str]) -> np.ndarray:
    """``[phrases, users]`` cosine of each phrase with the mean title vector of each user's purchases."""
    shop = run.shop
    titles = _unit(run.encode(list(shop.catalog.titles)))
    events = shop.events
    bought = events.item >= 0
    users_items = sp.csr_matrix((np.ones(int(bought.sum())), (events.user[bought], events.item[bought])),
                                shape=(events.num_users, len(shop.catalog)))
    users_items.data[:] = 1.0  # each item once, however often bought
    return _unit(users_items @ titles) @ _unit(run.encode(phrases)).T


def stored_vectors(run: Run) -> np.ndarray:
    """The profiles as the run stored them (what the store's vector index searches), in shop user order."""
    table = pq.read_table(run.folder.profiles, columns=["user_id", "vector"]).to_pydict()
    row = {user_id: n for n, user_id in enumerate(table["user_id"])}
    vectors = np.asarray(table["vector"], dtype=np.float64)
    return _unit(vectors[[row[u] for u in run.shop.events.user_ids]])


def precision(scores: np.ndarray, relevant: np.ndarray, k: int) -> float:
    return float(relevant[np.argsort(-scores, kind="stable")[:k]].mean())


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="converted amazon-scientific folder (all events)")
    parser.add_argument("--run", type=Path, required=True, help="run folder trained on the held-out folder")
    parser.add_argument("--prepare", type=Path, metavar="HELDOUT",
                        help="only write the held-out data folder to train the run on, and say how")
    parser.add_argument("--cache-dir", type=Path, help="embedding cache [default: the run's]")
    parser.add_argument("--phrases-per-source", type=int, default=20)
    parser.add_argument("--min-positives", type=int, default=20, help="held-out matches a phrase needs")
    parser.add_argument("--per-phrase", action="store_true", help="print every phrase's figures")
    parser.add_argument("--given", nargs="*", default=[],
                        help="hand-picked phrases, printed per phrase (with --per-phrase) but left out of the means")
    args = parser.parse_args()
    if args.prepare:
        prepare_heldout(args.data, args.prepare)
        print(f"wrote {args.prepare}; now: personagraph train {args.prepare} --out {args.run} --no-sync")
        return
    started = time.perf_counter()
    run = Run.load(args.run, args.cache_dir)
    shop = run.shop
    tests = test_items(read_shop(args.data, progress=False), shop)
    judged = tests >= 0
    drawn = draw_phrases(shop, args.phrases_per_source)
    kept = [(source, phrase) for source, phrase in drawn
            if matches(shop, tests, phrase)[0][judged].sum() >= args.min_positives]
    given = [("given", phrase) for phrase in args.given]  # reported apart: not part of the means
    phrases = [phrase for _, phrase in kept + given]

    ours = stored_vectors(run) @ _unit(TextAudience.from_run(run).vectors(phrases)).T
    ours, text_only = ours.T, text_only_scores(run, phrases).T
    rows = []
    for p, (source, phrase) in enumerate(kept + given):
        held, history = (m[judged] for m in matches(shop, tests, phrase))
        row = {"source": source, "phrase": phrase, "base held": held.mean(), "base history": history.mean()}
        for name, scores in (("ours", ours[p][judged]), ("text", text_only[p][judged])):
            for k in AUDIENCE_SIZES:
                row[f"{name} held@{k}"] = precision(scores, held, k)
                row[f"{name} history@{k}"] = precision(scores, history, k)
        rows.append(row)

    rows, given_rows = rows[:len(kept)], rows[len(kept):]
    print(f"Amazon Scientific, run {args.run} (trained without each user's last purchase); "
          f"{int(judged.sum()):,} users with a held-out purchase; {len(kept)} phrases "
          f"({sum(s == 'leaf' for s, _ in kept)} leaf categories, {sum(s == 'title' for s, _ in kept)} title "
          f"word pairs) of {len(drawn)} drawn had >= {args.min_positives} held-out matches")
    print()
    print("| match | ranking | mean P@50 | mean P@100 | P@50 / text-only | phrases >= 0.05 below text-only at P@50 "
          "| worst P@50 gap |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for match in ("held", "history"):
        label = "held-out purchase" if match == "held" else "training purchase"
        text50 = np.mean([r[f"text {match}@50"] for r in rows])
        for name in ("ours", "text"):
            p50 = np.mean([r[f"{name} {match}@50"] for r in rows])
            p100 = np.mean([r[f"{name} {match}@100"] for r in rows])
            gaps = [r[f"{name} {match}@50"] - r[f"text {match}@50"] for r in rows]
            worse = sum(gap <= -0.05 for gap in gaps)
            ranking = "ours (`audience`)" if name == "ours" else "text-only"
            print(f"| {label} | {ranking} | {p50:.3f} | {p100:.3f} | {p50 / text50:.2f} | {worse} | {min(gaps):+.2f} |")
        base = np.mean([r[f"base {match}"] for r in rows])
        print(f"| {label} | random | {base:.3f} | {base:.3f} | {base / text50:.2f} | | |")
    if args.per_phrase:
        print()
        print("| source | phrase | base held-out | ours P@50 | text-only P@50 | base history | ours P@50 | text-only P@50 |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for r in rows + given_rows:
            print(f"| {r['source']} | {r['phrase']} | {r['base held']:.3f} | {r['ours held@50']:.2f} | "
                  f"{r['text held@50']:.2f} | {r['base history']:.3f} | {r['ours history@50']:.2f} | "
                  f"{r['text history@50']:.2f} |")
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
