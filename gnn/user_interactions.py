"""A user's outgoing edges of every type as one flat table, sorted by user.

The profile model builds a user only from these edges, so training can hide a target
item (and everything after it) from a user by selecting rows, and any graph in the
contract format, with users the model never saw, is profiled the same way.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, fields
from typing import Any

import scipy.sparse as sp
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from personagraph.graph.item_neighbours import recency_weighted
from personagraph.shop.schema import USER, schema_attributes, shop_schema

#: ``USER_EDGE_TYPES``: the schema's user-side edge types; an edge type's index is the code the model
#: learns a weight for. ``ITEM_EDGE_CODES``: the codes of those that end at an item (the rest end at a query).
__getattr__ = schema_attributes(__name__, USER_EDGE_TYPES="user_edge_types", ITEM_EDGE_CODES="item_event_codes")


@dataclass
class UserInteractions:
    """Parallel edge arrays sorted by ``user``: ``node`` is an item or query index (see ``kind``)."""

    user: Tensor  # long [E]
    kind: Tensor  # long [E], index into the schema's user_edge_types
    node: Tensor  # long [E], item index or query index
    count: Tensor  # float [E], number of events behind the edge
    last_ts: Tensor  # float64 [E], epoch seconds of the latest event
    num_users: int

    @classmethod
    def from_graph(cls, data: HeteroData) -> "UserInteractions":
        """Collect the user-side edges of a graph; missing edge types count as empty."""
        parts: dict[str, list[Tensor]] = {"user": [], "kind": [], "node": [], "count": [], "last_ts": []}
        for code, edge_type in enumerate(shop_schema().user_edge_types):
            if edge_type not in data.edge_types:
                continue
            store = data[edge_type]
            num_edges = store.edge_index.shape[1]
            parts["user"].append(store.edge_index[0])
            parts["node"].append(store.edge_index[1])
            parts["kind"].append(torch.full((num_edges,), code, dtype=torch.long))
            parts["count"].append(_edge_attr(store, "count", num_edges, 1.0, torch.float32))
            parts["last_ts"].append(_edge_attr(store, "last_ts", num_edges, 0.0, torch.float64))
        empty = {"user": torch.long, "kind": torch.long, "node": torch.long,
                 "count": torch.float32, "last_ts": torch.float64}
        columns = {name: torch.cat(parts[name]) if parts[name] else torch.empty(0, dtype=empty[name]) for name in parts}
        order = torch.argsort(columns["user"], stable=True)
        return cls(num_users=int(data[USER].num_nodes), **{name: col[order] for name, col in columns.items()})

    def __post_init__(self) -> None:
        self._memo: dict[Hashable, Any] = {}

    def __len__(self) -> int:
        return int(self.user.numel())

    def memo(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """``build()``, computed once per table: operators derived from the edges (e.g. the model's
        propagation matrices) are reused by every step that passes the same table. Tables are
        never modified in place (:meth:`select` and :meth:`rows_of` make new ones)."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    def select(self, mask: Tensor) -> "UserInteractions":
        """The rows where ``mask`` is true (or the rows at the given indices), still sorted by user."""
        columns = {f.name: getattr(self, f.name)[mask] for f in fields(self) if f.name != "num_users"}
        return UserInteractions(num_users=self.num_users, **columns)

    def is_item(self) -> Tensor:
        """Which rows end at an item (as opposed to a query)."""
        return torch.isin(self.kind, torch.tensor(shop_schema().item_event_codes))

    def indptr(self) -> Tensor:
        """CSR row pointer over users: rows of user ``u`` are ``indptr[u]:indptr[u + 1]``."""
        indptr = torch.zeros(self.num_users + 1, dtype=torch.long)
        indptr[1:] = torch.cumsum(torch.bincount(self.user, minlength=self.num_users), 0)
        return indptr

    def rows_of(self, users: Tensor, indptr: Tensor) -> "UserInteractions":
        """Only the rows of ``users`` (in that order), renumbered so that ``users[i]`` is user ``i``.

        ``indptr`` is :meth:`indptr` (computed once by the caller); the rows are gathered through
        it, so the cost is that of the rows returned, not of the whole table (what keeps a
        training step proportional to its batch).
        """
        starts = indptr[users]
        lengths = indptr[users + 1] - starts
        offsets = torch.cumsum(lengths, 0) - lengths
        rows = torch.repeat_interleave(starts - offsets, lengths) + torch.arange(int(lengths.sum()))
        columns = {f.name: getattr(self, f.name)[rows] for f in fields(self) if f.name not in ("user", "num_users")}
        local_user = torch.repeat_interleave(torch.arange(users.numel()), lengths)
        return UserInteractions(user=local_user, num_users=int(users.numel()), **columns)

    def item_matrix(self, num_items: int, recency_decay: float = 1.0) -> sp.csr_matrix:
        """Users x items of the item edges, a user's k-th newest item weighing ``recency_decay ** k``
        (:func:`~personagraph.graph.item_neighbours.recency_weighted`)."""
        items = self.is_item()
        return recency_weighted(self.user[items].numpy(), self.node[items].numpy(), self.last_ts[items].numpy(),
                                (self.num_users, num_items), recency_decay)

    def item_history(self) -> Tensor:
        """``[2, E]`` (user, item) pairs of all item edges, the items to exclude from a user's ranking."""
        items = self.is_item()
        return torch.stack([self.user[items], self.node[items]])


def _edge_attr(store, name: str, num_edges: int, default: float, dtype: torch.dtype) -> Tensor:
    value = getattr(store, name, None)
    return torch.full((num_edges,), default, dtype=dtype) if value is None else value.to(dtype)
