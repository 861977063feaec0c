"""An audience for a free text: the users whose profiles are closest to what the text means.

The text is placed in profile space the way the model profiles a new user who did nothing
but search that text: a pseudo-user with one search edge is added to the run's graph (to
the query's own node when the text is a known query, whose vector also holds the items
that query led to; to a new query node with the encoded text otherwise) and the model
computes that user's profile like any other's. That profile is a point of the user space,
so the nearest stored users, found with the vector index, are the people the model thinks
the text describes. A model trained without search queries has no query-text layer; there
the pseudo-user views a new item described by the text instead.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch_geometric.data import HeteroData

from personagraph.encoders.text_encoder import TextEncoder
from personagraph.errors import PersonaGraphError
from personagraph.gnn.profile_model import ProfileModel
from personagraph.store.profile_store import ProfileStore, SimilarUser
from personagraph.shop.shop_data import normalise_query

_SEARCH = ("user", "search", "query")
_VIEW = ("user", "view", "item")


class TextAudience:
    """Free texts → profile vectors → the nearest stored users.

    Args:
        model: the trained profile model.
        encoder: the text encoder the model was trained with.
        graph: the run's graph, with its text features.
        query_texts: the graph's query texts in node order (``shop.events.query_texts``).
    """

    def __init__(
        self, model: ProfileModel, encoder: TextEncoder, graph: HeteroData, query_texts: Sequence[str]
    ) -> None:
        if model.query_text is None and model.item_text is None:
            raise PersonaGraphError(
                "this run's model has no text input (its shop had neither item text nor search queries), "
                "so free text cannot be placed among its profiles"
            )
        self.model = model.eval()
        self.encoder = encoder
        self.graph = graph
        self.query_index = {text: i for i, text in enumerate(query_texts)}

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """``[len(texts), dim]`` unit profile vectors: one pseudo-user per text."""
        texts = [normalise_query(text) for text in texts]
        if not all(texts):
            raise PersonaGraphError("the audience text is empty; describe the audience in a few words")
        graph = self._with_pseudo_users(texts)
        with torch.no_grad():
            return self.model.user_embeddings(graph)[-len(texts):].numpy()

    def vector(self, text: str) -> np.ndarray:
        return self.vectors([text])[0]

    def find(
        self, store: ProfileStore, text: str, k: int = 100, segment: int | str | None = None
    ) -> list[SimilarUser]:
        """The ``k`` stored users nearest the text's profile; ``segment`` is a segment id or name."""
        where = None
        if segment is not None:
            where = {"segment": segment} if isinstance(segment, int) else {"segment_name": segment}
        return store.nearest_users(self.vector(text), k=k, where=where)

    def _with_pseudo_users(self, texts: list[str]) -> HeteroData:
        """A copy of the graph plus one user per text, whose only edge is a search of it (or a view)."""
        graph = self.graph.clone()
        first_user = int(graph["user"].num_nodes)
        graph["user"].num_nodes = first_user + len(texts)
        if self.model.query_text is not None:
            node_type, edge_type = "query", _SEARCH
            known = [self.query_index.get(text) for text in texts]
            new_texts = [text for text, index in zip(texts, known) if index is None]
        else:
            node_type, edge_type = "item", _VIEW
            known, new_texts = [None] * len(texts), texts
        next_node = int(graph[node_type].num_nodes)
        nodes = []
        for index in known:
            nodes.append(next_node if index is None else index)
            next_node += index is None
        if new_texts:
            encoded = torch.from_numpy(self.encoder.encode(new_texts))
            graph[node_type].x = torch.cat([graph[node_type].x.float(), encoded])
            graph[node_type].num_nodes = next_node
        edges = graph[edge_type]
        pseudo = torch.tensor([list(range(first_user, first_user + len(texts))), nodes], dtype=torch.long)
        edges.edge_index = torch.cat([edges.edge_index, pseudo], dim=1)
        edges.count = torch.cat([edges.count, torch.ones(len(texts), dtype=edges.count.dtype)])
        edges.last_ts = torch.cat([edges.last_ts, torch.zeros(len(texts), dtype=edges.last_ts.dtype)])
        return graph
