"""One user segment as it is shown and stored: id, readable name, size and top tags."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Segment:
    """A group of users with similar profile vectors.

    ``top_tags`` are ``(label, mean weight among the members)``, ordered by that mean times its
    lift over all users, so they are both strong in the group and what sets it apart.
    """

    id: int
    name: str
    size: int
    top_tags: list[tuple[str, float]]
