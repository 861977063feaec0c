"""Why a user's profile vector points where it does: the items and queries that shaped it.

The profile model builds a user as ``v = p + W p + b`` with ``p = Σ_e a_e n_e``, where
``a_e`` is the softmax attention of the user's edge ``e`` (from its type, recency, age and
count) and ``n_e`` the state of the item or query at its other end; the profile is
``û = v / |v|``. The explainer takes ``v`` and ``a_e`` from the model's own pooling
(:meth:`ProfileModel.pool`), and ``n_e`` and the output layer from the model too. Because
the attention sums to 1 per user, ``v = Σ_e a_e (n_e + W n_e + b)`` exactly, so each edge's
*contribution* along the profile

    c_e = a_e · ⟨n_e + W n_e + b, û⟩,      Σ_e c_e = |v|,

splits the profile's length among the edges without remainder. An edge's score is its
share ``c_e / |v|``: attention (how much the model listened to the edge) times alignment
(how much of what the edge says ends up in the profile's direction). Shares sum to 1 over
a user's edges; a negative share is an edge the rest of the history outweighs. Edges to the
same item (a view and a purchase of it) are summed into one piece of evidence.
"""
from __future__ import annotations

from typing import NamedTuple

from dataclasses import replace

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from personagraph.errors import PersonaGraphError
from personagraph.gnn.profile_model import ProfileModel
from personagraph.gnn.user_interactions import UserInteractions
from personagraph.shop.schema import shop_schema
from personagraph.profiles.profile_space import ProfileSpace


class Evidence(NamedTuple):
    """One item or query behind a profile: the edges to it and their summed attention and share.

    ``alignment`` is the cosine between the node's transformed vector and the profile
    (attention-weighted over the node's edges); ``score`` is the node's share of the profile.
    """

    node_type: str  # "item" or "query"
    index: int  # item index in the catalogue, or query index in ``query_texts``
    edges: tuple[str, ...]  # edge relations, e.g. ("view", "purchase")
    attention: float
    alignment: float
    score: float


class ProfileExplainer:
    """Explains the profiles a trained :class:`ProfileModel` computes from ``graph``.

    Item and query vectors are computed once, so explaining many users is cheap. Given the
    run's :class:`ProfileSpace`, its frozen states are used, exactly as the stored profiles were
    pooled (also after `personagraph update`); otherwise they are computed from ``graph``.
    """

    def __init__(self, model: ProfileModel, graph: HeteroData, space: ProfileSpace | None = None) -> None:
        self.model = model.eval()
        self.interactions = UserInteractions.from_graph(graph)
        self._indptr = self.interactions.indptr()
        if space is not None:
            self._item, self._query = space.item_states, space.query_states
            return
        with torch.no_grad():
            self._item = model.item_states(graph, self.interactions)
            self._query = model.query_states(graph, self._item)

    @property
    def num_users(self) -> int:
        return self.interactions.num_users

    def vector(self, user: int) -> np.ndarray:
        """The user's unit profile vector, from the same decomposition the evidence uses."""
        contributions, _, edges = self._decompose(user)
        if edges.numel():
            return contributions.sum(dim=0).numpy()
        # Nothing to decompose: the model's profile of a user without edges.
        own = self._one_user(edges)
        with torch.no_grad():
            return self.model.user_vectors(own, self.model.pool(own, self._item, self._query))[0].numpy()

    def explain(self, user: int, top: int | None = None) -> list[Evidence]:
        """The user's items and queries by share of the profile, largest first (``top`` of them)."""
        contributions, attention, edges = self._decompose(user)
        if edges.numel() == 0:
            return []
        direction = _unit(contributions.sum(dim=0))
        share = contributions @ direction / (contributions.sum(dim=0) @ direction)
        cosine = (contributions @ direction) / contributions.norm(dim=1).clamp(min=1e-12)
        is_item = self.interactions.is_item()[edges]
        nodes: dict[tuple[str, int], list[int]] = {}
        for row, edge in enumerate(edges.tolist()):
            key = ("item" if is_item[row] else "query", int(self.interactions.node[edge]))
            nodes.setdefault(key, []).append(row)
        evidence = []
        for (node_type, index), rows in nodes.items():
            weight = attention[rows]
            evidence.append(Evidence(
                node_type=node_type,
                index=index,
                edges=tuple(shop_schema().event_names[int(self.interactions.kind[edges[r]])] for r in rows),
                attention=float(weight.sum()),
                alignment=float((weight * cosine[rows]).sum() / weight.sum().clamp(min=1e-12)),
                score=float(share[rows].sum()),
            ))
        evidence.sort(key=lambda e: (-e.score, e.node_type, e.index))
        return evidence if top is None else evidence[:top]

    def _decompose(self, user: int) -> tuple[Tensor, Tensor, Tensor]:
        """Per edge of ``user``: its contribution to the profile vector, ``a_e``, and the edge rows.

        The GNN part of a contribution is ``a_e (n_e + W n_e + b)`` (the output layer is
        affine and the attention sums to 1, so these sum to the pooled state ``v``), the
        spectral part the edge's basis row; each part is divided by its user total's norm and
        the parts are joined as the model joins them, so the contributions sum to the profile vector.
        """
        edges = self._edge_rows(user)
        own = self._one_user(edges)
        model = self.model
        with torch.no_grad():
            pooling = model.pool(own, self._item, self._query)
            attention = pooling.attention
            contributions = attention.unsqueeze(1) * model.user_output(model.edge_states(own, self._item, self._query))
            contributions = contributions / pooling.state[0].norm().clamp(min=1e-12)
            if model.spectral is not None:
                structure = model.spectral.edge_rows(own, attention)
                structure = structure / structure.sum(dim=0).norm().clamp(min=1e-12)
                contributions = model.join_user_parts(contributions, structure)
        return contributions, attention, edges

    def _edge_rows(self, user: int) -> Tensor:
        """The rows of ``user``'s edges in :attr:`interactions`."""
        if not 0 <= user < self.num_users:
            raise PersonaGraphError(f"user index {user} is out of range (the graph has {self.num_users} users)")
        return torch.arange(int(self._indptr[user]), int(self._indptr[user + 1]))

    def _one_user(self, edges: Tensor) -> UserInteractions:
        """One user's edges (rows of :attr:`interactions`) as the interactions of a one-user graph.

        Pooling sizes its outputs by the number of users, so explaining one user stays cheap.
        """
        own = self.interactions.select(edges)
        return replace(own, user=torch.zeros_like(own.user), num_users=1)


def _unit(vector: Tensor) -> Tensor:
    return torch.nn.functional.normalize(vector, dim=-1)
