"""The sample shop drawn with array operations, for shops of hundreds of thousands of users and more.

:func:`~personagraph.datasets.sample_shop.generate_sample_shop` draws one user, session and
event at a time, which keeps small shops byte-identical across versions but costs a Python
dict per event. This module draws the same kind of shop (the same catalogue tree, themes,
interests, heavy-tailed activity, session shape and query variants) column by column with
numpy and writes it with pyarrow, so a million users take minutes, not hours. It does not
reproduce the row-by-row generator's files for a seed; two simplifications stand in for
per-event loops: an item is drawn with the user's price sensitivity rounded to one of
:data:`SENSITIVITY_LEVELS` levels, and a search that names a brand leads to the item it was
made from half the time (the row generator boosts that brand's items fourfold).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from tqdm import tqdm

from personagraph.datasets.sample_shop import (
    LANGUAGES,
    PRICE_SIGMA,
    SPAN_SECONDS,
    START,
    SampleShop,
    _Language,
    _leaves,
    _themes,
    _typo,
)
from personagraph.errors import PersonaGraphError
from personagraph.shop.columnar_events import clean_event_log
from personagraph.shop.shop_data import Catalog, ShopData
from personagraph.shop.shop_reader import EVENT_COLUMNS, ITEM_COLUMNS, TABLE_FORMATS
from personagraph.shop.timestamp_window import TimestampWindow

#: Price sensitivity is rounded to this many levels when items are drawn (one sampling table per level).
SENSITIVITY_LEVELS = 16
_MAX_LEAVES = 3  # interests per user
_VIEW, _CLICK, _CART, _PURCHASE, _SEARCH = "view", "click", "add_to_cart", "purchase", "search"
_EVENT_NAMES = (_VIEW, _CLICK, _CART, _PURCHASE, _SEARCH)  # codes in this module only


def generate_vectorised_shop(out_dir: str | Path | None, users: int, items: int, seed: int, fmt: str,
                             lang: str, progress: bool) -> SampleShop:
    """A sample shop drawn column by column; arguments as for ``generate_sample_shop``."""
    if out_dir is not None:
        _refuse_other_formats(Path(out_dir), fmt)
    rng = np.random.default_rng(seed)
    language = LANGUAGES[lang]
    with tqdm(total=4, desc="sample shop", unit="step", disable=not progress, file=sys.stderr) as bar:
        bar.set_postfix_str("items")
        catalogue = _Items.draw(rng, items, language)
        bar.update()
        bar.set_postfix_str("users")
        people = _Users.draw(rng, users, catalogue, language)
        bar.update()
        bar.set_postfix_str("events")
        events = _events(rng, catalogue, people, language)
        bar.update()
        bar.set_postfix_str("checking")
        catalog = Catalog(item_ids=catalogue.ids, titles=catalogue.titles, categories=catalogue.categories,
                          brands=catalogue.brands, descriptions=catalogue.descriptions, prices=catalogue.prices)
        event_log = clean_event_log([events], catalog, TimestampWindow.any_time())
        if event_log is None:
            raise PersonaGraphError("the generated events did not validate; this is a bug, please report it")
        files = []
        if out_dir is not None:
            bar.set_postfix_str("writing")
            files = [_write_table(catalogue.table(), Path(out_dir) / f"items.{fmt}", fmt),
                     _write_table(events, Path(out_dir) / f"events.{fmt}", fmt)]
        bar.update()
    interests = {user_id: {people.paths[leaf]: float(weight) for leaf, weight in zip(leaves, weights) if leaf >= 0}
                 for user_id, leaves, weights in zip(people.ids, people.leaves.tolist(), people.weights.tolist())}
    sensitivity = dict(zip(people.ids, people.sensitivity.tolist()))
    return SampleShop(shop=ShopData(catalog=catalog, events=event_log), interests=interests,
                      price_sensitivity=sensitivity, files=files)


def _refuse_other_formats(out_dir: Path, fmt: str) -> None:
    clashing = [path.name for name in ("items", "events") for ext in TABLE_FORMATS if ext != fmt
                for path in [out_dir / f"{name}.{ext}"] if path.exists()]
    if clashing:
        raise PersonaGraphError(
            f"{out_dir} already holds {', '.join(clashing)}; a data folder keeps one format per table, "
            "so remove those or choose another --out"
        )


class _Items:
    """The catalogue as columns; items of a leaf are contiguous, leaves in tree order."""

    def __init__(self, **columns: object) -> None:
        self.__dict__.update(columns)

    @classmethod
    def draw(cls, rng: np.random.Generator, count: int, language: _Language) -> "_Items":
        leaves = _leaves(language.areas)
        sizes = np.zeros(len(leaves), dtype=np.int64)
        sizes[rng.permutation(len(leaves))[: min(count, len(leaves))]] = 1
        weights = rng.gamma(2.0, 1.0, len(leaves))
        sizes += rng.multinomial(count - int(sizes.sum()), weights / weights.sum())
        leaf = np.repeat(np.arange(len(leaves)), sizes)
        first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        order = np.lexsort((rng.random(count), leaf))
        rank = np.empty(count, dtype=np.int64)
        rank[order] = np.arange(count) - first[leaf[order]] + 1
        brand = (rng.random(count) * 5).astype(np.int64)
        adjective = (rng.random(count) * 6).astype(np.int64)
        spec = (rng.random(count) * 4).astype(np.int64)
        use = (rng.random(count) * 3).astype(np.int64)
        z = rng.normal(size=count)
        median = np.array([price for *_, price in leaves])[leaf]
        price = np.round(median * np.exp(PRICE_SIGMA * z), 2)
        price = np.where(price >= 5, np.maximum(np.round(price) - 0.01, 0.49), price)
        known = rng.random(count) >= 0.02
        width = len(str(count))
        areas = [area for area, *_ in leaves]
        brands = [areas[l].brands[b] for l, b in zip(leaf.tolist(), brand.tolist())]
        adjectives = [areas[l].adjectives[a] for l, a in zip(leaf.tolist(), adjective.tolist())]
        specs = [leaves[l][3][s] for l, s in zip(leaf.tolist(), spec.tolist())]
        nouns = [leaves[l][2] for l in leaf.tolist()]
        uses = [areas[l].uses[u] for l, u in zip(leaf.tolist(), use.tolist())]
        return cls(
            ids=[f"i{n:0{width}d}" for n in range(1, count + 1)],
            titles=[language.title(*parts) for parts in zip(brands, adjectives, nouns, specs)],
            descriptions=[language.description(*parts) for parts in zip(brands, adjectives, nouns, specs, uses)],
            categories=[leaves[l][1] for l in leaf.tolist()],
            brands=brands,
            prices=np.where(known, price, np.nan),
            leaf=leaf, first=first, sizes=sizes, brand=brand, adjective=adjective,
            preference_z=np.where(known, z, 0.0), popularity=1.0 / rank,
        )

    def table(self) -> pa.Table:
        return pa.table({"item_id": self.ids, "title": self.titles, "description": self.descriptions,
                         "category": self.categories, "brand": self.brands,
                         "price": pa.array(self.prices, pa.float64(), from_pandas=True)})

    def sampler(self, levels: int) -> np.ndarray:
        """Per sensitivity level, ``leaf + cumulative preference`` over the items: ``searchsorted(leaf + u)``
        then draws an item of that leaf in proportion to its popularity and price appeal."""
        tables = np.empty((levels, len(self.leaf)), dtype=np.float64)
        ends = np.cumsum(self.sizes)[self.sizes > 0] - 1
        for level in range(levels):
            sensitivity = (level + 0.5) / levels
            preference = self.popularity * np.exp(-1.5 * sensitivity * self.preference_z)
            running = np.cumsum(preference)
            before = np.concatenate([[0.0], running])[self.first[self.leaf]]
            totals = running[(np.cumsum(self.sizes) - 1)[self.leaf]] - before
            tables[level] = self.leaf + (running - before) / totals
            tables[level, ends] = self.leaf[ends] + 1.0  # exactly the top of each leaf
        return tables


class _Users:
    """Per user: themes' leaves of interest (up to three, -1 padded), their weights, price sensitivity, sessions."""

    def __init__(self, **columns: object) -> None:
        self.__dict__.update(columns)

    @classmethod
    def draw(cls, rng: np.random.Generator, count: int, catalogue: _Items, language: _Language) -> "_Users":
        leaves = _leaves(language.areas)
        paths = [path for _, path, *_ in leaves]
        leaf_of = {path: i for i, path in enumerate(paths)}
        active = np.flatnonzero(catalogue.sizes > 0)
        themes = [[leaf_of[p] for p in theme if catalogue.sizes[leaf_of[p]] > 0] for theme in _themes(language)]
        themes = [theme for theme in themes if theme] or [active.tolist()]
        n = len(themes)
        # every pool a user can have (one theme, or two different ones), deduplicated in order
        pools = [list(dict.fromkeys(themes[a] + (themes[b] if b >= 0 else []))) for a in range(n)
                 for b in [-1, *range(n)]]
        width = max(len(pool) for pool in pools)
        pool_table = np.full((len(pools), width), -1, dtype=np.int64)
        for i, pool in enumerate(pools):
            pool_table[i, : len(pool)] = pool
        first = (rng.random(count) * n).astype(np.int64)
        two = (rng.random(count) < 0.3) & (n > 1)
        second = np.where(two, (first + 1 + (rng.random(count) * max(n - 1, 1)).astype(np.int64)) % n, -1)
        pool = pool_table[first * (n + 1) + second + 1]
        keys = np.where(pool >= 0, rng.random(pool.shape), np.inf)
        chosen = np.take_along_axis(pool, np.argsort(keys, axis=1)[:, :_MAX_LEAVES], axis=1)
        wanted = np.minimum((pool >= 0).sum(axis=1), rng.integers(1, _MAX_LEAVES + 1, count))
        chosen[np.arange(_MAX_LEAVES)[None, :] >= wanted[:, None]] = -1
        weights = np.where(chosen >= 0, rng.gamma(2.0, 1.0, chosen.shape), 0.0)
        weights /= weights.sum(axis=1, keepdims=True)
        id_width = len(str(count))
        return cls(
            ids=[f"u{number:0{id_width}d}" for number in range(1, count + 1)],
            paths=paths, leaves=chosen, weights=weights, active=active,
            sensitivity=rng.beta(2.0, 2.0, count),
            sessions=np.minimum(1 + (rng.pareto(1.6, count) * 2.0).astype(np.int64), 60),
        )


def _events(rng: np.random.Generator, items: _Items, people: _Users, language: _Language) -> pa.Table:
    """Every user's sessions, as the row generator shapes them, in time order."""
    user = np.repeat(np.arange(len(people.ids)), people.sessions)
    start = START + rng.random(len(user)) * SPAN_SECONDS
    order = np.lexsort((start, user))
    user, start = user[order], start[order]
    sessions = len(user)
    # the session's leaf: one of the user's interests by weight, or any leaf now and then
    slot = (rng.random(sessions)[:, None] > np.cumsum(people.weights[user], axis=1)).sum(axis=1)
    slot = np.minimum(slot, (people.leaves[user] >= 0).sum(axis=1) - 1)
    leaf = people.leaves[user, slot]
    wander = rng.random(sessions) >= 0.92
    leaf[wander] = people.active[(rng.random(int(wander.sum())) * len(people.active)).astype(np.int64)]
    level = np.minimum((people.sensitivity[user] * SENSITIVITY_LEVELS).astype(np.int64), SENSITIVITY_LEVELS - 1)
    sampler = items.sampler(SENSITIVITY_LEVELS)

    def draw(of_session: np.ndarray) -> np.ndarray:
        targets = leaf[of_session] + rng.random(len(of_session))
        levels = level[of_session]
        drawn = np.empty(len(of_session), dtype=np.int64)
        for value in np.unique(levels):
            where = levels == value
            drawn[where] = np.searchsorted(sampler[value], targets[where], side="right")
        return np.minimum(drawn, items.first[leaf[of_session]] + items.sizes[leaf[of_session]] - 1)

    # a search (half the sessions), maybe clicked through to a result, which is then viewed
    searching = np.flatnonzero(rng.random(sessions) < 0.5)
    source = items.first[leaf[searching]] + (rng.random(len(searching)) * items.sizes[leaf[searching]]).astype(np.int64)
    branded = rng.random(len(searching)) < 0.25
    query_index, query_texts = _queries(rng, items, leaf[searching], source, branded, language)
    clicked = rng.random(len(searching)) < 0.55
    result = np.where(branded & (rng.random(len(searching)) < 0.5), source, draw(searching))
    result = np.where(clicked, result, -1)
    # views (geometric count), some arriving by a click
    view_count = rng.geometric(0.45, sessions)
    view_session = np.repeat(np.arange(sessions), view_count)
    view_rank = np.arange(len(view_session)) - np.repeat(np.cumsum(view_count) - view_count, view_count)
    view_item = draw(view_session)
    via_click = rng.random(len(view_session)) < 0.3
    # distinct viewed items in first-view order; some go to the cart, fewer are bought
    seen_session = np.concatenate([searching[clicked], view_session])
    seen_item = np.concatenate([result[clicked], view_item])
    seen_order = np.concatenate([np.ones(int(clicked.sum()), dtype=np.int64), 3 + 2 * view_rank])
    by_pair = np.lexsort((seen_order, seen_item, seen_session))
    firsts = by_pair[np.r_[True, (np.diff(seen_session[by_pair]) != 0) | (np.diff(seen_item[by_pair]) != 0)]]
    carted = firsts[rng.random(len(firsts)) < 0.16]
    bought = carted[rng.random(len(carted)) < 0.55]

    parts = [  # (session, order in session, event, item, query)
        (searching, np.zeros(len(searching), np.int64), _SEARCH, result, query_index),
        (searching[clicked], np.ones(int(clicked.sum()), np.int64), _VIEW, result[clicked], None),
        (view_session[via_click], 2 + 2 * view_rank[via_click], _CLICK, view_item[via_click], None),
        (view_session, 3 + 2 * view_rank, _VIEW, view_item, None),
        (seen_session[carted], 1_000_000 + seen_order[carted], _CART, seen_item[carted], None),
        (seen_session[bought], 2_000_000 + seen_order[bought], _PURCHASE, seen_item[bought], None),
    ]
    session = np.concatenate([p[0] for p in parts])
    within = np.concatenate([p[1] for p in parts])
    kind = np.concatenate([np.full(len(p[0]), _EVENT_NAMES.index(p[2]), np.int8) for p in parts])
    item = np.concatenate([p[3] for p in parts])
    query = np.concatenate([p[4] if p[4] is not None else np.full(len(p[0]), -1, np.int64) for p in parts])
    del parts
    order = np.lexsort((within, session))
    session, kind, item, query = session[order], kind[order], item[order], query[order]
    steps = np.cumsum(rng.exponential(45.0, len(session)) + 1.0)
    session_start = np.flatnonzero(np.r_[True, np.diff(session) != 0])
    before = np.repeat(np.r_[0.0, steps[session_start[1:] - 1]], np.diff(np.r_[session_start, len(session)]))
    time = start[session] + steps - before
    order = np.argsort(time, kind="stable")  # the shop's log is in time order
    session, kind, item, query, time = session[order], kind[order], item[order], query[order], time[order]
    item_ids = pa.array(items.ids, pa.string())
    return pa.table({
        "user_id": pa.DictionaryArray.from_arrays(pa.array(user[session].astype(np.int32)),
                                                  pa.array(people.ids, pa.string())),
        "event": pa.DictionaryArray.from_arrays(pa.array(kind), pa.array(_EVENT_NAMES)),
        "timestamp": _iso_texts(time.astype(np.int64)),
        "item_id": pa.DictionaryArray.from_arrays(_indices(item), item_ids),
        "query": pa.DictionaryArray.from_arrays(_indices(query), pa.array(query_texts, pa.string())),
    })


def _indices(codes: np.ndarray) -> pa.Array:
    """Dictionary indices, null where the code is -1 (a valid index under the null, so no reader looks outside)."""
    return pa.array(np.maximum(codes, 0).astype(np.int32), mask=codes < 0)


def _iso_texts(seconds: np.ndarray) -> pa.Array:
    """``2025-01-01T10:00:00Z`` texts (as the row generator writes), joined from a day part and a
    time-of-day part looked up per distinct value: Arrow's own timestamp formatting is far slower."""
    from datetime import datetime, timezone

    day, second = np.divmod(seconds, 86400)
    days, day_index = np.unique(day, return_inverse=True)
    dates = pa.array([datetime.fromtimestamp(int(d) * 86400, tz=timezone.utc).strftime("%Y-%m-%d") for d in days])
    clock = pa.array([f"T{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}Z" for s in range(86400)])
    return pc.binary_join_element_wise(dates.take(pa.array(day_index)), clock.take(pa.array(second)), "")


def _queries(rng: np.random.Generator, items: _Items, leaf: np.ndarray, source: np.ndarray, branded: np.ndarray,
             language: _Language) -> tuple[np.ndarray, list[str]]:
    """Search texts as the row generator words them: one of the leaf's phrasings with the source item's
    adjective, maybe its brand first, sometimes a typo, sometimes Title or UPPER case. Returns an index
    into the distinct texts per search, and those texts."""
    leaves = _leaves(language.areas)
    count = len(leaf)
    choice = (rng.random(count) * 5).astype(np.int64)
    typo = rng.random(count) < 0.08
    variant = rng.random(count)
    case = np.where(variant < 0.1, 1, np.where(variant < 0.13, 2, 0))
    brand = np.where(branded, items.brand[source] + 1, 0)
    # index into every (leaf, adjective, phrasing, brand or none, case) text, built once
    key = (((leaf * 6 + items.adjective[source]) * 5 + choice) * 6 + brand) * 3 + case
    texts: list[str] = []
    for path_index, (area, path, noun, _, _) in enumerate(leaves):
        parts = path.split(" > ")
        for adjective in area.adjectives:
            for phrase in language.queries(parts, noun, adjective):
                for named in ("", *area.brands):
                    text = f"{named.lower()} {phrase}" if named else phrase
                    texts.extend((text, text.title(), text.upper()))
    if len(texts) != len(leaves) * 6 * 5 * 6 * 3:
        raise PersonaGraphError("the vectorised sample needs 6 adjectives, 5 brands and 5 phrasings per area")
    index = key.copy()
    for i in np.flatnonzero(typo).tolist():  # a typo is made before the case changes
        plain = texts[int(key[i]) - int(case[i])]
        wrong = _typo(rng, plain)
        wrong = wrong.title() if case[i] == 1 else wrong.upper() if case[i] == 2 else wrong
        index[i] = len(texts)
        texts.append(wrong)
    return index, texts


def _write_table(table: pa.Table, path: Path, fmt: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ITEM_COLUMNS if path.name.startswith("items") else EVENT_COLUMNS
    table = table.select(list(columns))
    if fmt == "parquet":
        # the query dictionary holds texts no row uses, which made the written pages differ run to run
        if "query" in table.column_names:
            table = table.set_column(table.column_names.index("query"), "query", table.column("query").cast(pa.string()))
        pq.write_table(table, path)
    elif fmt == "csv":
        plain = pa.table({name: _decoded(table.column(name)) for name in table.column_names})
        pacsv.write_csv(plain, path, write_options=pacsv.WriteOptions(quoting_style="needed"))
    else:
        with path.open("w", encoding="utf-8") as handle:
            for batch in table.to_batches(max_chunksize=1 << 16):
                handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in batch.to_pylist())
    return path


def _decoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        return pc.fill_null(column.cast(column.type.value_type), "")
    return column
