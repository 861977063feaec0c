"""The heterogeneous GNN that turns a user's interactions into a profile vector.

Item vectors start from the item text (or, in ID-only shops, a learned ID vector) and
take in, by mean message passing over the graph, what their categories share, the
items bought together with them (item -> user -> item) and the items users touched
just before and just after them. Queries are their text plus the items they lead to.
A user is the attention-weighted mean of the items and queries they touched, where an
edge's weight is learned from its type, its recency rank among the user's edges, its
age and its event count. There is no free per-user parameter, so a user that arrives
later, or has new events, is profiled by the same trained weights without retraining,
and a new item is embedded from its text and whatever edges it already has.

Beside the GNN part, a profile can carry a training-free structural part
(:class:`~personagraph.gnn.spectral_filter.SpectralFilter`) pooled with the same weights;
``spectral_mix`` (chosen on validation after training) says how much each part counts.
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from torch_geometric.utils import scatter, softmax

from personagraph.gnn.sparse_operator import SparseOperator
from personagraph.gnn.spectral_filter import SpectralFilter
from personagraph.gnn.train_config import (ITEM_DEGREE_EXPONENT, SPECTRAL_POWER, SPECTRAL_RIDGE, USER_DEGREE_EXPONENT,
                                           default_dim)
from personagraph.gnn.user_interactions import UserInteractions
from personagraph.shop.schema import IN_CATEGORY, LEADS_TO, shop_schema

#: Recency ranks 0..7 get a weight each, later ranks share one per doubling, up to this many buckets.
NUM_RANK_BUCKETS = 12
SECONDS_PER_DAY = 86_400.0
CATEGORY_EDGE = IN_CATEGORY.edge_type
QUERY_EDGE = LEADS_TO.edge_type


class UserPooling(NamedTuple):
    """Users pooled from their edges: what :meth:`ProfileModel.pool` returns."""

    state: Tensor  # [num_users, dim], unnormalised GNN state of each user
    attention: Tensor  # [num_edges], each edge's weight; sums to 1 over a user's edges


class ProfileOutput(NamedTuple):
    """Everything a graph's profiles are made of: what ``ProfileModel(data)`` returns."""

    user_vectors: Tensor  # [num_users, out_dim], unit length
    item_vectors: Tensor  # [num_items, out_dim], unit length
    item_states: Tensor  # [num_items, dim], unnormalised
    query_states: Tensor  # [num_queries, dim], unnormalised
    attention: Tensor  # [num_edges] of the user edges pooled, as in UserPooling


class ProfileModel(nn.Module):
    """User and item vectors in one space; a user's score for an item is their dot product.

    The vectors are ``dim`` wide, or ``dim + spectral_dim + 1`` with a spectral filter: a user
    is ``[sqrt(1 - mix) * gnn, sqrt(mix) * spectral, 0]`` with unit-length parts, an item
    ``[sqrt(1 - mix) * gnn, sqrt(mix) * spectral, pad] / bound``, so a score is
    ``((1 - mix) * gnn score + mix * spectral score) / bound``. The spectral item part is not
    unit-length (its length carries popularity); ``pad`` lifts every item to length ``bound``
    and the division makes it 1. Users and items therefore stay unit vectors, so cosine
    (what Neo4j's vector index compares) ranks exactly as the model's dot product does.

    The contract the trainer, the profile space and the explainer use:

    * *States*, ``dim`` wide and unnormalised: :meth:`item_states`, :meth:`query_states`, and
      :meth:`pool`, the attention pooling of users' edges over given states, which returns each
      user's state and each edge's attention weight (:class:`UserPooling`). Training optimises
      the cosine of user and item states; the explainer splits a user's state by the weights.
    * *Vectors*, ``out_dim`` wide and unit length (what is stored, scored and compared):
      :meth:`item_vectors` and :meth:`user_vectors` turn states into them. ``model(data)``
      computes all of a graph's states and vectors in one pass (:class:`ProfileOutput`);
      :meth:`user_embeddings` and :meth:`item_embeddings` give its user or item vectors.

    Args:
        dim: profile dimension.
        item_text_dim: width of ``data['item'].x``; ``None`` for ID-only shops.
        query_text_dim: width of ``data['query'].x``; ``None`` when queries have no text.
        num_known_items: items ``0..num_known_items-1`` get a learned ID vector
            (``0`` turns ID vectors off); later item indices are cold-start items.
        dropout: dropout on item inputs while training.
        spectral_items, spectral_dim: shape of the spectral filter's basis (``0`` = none).
        user_degree_exponent, item_degree_exponent, spectral_power, spectral_ridge: the spectral
            filter's shape (its ``degree_exponent``, ``item_degree_exponent``, ``power`` and ``ridge``).
        num_edge_types: user edge types the model learns an attention weight for (``None``: those
            of the shop schema in use); a checkpoint keeps the number it was trained with.
    """

    def __init__(
        self,
        dim: int = 64,
        item_text_dim: int | None = None,
        query_text_dim: int | None = None,
        num_known_items: int = 0,
        dropout: float = 0.1,
        spectral_items: int = 0,
        spectral_dim: int = 0,
        user_degree_exponent: float = USER_DEGREE_EXPONENT,
        num_edge_types: int | None = None,
        item_degree_exponent: float = ITEM_DEGREE_EXPONENT,
        spectral_power: float = SPECTRAL_POWER,
        spectral_ridge: float = SPECTRAL_RIDGE,
    ) -> None:
        super().__init__()
        num_edge_types = len(shop_schema().user_edge_types) if num_edge_types is None else num_edge_types
        self.hparams: dict[str, Any] = {
            "dim": dim, "item_text_dim": item_text_dim, "query_text_dim": query_text_dim,
            "num_known_items": num_known_items, "dropout": dropout,
            "spectral_items": spectral_items, "spectral_dim": spectral_dim,
            "user_degree_exponent": float(user_degree_exponent), "num_edge_types": num_edge_types,
            "item_degree_exponent": float(item_degree_exponent), "spectral_power": float(spectral_power),
            "spectral_ridge": float(spectral_ridge),
        }
        self.dim = dim
        self.num_known_items = num_known_items
        self.item_text = nn.Linear(item_text_dim, dim) if item_text_dim else None
        self.query_text = nn.Linear(query_text_dim, dim) if query_text_dim else None
        self.item_id = nn.Embedding(num_known_items, dim) if num_known_items else None
        if self.item_id is not None:
            nn.init.normal_(self.item_id.weight, std=0.1 if item_text_dim else 1.0 / math.sqrt(dim))
        self.category = nn.Linear(dim, dim, bias=False)
        self.co_occurrence = nn.Linear(dim, dim, bias=False)
        self.previous = nn.Linear(dim, dim, bias=False)
        self.following = nn.Linear(dim, dim, bias=False)
        self.unknown_item = nn.Parameter(torch.zeros(dim))
        self.dropout = nn.Dropout(dropout)
        # Attention logit of a user edge: type + recency rank + log-age + log-count.
        self.type_logit = nn.Parameter(torch.zeros(num_edge_types))
        self.rank_logit = nn.Parameter(-0.3 * torch.arange(NUM_RANK_BUCKETS, dtype=torch.float))
        self.age_decay = nn.Parameter(torch.zeros(()))
        self.count_weight = nn.Parameter(torch.zeros(()))
        self.user_out = nn.Linear(dim, dim)
        nn.init.zeros_(self.user_out.weight)
        nn.init.zeros_(self.user_out.bias)
        self.spectral = (SpectralFilter(spectral_items, spectral_dim, user_degree_exponent, item_degree_exponent,
                                        spectral_power, spectral_ridge) if spectral_dim else None)
        self.register_buffer("spectral_mix", torch.zeros(()))
        self.register_buffer("spectral_bound", torch.ones(()))

    @classmethod
    def from_graph(cls, data: HeteroData, dim: int | None = None, use_item_ids: bool | None = None,
                   dropout: float = 0.1, spectral_dim: int | None = 0, seed: int = 0,
                   user_degree_exponent: float = USER_DEGREE_EXPONENT,
                   item_degree_exponent: float = ITEM_DEGREE_EXPONENT,
                   spectral_power: float = SPECTRAL_POWER,
                   spectral_ridge: float = SPECTRAL_RIDGE) -> "ProfileModel":
        """A model sized for a training graph: its text widths and its items as the known ones.

        ``dim=None``: :func:`~personagraph.gnn.train_config.default_dim` for the graph's users and text.
        ``use_item_ids=None`` learns item ID vectors only when items have no text.
        ``spectral_dim > 0`` fits a spectral filter of that many components and that shape to the
        graph (``None``: the default width for the graph's size; its mix starts at 0: training
        sees the GNN part only).
        """
        item_text_dim = _text_dim(data, "item")
        if dim is None:
            dim = default_dim(int(data["user"].num_nodes), item_text_dim is not None)
        if use_item_ids is None:
            use_item_ids = item_text_dim is None
        model = cls(
            dim=dim,
            item_text_dim=item_text_dim,
            query_text_dim=_text_dim(data, "query"),
            num_known_items=int(data["item"].num_nodes) if use_item_ids else 0,
            dropout=dropout,
            user_degree_exponent=user_degree_exponent,
            item_degree_exponent=item_degree_exponent,
            spectral_power=spectral_power,
            spectral_ridge=spectral_ridge,
        )
        if spectral_dim is None or spectral_dim > 0:
            spectral = SpectralFilter.fit(UserInteractions.from_graph(data), int(data["item"].num_nodes),
                                          spectral_dim, seed, user_degree_exponent, item_degree_exponent,
                                          spectral_power, spectral_ridge)
            model.set_spectral(spectral, 0.0)
            if spectral is not None and model.item_id is not None:
                model._start_ids_from(spectral)
        return model

    @torch.no_grad()
    def _start_ids_from(self, spectral: SpectralFilter) -> None:
        """Start item ID vectors from the filter's smoothest components (structural features), not noise.

        Items that co-occur start close together, so training refines a graph-aware space
        instead of discovering one; rows keep the random start's mean length (about 1).
        """
        width = min(self.dim, spectral.k)
        start = spectral.basis[: self.num_known_items, :width]
        scale = start.pow(2).sum(dim=1).mean().clamp(min=1e-12).rsqrt()
        self.item_id.weight[: start.shape[0], :width] = start * scale
        self.item_id.weight[: start.shape[0], width:] *= 0.1

    def refit_spectral(self, data: HeteroData, seed: int = 0) -> None:
        """Fit the spectral filter again on ``data``'s interactions, keeping its width, shape and mix.

        The filter is a property of the graph, not a learned weight: once its width and mix
        are chosen on validation, it is refitted to all the history the profiles are computed
        from (as the GNN part's co-occurrence contexts are recomputed from that graph).
        """
        if self.spectral is None:
            return
        spectral = SpectralFilter.fit(UserInteractions.from_graph(data), int(data["item"].num_nodes),
                                      self.spectral.k, seed, self.spectral.degree_exponent,
                                      self.spectral.item_degree_exponent, self.spectral.power,
                                      self.spectral.ridge)
        self.set_spectral(spectral, float(self.spectral_mix))

    @property
    def out_dim(self) -> int:
        """Width of the user and item vectors."""
        return self.dim + (self.spectral.k + 1 if self.spectral is not None else 0)

    def set_spectral(self, spectral: SpectralFilter | None, mix: float) -> None:
        """Use ``spectral`` (``None``: no structural part) with weight ``mix`` in [0, 1]."""
        if not 0.0 <= mix <= 1.0:
            raise ValueError(f"spectral mix must lie in [0, 1], got {mix}")
        mix = mix if spectral is not None else 0.0
        longest = 0.0 if spectral is None else float(spectral.item_part(spectral.basis.shape[0]).pow(2).sum(1).max())
        self.spectral = spectral
        self.spectral_mix.fill_(mix)
        self.spectral_bound.fill_(math.sqrt(1.0 - mix + mix * longest))
        self.hparams["spectral_items"] = int(spectral.basis.shape[0]) if spectral is not None else 0
        self.hparams["spectral_dim"] = spectral.k if spectral is not None else 0
        if spectral is not None:
            self.hparams |= spectral.shape

    def forward(self, data: HeteroData, interactions: UserInteractions | None = None) -> ProfileOutput:
        """All of ``data``'s states and vectors; users are pooled from ``interactions`` (default: ``data``'s).

        ``interactions`` are also the user edges items take co-occurrence from.
        """
        interactions = UserInteractions.from_graph(data) if interactions is None else interactions
        item_states = self.item_states(data, interactions)
        query_states = self.query_states(data, item_states)
        pooling = self.pool(interactions, item_states, query_states)
        return ProfileOutput(user_vectors=self.user_vectors(interactions, pooling),
                             item_vectors=self.item_vectors(item_states), item_states=item_states,
                             query_states=query_states, attention=pooling.attention)

    def user_embeddings(self, data: HeteroData, interactions: UserInteractions | None = None) -> Tensor:
        """``[num_users, out_dim]`` unit profile vectors computed from the users' own edges in ``data``."""
        return self(data, interactions).user_vectors

    def item_embeddings(self, data: HeteroData, interactions: UserInteractions | None = None) -> Tensor:
        """``[num_items, out_dim]`` unit item vectors of ``data`` (see :meth:`item_states`)."""
        return self.item_vectors(self.item_states(data, interactions))

    def item_states(self, data: HeteroData, interactions: UserInteractions | None = None) -> Tensor:
        """``[num_items, dim]``: items beyond the known ones rely on text, categories and users.

        ``interactions`` are the user edges that carry co-occurrence (default: all of ``data``'s).
        """
        interactions = UserInteractions.from_graph(data) if interactions is None else interactions
        num_items = int(data["item"].num_nodes)
        hidden = self.unknown_item.expand(num_items, -1)
        x = getattr(data["item"], "x", None)
        if self.item_text is not None and x is not None:
            hidden = hidden + self.item_text(self.dropout(x.float()))
        if self.item_id is not None:
            known = min(num_items, self.num_known_items)
            ids = torch.zeros(num_items, self.dim)
            ids[:known] = self.dropout(self.item_id.weight[:known])
            hidden = hidden + ids
        hidden = hidden + self.category(self._category_context(data, hidden))
        previous, following = _transition_context(interactions, hidden)
        return (hidden + self.co_occurrence(_co_occurrence_context(interactions, hidden))
                + self.previous(previous) + self.following(following))

    def item_vectors(self, item_states: Tensor) -> Tensor:
        """``[num_items, out_dim]``: what users are scored against, from the item states."""
        gnn = nn.functional.normalize(item_states, dim=-1)
        if self.spectral is None:
            return gnn
        bound = float(self.spectral_bound)
        mixed = self.mix_parts(gnn, self.spectral.item_part(item_states.shape[0]))
        pad = (bound ** 2 - mixed.pow(2).sum(dim=1, keepdim=True)).clamp(min=0.0).sqrt()
        return torch.cat([mixed, pad], dim=1) / bound

    def _category_context(self, data: HeteroData, hidden: Tensor) -> Tensor:
        """Per item, the mean vector of the items sharing its categories (zeros without categories)."""
        if CATEGORY_EDGE not in data.edge_types or data[CATEGORY_EDGE].edge_index.numel() == 0:
            return torch.zeros_like(hidden)
        item, category = data[CATEGORY_EDGE].edge_index
        num_categories = int(data["category"].num_nodes)
        category_mean = scatter(hidden[item], category, dim=0, dim_size=num_categories, reduce="mean")
        return scatter(category_mean[category], item, dim=0, dim_size=hidden.shape[0], reduce="mean")

    def query_states(self, data: HeteroData, item_states: Tensor) -> Tensor:
        """``[num_queries, dim]``: query text plus the mean state of the items the query led to."""
        num_queries = int(data["query"].num_nodes) if "query" in data.node_types else 0
        hidden = torch.zeros(num_queries, self.dim)
        x = getattr(data["query"], "x", None) if num_queries else None
        if self.query_text is not None and x is not None:
            hidden = hidden + self.query_text(self.dropout(x.float()))
        if QUERY_EDGE in data.edge_types and data[QUERY_EDGE].edge_index.numel():
            query, item = data[QUERY_EDGE].edge_index
            hidden = hidden + scatter(item_states[item], query, dim=0, dim_size=num_queries, reduce="mean")
        return hidden

    def pool(self, interactions: UserInteractions, item_states: Tensor, query_states: Tensor) -> UserPooling:
        """Attention-pool each user's edges (to items and queries) over the given states.

        A user's state is :meth:`user_output` of ``Σ_e a_e n_e``, where ``a_e`` is the edge's
        attention (:meth:`edge_attention`) and ``n_e`` the state at its other end
        (:meth:`edge_states`); a user without edges gets the output layer's bias.
        """
        attention = self.edge_attention(interactions)
        pooled = scatter(attention.unsqueeze(1) * self.edge_states(interactions, item_states, query_states),
                         interactions.user, dim=0, dim_size=interactions.num_users, reduce="sum")
        return UserPooling(state=self.user_output(pooled), attention=attention)

    def edge_states(self, interactions: UserInteractions, item_states: Tensor, query_states: Tensor) -> Tensor:
        """``[num_edges, dim]``: the state of the item or query at the other end of each user edge."""
        is_item = interactions.is_item()
        neighbour = torch.empty(len(interactions), self.dim)
        neighbour[is_item] = item_states[interactions.node[is_item]]
        neighbour[~is_item] = query_states[interactions.node[~is_item]]
        return neighbour

    def edge_attention(self, interactions: UserInteractions) -> Tensor:
        """``[num_edges]``: the softmax of :meth:`edge_logits` over each user's edges."""
        rank, age_days = recency(interactions)
        return softmax(self.edge_logits(interactions, rank, age_days), interactions.user,
                       num_nodes=interactions.num_users)

    def user_output(self, pooled: Tensor) -> Tensor:
        """The output layer ``x + W x + b``; affine, so applied per edge and attention-weighted it sums to the state."""
        return pooled + self.user_out(pooled)

    def user_vectors(self, interactions: UserInteractions, pooling: UserPooling) -> Tensor:
        """``[num_users, out_dim]`` unit profile vectors of the users ``pooling`` pooled from ``interactions``."""
        gnn, spectral = self.user_parts(interactions, pooling)
        return gnn if spectral is None else self.join_user_parts(gnn, spectral)

    def ranking_vectors(self, interactions: UserInteractions, pooling: UserPooling,
                        item_states: Tensor) -> tuple[Tensor, Tensor]:
        """User and item vectors whose dot products rank as :meth:`user_vectors` and :meth:`item_vectors`
        do, without a part that weighs 0: while training, the spectral part's mix is 0 and its
        hundreds of columns would only add zeros to every validation's scores."""
        if self.spectral is not None and float(self.spectral_mix) == 0.0:
            return (nn.functional.normalize(pooling.state, dim=-1), nn.functional.normalize(item_states, dim=-1))
        return self.user_vectors(interactions, pooling), self.item_vectors(item_states)

    def user_parts(self, interactions: UserInteractions, pooling: UserPooling) -> tuple[Tensor, Tensor | None]:
        """The unit GNN part and unit spectral part (``None`` without a filter) of each user."""
        spectral = self.spectral.user_part(interactions, pooling.attention) if self.spectral is not None else None
        return nn.functional.normalize(pooling.state, dim=-1), spectral

    def join_user_parts(self, gnn: Tensor, spectral: Tensor) -> Tensor:
        """Profile vectors from the two parts of each user (rows; the parts need not be unit-length)."""
        return torch.cat([self.mix_parts(gnn, spectral), gnn.new_zeros(gnn.shape[0], 1)], dim=1)

    def mix_parts(self, gnn: Tensor, spectral: Tensor) -> Tensor:
        """``[sqrt(1 - mix) * gnn, sqrt(mix) * spectral]``: dot products of such rows mix the two scores."""
        mix = float(self.spectral_mix)
        return torch.cat([math.sqrt(1.0 - mix) * gnn, math.sqrt(mix) * spectral], dim=1)

    def edge_logits(self, interactions: UserInteractions, rank: Tensor, age_days: Tensor) -> Tensor:
        """Unnormalised attention of each user edge: how much it says about the user now."""
        return (
            self.type_logit[interactions.kind]
            + self.rank_logit[rank_bucket(rank)]
            - nn.functional.softplus(self.age_decay) * torch.log1p(age_days)
            + self.count_weight * torch.log(interactions.count.clamp(min=1.0))
        )


#: Fewest users per tile of the co-occurrence product. A tile's ``[users, dim]`` intermediate is
#: read back while still warm in the CPU's caches; over all users at once the product cost more per
#: edge the bigger the shop (measured side by side: docs/BENCHMARKS.md, scale section).
CO_OCCURRENCE_TILE_USERS = 131_072
#: Each tile's second product writes a dense ``[items, dim]`` block, so a tile also spans at least
#: this many users per item: the tiles' count stays bounded and the blocks' cost linear in users.
CO_OCCURRENCE_TILE_USERS_PER_ITEM = 2


def co_occurrence_tile_users(num_items: int) -> int:
    """Users per tile of the co-occurrence product for a catalogue of ``num_items``."""
    return max(CO_OCCURRENCE_TILE_USERS, CO_OCCURRENCE_TILE_USERS_PER_ITEM * num_items)


def _co_occurrence_context(interactions: UserInteractions, item_hidden: Tensor,
                           tile_users: int | None = None) -> Tensor:
    """Per item, the mean over its users of their mean item vector (item -> user -> item, two mean hops).

    Summed over tiles of ``tile_users`` users (default :func:`co_occurrence_tile_users`): per
    tile, two sparse products with averaging operators (the second weighted by the items'
    degrees over all users), built once per edge table (training reuses them for every step of
    an epoch), so no ``[num_edges, dim]`` array is built, forward or backward.
    """
    num_items = item_hidden.shape[0]
    tile_users = co_occurrence_tile_users(num_items) if tile_users is None else tile_users

    def build() -> list[tuple[SparseOperator, SparseOperator]]:
        rows = torch.nonzero(interactions.is_item()).flatten()
        rows = rows[torch.argsort(interactions.user[rows], stable=True)]
        user, item = interactions.user[rows], interactions.node[rows]
        per_item = _inverse_counts(item, num_items)
        starts = range(0, interactions.num_users, tile_users)
        bounds = torch.searchsorted(user, torch.tensor([*starts, interactions.num_users])).tolist()
        tiles = []
        for start, low, high in zip(starts, bounds, bounds[1:]):
            if high > low:
                width = min(tile_users, interactions.num_users - start)
                tile_user, tile_item = user[low:high] - start, item[low:high]
                per_user = _inverse_counts(tile_user, width)
                tiles.append(SparseOperator.pair(tile_user, tile_item, per_user[tile_user], per_item[tile_item],
                                                 width, num_items))
        return tiles

    tiles = interactions.memo(("co_occurrence", num_items, tile_users), build)
    context = torch.zeros_like(item_hidden)
    for items_to_users, users_to_items in tiles:
        context = context + users_to_items @ (items_to_users @ item_hidden)
    return context


def _transition_context(interactions: UserInteractions, item_hidden: Tensor) -> tuple[Tensor, Tensor]:
    """Per item, the mean vector of the items users touched just before it, and just after it.

    Consecutive item edges of a user (by ``last_ts``, strictly increasing, different
    items) are the transitions; shops without timestamps have none and get zeros.
    """
    num_items = item_hidden.shape[0]

    def build() -> tuple[SparseOperator, SparseOperator]:
        rows = torch.nonzero(interactions.is_item()).flatten()
        rows = rows[torch.argsort(interactions.last_ts[rows], stable=True)]
        rows = rows[torch.argsort(interactions.user[rows], stable=True)]
        user, item, ts = interactions.user[rows], interactions.node[rows], interactions.last_ts[rows]
        step = (user[1:] == user[:-1]) & (ts[1:] > ts[:-1]) & (item[1:] != item[:-1])
        before, after = item[:-1][step], item[1:][step]
        per_after = _inverse_counts(after, num_items)
        per_before = _inverse_counts(before, num_items)
        return SparseOperator.pair(after, before, per_after[after], per_before[before], num_items, num_items)

    from_previous, from_following = interactions.memo(("transitions", num_items), build)
    return from_previous @ item_hidden, from_following @ item_hidden


def _inverse_counts(index: Tensor, size: int) -> Tensor:
    """``1 / count`` of each value in ``0..size-1`` among ``index`` (1 where it never occurs): averaging weights."""
    return torch.bincount(index, minlength=size).clamp(min=1).float().reciprocal()


def recency(interactions: UserInteractions) -> tuple[Tensor, Tensor]:
    """Per edge: its dense rank by ``last_ts`` among the user's edges (0 = newest) and its age in days."""
    ts = interactions.last_ts
    order = torch.argsort(-ts, stable=True)
    order = order[torch.argsort(interactions.user[order], stable=True)]
    user, ts_sorted = interactions.user[order], ts[order]
    new_user = torch.ones_like(user, dtype=torch.bool)
    new_user[1:] = user[1:] != user[:-1]
    new_time = new_user.clone()
    new_time[1:] |= ts_sorted[1:] != ts_sorted[:-1]
    group = torch.cumsum(new_time.long(), 0)
    group_at_user_start = torch.cummax(torch.where(new_user, group, torch.zeros_like(group)), 0).values
    rank = torch.empty_like(user)
    rank[order] = group - group_at_user_start
    newest = scatter(ts, interactions.user, dim=0, dim_size=interactions.num_users, reduce="max")
    age_days = ((newest[interactions.user] - ts) / SECONDS_PER_DAY).float().clamp(min=0)
    return rank, age_days


def rank_bucket(rank: Tensor) -> Tensor:
    """Ranks 0..7 map to themselves, then one bucket per doubling (8-15, 16-31, ...)."""
    log_bucket = 8 + torch.floor(torch.log2(rank.clamp(min=8).float() / 8)).long()
    return torch.where(rank < 8, rank, log_bucket).clamp(max=NUM_RANK_BUCKETS - 1)


def _text_dim(data: HeteroData, node_type: str) -> int | None:
    x = getattr(data[node_type], "x", None) if node_type in data.node_types else None
    return int(x.shape[1]) if x is not None else None
