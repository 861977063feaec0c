"""Readable, unique segment names made from each segment's top tags."""
from __future__ import annotations

from collections.abc import Sequence

from personagraph.profiles.tag_vocabulary import tag_key

#: Joins the tags of a name: "Drills · Sanding · Makita".
NAME_SEPARATOR = " · "


def segment_names(top_tags: Sequence[Sequence[str]]) -> list[str]:
    """One name per segment from its top tag labels (best first), unique across segments.

    Tags that repeat each other's words are merged first, keeping the most specific ("Mat",
    "Yoga", "Yoga Mats" → "Yoga Mats"). A name is the first two remaining tags; when that is
    taken by an earlier segment, the first three; when that is taken too, the three plus the
    segment's number. A segment without
    tags is "Segment <number>" (numbers count from 1 in the given order).
    """
    names: list[str] = []
    used: set[str] = set()
    for number, labels in enumerate(top_tags, start=1):
        readable = [label[:1].upper() + label[1:] for label in _without_overlap(labels)]
        candidates = [NAME_SEPARATOR.join(readable[:n]) for n in (2, 3)] if readable else []
        name = next((c for c in candidates if c not in used), None)
        if name is None:
            name = f"{candidates[-1]} ({number})" if candidates else f"Segment {number}"
        while name in used:  # a tag label that itself looks like a numbered name
            name += f" ({number})"
        used.add(name)
        names.append(name)
    return names


def _without_overlap(labels: Sequence[str]) -> list[str]:
    """The labels, in order, with no two sharing a word: a label that contains the words of
    the kept labels it overlaps replaces them ("Mat", "Yoga", "Yoga Mats" gives "Yoga Mats");
    one that overlaps only partly is skipped."""
    kept: list[tuple[str, set[str]]] = []
    for label in labels:
        words = set(tag_key(label).split())
        overlapping = [i for i, (_, other) in enumerate(kept) if other & words]
        if not words or any(not kept[i][1] <= words for i in overlapping):
            continue
        if overlapping:
            kept[overlapping[0]] = (label, words)
            kept = [entry for i, entry in enumerate(kept) if i not in overlapping[1:]]
        else:
            kept.append((label, words))
    return [label for label, _ in kept]
