"""Save a trained profile model with everything needed to profile new users later.

A checkpoint holds the weights, the constructor arguments that rebuild the model
(every hyper-parameter a vector depends on, such as the spectral filter's degree
exponent), the training config, and the name of the text encoder whose vectors the
model expects: profiling a new graph with another encoder would silently give nonsense,
so callers can check it.

Checkpoints written before the degree exponent was saved all used 0.25
(:data:`EXPONENT_BEFORE_IT_WAS_SAVED`); they load with it and give the vectors they always gave.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from personagraph.errors import PersonaGraphError
from personagraph.gnn.profile_model import ProfileModel
from personagraph.gnn.train_config import TrainConfig

FORMAT_VERSION = 2
#: The spectral filter's degree exponent of checkpoints that do not record it (it was a constant then).
EXPONENT_BEFORE_IT_WAS_SAVED = 0.25


@dataclass
class Checkpoint:
    """A rebuilt model (on CPU, in eval mode) and what it was trained with."""

    model: ProfileModel
    config: TrainConfig
    encoder_name: str | None
    metadata: dict[str, Any] = field(default_factory=dict)


def save_checkpoint(
    path: str | Path,
    model: ProfileModel,
    config: TrainConfig,
    encoder_name: str | None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` to ``path``; ``metadata`` holds plain values (metrics, dataset name, ...)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "format_version": FORMAT_VERSION,
            "model_hparams": dict(model.hparams),
            "state_dict": {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()},
            "train_config": config.to_dict(),
            "encoder_name": encoder_name,
            "metadata": metadata or {},
        },
        path,
    )
    return path


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Rebuild the model saved at ``path`` on CPU."""
    path = Path(path)
    if not path.is_file():
        raise PersonaGraphError(f"no model checkpoint at {path}; train one first (personagraph train)")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for corrupt or foreign files
        raise PersonaGraphError(f"{path} is not a readable model checkpoint ({error}); retrain to recreate it") from error
    if not isinstance(saved, dict) or saved.get("format_version") != FORMAT_VERSION:
        raise PersonaGraphError(
            f"{path} is not a profile-model checkpoint of format {FORMAT_VERSION}; retrain to recreate it"
        )
    # Checkpoints from before num_edge_types was a hyper-parameter: the shape of the weights tells it.
    hparams = {"num_edge_types": saved["state_dict"]["type_logit"].shape[0],
               "user_degree_exponent": EXPONENT_BEFORE_IT_WAS_SAVED, **saved["model_hparams"]}
    model = ProfileModel(**hparams)
    model.load_state_dict(saved["state_dict"])
    model.eval()
    config = {"user_degree_exponent": EXPONENT_BEFORE_IT_WAS_SAVED, **saved["train_config"]}
    return Checkpoint(
        model=model,
        config=TrainConfig.from_dict(config),
        encoder_name=saved["encoder_name"],
        metadata=saved["metadata"],
    )
