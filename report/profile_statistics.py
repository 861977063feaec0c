"""Segment and tag counts over the stored profiles, for the report's tables and charts."""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class SegmentSummary:
    """One segment: its size and the tags most often among its members' top tags."""

    id: int
    name: str
    users: int
    top_tags: list[str]


def segment_summaries(segments: Sequence[int], names: Sequence[str], top_tags: Sequence[Sequence[str] | None],
                      tags_per_segment: int = 5) -> list[SegmentSummary]:
    """Every segment with at least one user, largest first."""
    sizes: Counter[int] = Counter()
    tag_counts: dict[int, Counter[str]] = {}
    segment_names: dict[int, str] = {}
    for segment, name, tags in zip(segments, names, top_tags):
        sizes[segment] += 1
        segment_names.setdefault(segment, name)
        tag_counts.setdefault(segment, Counter()).update(tags or ())
    return [SegmentSummary(id=int(segment), name=segment_names[segment], users=size,
                           top_tags=[tag for tag, _ in tag_counts[segment].most_common(tags_per_segment)])
            for segment, size in sorted(sizes.items(), key=lambda item: (-item[1], item[0]))]


def tag_frequency(top_tags: Sequence[Sequence[str] | None], limit: int = 30) -> list[tuple[str, int]]:
    """The ``limit`` tags most users have among their top tags, with those users' number."""
    counts: Counter[str] = Counter(tag for tags in top_tags for tag in (tags or ()))
    return counts.most_common(limit)
