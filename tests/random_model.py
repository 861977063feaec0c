"""A ProfileModel with non-trivial random weights, for tests that check exact arithmetic, not learning."""
from __future__ import annotations

import torch
from torch_geometric.data import HeteroData

from personagraph.gnn.profile_model import ProfileModel


def randomised_model(graph: HeteroData, seed: int, dim: int = 8, spectral_mix: float = 0.0) -> ProfileModel:
    """Every part of the model (text, IDs, categories, co-occurrence, output layer) with weights ~ N(0, 0.5²);
    with ``spectral_mix > 0`` also a 2-component spectral filter mixed in at that weight."""
    torch.manual_seed(seed)
    model = ProfileModel.from_graph(graph, dim=dim, dropout=0.0, spectral_dim=2 if spectral_mix else 0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(std=0.5)
    if spectral_mix:
        model.set_spectral(model.spectral, spectral_mix)
    return model.eval()
