"""The readable tags a profile may carry, and which items and queries carry each tag.

Tags come from three sources: every level of an item's category path (``Tools > Power
Tools > Drills`` gives "Drills", "Power Tools" and "Tools"), its brand, and keywords of
item titles and query texts. A level that visibly glues several levels together (catalogues
whose paths lost their separators: "Radial Ball Bearings Deep Groove Ball Bearings") is split
back into readable levels by :func:`category_levels`, and text that is no category name at all
(a sentence, a list of pack sizes) is not a tag. Keywords are kept only when they are neither one-off nor
ubiquitous (document-frequency limits), so a tag says something about a user. Tags are
identified by a light normal form (lower case, plural ``s`` dropped), so the query word
"drill", the title word "drills" and the category "Drills" are one tag.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from personagraph.shop.shop_data import ShopData

#: Words that say nothing about an interest: English function words, shop filler, units.
STOP_WORDS: frozenset[str] = frozenset(
    """
    a about above after all also an and any are as at be been being best but by can
    could did do does each either for from get gets got had has have her his how if in
    into is it its just like made make may me more most my new no nor not of off on one
    only or other our out over per plus pro same she should so some such than that the
    their them then there these they this those through to too two three four five under
    up upon use used using very via was we were what when where which while who why will
    with within without would you your
    pack pcs piece pieces set sets kit lot item items count size sizes color colour colors
    black white grey gray large small medium mini xl xxl premium quality great original
    genuine official brand style type model series edition version value bulk assorted
    mm cm m km inch inches in ft feet foot yd yard yards oz ounce ounces lb lbs pound pounds
    g gr gram grams kg ml l liter litre liters litres gal gallon gallons qt pt mah
    v volt volts w watt watts kw a amp amps hz rpm psi mph ct cc x
    """.split()
)
#: A word pair is a tag only if it holds this share of its rarer word's occurrences.
MIN_PHRASE_SHARE = 0.3
#: Separator between the levels of a category path.
CATEGORY_SEPARATOR = ">"
#: A category level with more words than this is a sentence that slipped into the path, not a name.
MAX_LEVEL_WORDS = 8
#: Small words a category name may hold in lower case ("Paper and Film", "Tools for Wood").
_NAME_CONNECTORS = frozenset({"&", "and", "or", "of", "for", "with", "the", "to", "in", "a", "x", "-"})
#: Endings of words that describe rather than name (a level does not end on "Protective").
_MODIFIER_ENDINGS = ("ive", "ous", "ial", "ical", "able", "ible")
_TOKEN = re.compile(r"[a-z0-9]+")


def _singular(word: str) -> str:
    """A cheap plural folding so "drills" and "drill" meet; no stemming beyond that."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tag_key(label: str) -> str:
    """The identity of a tag: lower case, single spaces, each word folded to its singular."""
    return " ".join(_singular(w) for w in label.lower().split())


def keywords(text: str, bigrams: bool) -> list[str]:
    """Informative words of ``text`` in their tag-key form, plus adjacent pairs if ``bigrams``.

    Tokens with a digit (sizes, model numbers), shorter than three letters, or in
    :data:`STOP_WORDS` are dropped; a pair is formed only from words adjacent in the text.
    """
    tokens = _TOKEN.findall(text.lower())
    kept = [
        None if (len(t) < 3 or t in STOP_WORDS or any(c.isdigit() for c in t)) else _singular(t)
        for t in tokens
    ]
    words = [w for w in kept if w is not None]
    if bigrams:
        words += [f"{a} {b}" for a, b in zip(kept, kept[1:]) if a is not None and b is not None and a != b]
    return words


def category_levels(category: str) -> list[str]:
    """The readable levels of a category path, root first.

    The path is split at :data:`CATEGORY_SEPARATOR`; each level is then split where it glues
    several levels together (:func:`split_glued_level`). Text that is no category name (a
    sentence or a list of sizes: lower-case words) and pieces longer than
    :data:`MAX_LEVEL_WORDS` words are left out.
    """
    return [
        piece
        for level in category.split(CATEGORY_SEPARATOR)
        if _is_capitalised(level.split())
        for piece in split_glued_level(level)
        if len(piece.split()) <= MAX_LEVEL_WORDS
    ]


def split_glued_level(level: str) -> list[str]:
    """A level that holds several levels, split where the words say a new level starts.

    A new level starts after a plural noun followed by a capitalised word ("Radial Ball
    Bearings | Deep Groove Ball Bearings"), and where a word of the current level starts it
    again ("Pressure & Vacuum | Pressure & Vacuum Gauges"; "Apparel | Protective Apparel &
    Gloves" when the words before the repeat would end on a modifier). Words joined by "&"
    or a comma are never split apart.
    """
    tokens = level.split()
    pieces: list[list[str]] = [[]]
    for n, token in enumerate(tokens):
        if n and _can_split(tokens, n) and _is_plural(tokens[n - 1]) and token[:1].isupper():
            pieces.append([])
        pieces[-1].append(token)
    return [" ".join(part) for piece in pieces for part in _split_at_repeat(piece)]


def _can_split(tokens: list[str], n: int) -> bool:
    """Whether a level may end before ``tokens[n]``: not inside "A & B" or "A, B"."""
    return tokens[n - 1] not in _NAME_CONNECTORS and not tokens[n - 1].endswith(",") and tokens[n] not in _NAME_CONNECTORS


def _is_plural(word: str) -> bool:
    return len(word) > 3 and word.isalpha() and word.endswith("s") and not word.endswith(("ss", "us", "is"))


def _split_at_repeat(tokens: list[str]) -> list[list[str]]:
    """Split before the first word that repeats a word of its level (see :func:`split_glued_level`)."""
    seen: dict[str, int] = {}
    for n, token in enumerate(tokens):
        key = _singular(token.lower())
        first = seen.get(key)
        # "Draw Latches & Tension Latches" is one level naming two kinds of latches.
        pair_of_kinds = first is not None and n == len(tokens) - 1 and tokens[first + 1:first + 2] == ["&"]
        if first is not None and _can_split(tokens, n) and key.isalpha() and not pair_of_kinds:
            if tokens[n - 1].lower().endswith(_MODIFIER_ENDINGS) and first + 1 < n and _can_split(tokens, first + 1):
                n = first + 1  # "Apparel Protective Apparel & Gloves": the modifier starts the next level
            return [tokens[:n], *_split_at_repeat(tokens[n:])]
        seen.setdefault(key, n)
    return [tokens] if tokens else []


def _is_capitalised(words: list[str]) -> bool:
    """Whether the words read as a name ("Lab Supplies & Consumables"), not as a sentence."""
    return bool(words) and all(
        w[:1].isupper() or w[:1].isdigit() or w.lower() in _NAME_CONNECTORS or not w[:1].isalpha() for w in words
    )


@dataclass
class TagVocabulary:
    """Tag labels and the sparse item/query → tag matrices that every tag weighting reads.

    ``item_tags[i, t]`` is how strongly item ``i`` carries tag ``t``: 1 for its leaf
    category, brand and title keywords, ``parent_weight ** depth`` for the ancestors of its
    leaf (so broad parents, which every child feeds, do not drown the leaves).
    ``query_tags[q, t]`` is 1 for the keywords of query ``q``. ``item_leaf[i]`` is the tag of
    item ``i``'s leaf category, -1 when it has none.
    """

    labels: list[str]
    kinds: list[str]  # "category", "brand" or "keyword", per tag
    item_tags: sp.csr_matrix  # float32 [num_items, num_tags]
    query_tags: sp.csr_matrix  # float32 [num_queries, num_tags]
    item_leaf: np.ndarray  # int64 [num_items]

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def from_shop(
        cls,
        shop: ShopData,
        *,
        min_count: int = 5,
        max_keyword_share: float = 0.05,
        max_category_share: float = 0.5,
        max_keywords: int = 3000,
        bigrams: bool = True,
        parent_weight: float = 0.5,
        brands: bool = True,
    ) -> "TagVocabulary":
        """Build the vocabulary of a shop.

        Args:
            min_count: a keyword must occur in at least this many titles + queries.
            max_keyword_share: a keyword in more than this share of titles + queries is dropped.
            max_category_share: a category level holding more than this share of the items
                (a root such as "All products") is dropped.
            max_keywords: keep at most this many keywords, the most frequent first.
            bigrams: also consider pairs of adjacent words (kept under the same limits).
            parent_weight: weight of a category's parent relative to the category.
            brands: make brands tags too (they read well in segment names).
        """
        catalog, events = shop.catalog, shop.events
        num_items, num_queries = len(catalog), len(events.query_texts)
        labels: list[str] = []
        kinds: list[str] = []
        index: dict[str, int] = {}

        def tag_id(label: str, kind: str) -> int:
            key = tag_key(label)
            if key not in index:
                index[key] = len(labels)
                labels.append(label)
                kinds.append(kind)
            return index[key]

        item_paths = [category_levels(category) for category in catalog.categories]
        level_items = Counter(tag_key(level) for path in item_paths for level in set(path))
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        item_leaf = np.full(num_items, -1, dtype=np.int64)
        for i, path in enumerate(item_paths):
            for depth, level in enumerate(reversed(path)):
                if level_items[tag_key(level)] > max_category_share * num_items:
                    continue
                t = tag_id(level, "category")
                if depth == 0:
                    item_leaf[i] = t
                rows.append(i), cols.append(t), vals.append(parent_weight**depth)
        if brands:
            for i, brand in enumerate(catalog.brands):
                if brand and brand.strip():
                    rows.append(i), cols.append(tag_id(" ".join(brand.split()), "brand")), vals.append(1.0)

        brand_keys = {key for key, t in index.items() if kinds[t] == "brand"}
        documents = [set(keywords(t, bigrams)) for t in catalog.titles]
        documents += [set(keywords(q, bigrams)) for q in events.query_texts]
        frequency = Counter(w for doc in documents for w in doc)
        ceiling = max_keyword_share * max(len(documents), 1)
        candidates = [
            w
            for w, n in frequency.items()
            if min_count <= n <= ceiling and w not in index and _is_phrase(w, frequency, brand_keys)
        ]
        allowed = set(sorted(candidates, key=lambda w: (-frequency[w], w))[:max_keywords])
        doc_rows: list[int] = []
        doc_cols: list[int] = []
        for d, doc in enumerate(documents):
            for w in sorted(doc):
                if w in index or w in allowed:
                    doc_rows.append(d), doc_cols.append(tag_id(w, "keyword"))

        num_tags = len(labels)
        doc_rows_arr = np.asarray(doc_rows, dtype=np.int64)
        is_title = doc_rows_arr < num_items
        item_tags = _max_merge(
            np.concatenate([rows, doc_rows_arr[is_title]]).astype(np.int64),
            np.concatenate([cols, np.asarray(doc_cols, dtype=np.int64)[is_title]]).astype(np.int64),
            np.concatenate([vals, np.ones(int(is_title.sum()))]),
            (num_items, num_tags),
        )
        query_tags = _max_merge(
            doc_rows_arr[~is_title] - num_items,
            np.asarray(doc_cols, dtype=np.int64)[~is_title],
            np.ones(int((~is_title).sum())),
            (num_queries, num_tags),
        )
        return cls(labels=labels, kinds=kinds, item_tags=item_tags, query_tags=query_tags, item_leaf=item_leaf)

    def tag_vectors(self, item_vectors: np.ndarray, prior_items: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
        """Each tag as the weighted mean of the vectors of the items carrying it, shrunk to the mean item.

        With dot-product scores, ``user · tag_vector`` is then the user's mean model score
        over the tag's items. The mean is taken as if ``prior_items`` average items were
        added: a tag with few items has a noisy mean whose extreme dot products would
        otherwise outrank well-supported tags. Returns ``(vectors [num_tags, d],
        has_items [num_tags] bool)``; tags seen only in queries have no items.
        """
        totals = np.asarray(self.item_tags.sum(axis=0)).ravel()
        has_items = totals > 0
        sums = np.asarray(self.item_tags.T @ item_vectors, dtype=np.float64)
        mean_item = np.asarray(item_vectors, dtype=np.float64).mean(axis=0)
        vectors = (sums + prior_items * mean_item) / np.maximum(totals + prior_items, 1e-12)[:, None]
        return vectors.astype(np.float32), has_items


def _is_phrase(keyword: str, frequency: Counter, brand_keys: set[str]) -> bool:
    """Single words always qualify; a pair only when it holds no brand (a brand next to an
    adjective is no interest) and accounts for at least :data:`MIN_PHRASE_SHARE` of its
    rarer word's occurrences (a collocation such as "wall charger", not chance)."""
    words = keyword.split()
    if len(words) == 1:
        return True
    if any(w in brand_keys for w in words):
        return False
    return frequency[keyword] >= MIN_PHRASE_SHARE * min(frequency[w] for w in words)


def _max_merge(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """A CSR matrix where a (row, col) given several times keeps its largest value, not the sum."""
    if rows.size == 0:
        return sp.csr_matrix(shape, dtype=np.float32)
    order = np.lexsort((-vals, cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    first = np.ones(rows.size, dtype=bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    return sp.csr_matrix((vals[first].astype(np.float32), (rows[first], cols[first])), shape=shape)
