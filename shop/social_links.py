"""The shop's user–user links (follows, friendships, shares, referrals) as parallel arrays.

A shop that knows who follows, befriends or invites whom hands them in an optional third
table, ``social``. Links point at users of the event log (both ends must have events), so a
link's ends are plain user indices and every downstream stage (graph, social features, the
social mix of profile vectors, the store) reads the same arrays. Relations are free text,
normalised (lower case, runs of spaces and hyphens as one ``_``) and coded by their sorted names.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import scipy.sparse as sp

_SEPARATORS = re.compile(r"[\s\-]+")


def normalise_relation(text: str) -> str:
    """``"Shared With"`` and ``"shared-with"`` are the relation ``shared_with``."""
    return _SEPARATORS.sub("_", text.strip().lower()).strip("_")


@dataclass
class SocialLinks:
    """Directed links ``user[i] -> other[i]`` of kind ``relation_names[relation[i]]``.

    ``timestamp`` is epoch seconds, NaN where the row gave none. A friendship given in both
    directions is two links; for profiles every link counts in both directions
    (:meth:`adjacency`), since a tie says something about both ends.
    """

    user: np.ndarray  # int64 [L]
    other: np.ndarray  # int64 [L]
    relation: np.ndarray  # int16 [L], index into relation_names
    relation_names: list[str]
    timestamp: np.ndarray  # float64 [L], NaN = unknown

    def __post_init__(self) -> None:
        self.user = np.asarray(self.user, dtype=np.int64)
        self.other = np.asarray(self.other, dtype=np.int64)
        self.relation = np.asarray(self.relation, dtype=np.int16)
        self.timestamp = np.asarray(self.timestamp, dtype=np.float64)

    @classmethod
    def empty(cls) -> "SocialLinks":
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int16), [], np.zeros(0))

    @classmethod
    def from_named(cls, user: np.ndarray, other: np.ndarray, relations: list[str],
                   timestamp: np.ndarray | None = None) -> "SocialLinks":
        """Links from per-link relation names (normalised here), sorted by (user, other, relation)."""
        names = [normalise_relation(name) for name in relations]
        relation_names = sorted(set(names))
        code = {name: i for i, name in enumerate(relation_names)}
        relation = np.fromiter((code[name] for name in names), dtype=np.int16, count=len(names))
        user, other = np.asarray(user, dtype=np.int64), np.asarray(other, dtype=np.int64)
        timestamp = np.full(len(names), np.nan) if timestamp is None else np.asarray(timestamp, dtype=np.float64)
        order = np.lexsort((relation, other, user))
        return cls(user[order], other[order], relation[order], relation_names, timestamp[order])

    def __len__(self) -> int:
        return int(self.user.shape[0])

    def adjacency(self, num_users: int) -> sp.csr_matrix:
        """``[num_users, num_users]`` 0/1, symmetric: u and v are linked by any relation, either way."""
        rows = np.concatenate([self.user, self.other])
        columns = np.concatenate([self.other, self.user])
        matrix = sp.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, columns)), shape=(num_users, num_users))
        matrix.data[:] = 1.0  # duplicates summed above; a tie is a tie
        return matrix

    def neighbours(self, users: np.ndarray, num_users: int) -> np.ndarray:
        """Sorted indices of everybody linked to one of ``users`` (either direction), ``users`` excluded."""
        users = np.asarray(users, dtype=np.int64)
        if not len(self) or not users.size:
            return np.zeros(0, dtype=np.int64)
        mine = np.zeros(num_users, dtype=bool)
        mine[users] = True
        found = np.concatenate([self.other[mine[self.user]], self.user[mine[self.other]]])
        return np.setdiff1d(np.unique(found), users)

    def rows(self, user_ids: list[str]) -> list[dict[str, object]]:
        """Links as ``{start, end, relation, since}`` rows by user id (``since``, a UTC datetime, only when known)."""
        rows = []
        for u, v, r, ts in zip(self.user.tolist(), self.other.tolist(), self.relation.tolist(), self.timestamp.tolist()):
            row: dict[str, object] = {"start": user_ids[u], "end": user_ids[v], "relation": self.relation_names[r]}
            if not math.isnan(ts):
                row["since"] = datetime.fromtimestamp(ts, tz=timezone.utc)
            rows.append(row)
        return rows
