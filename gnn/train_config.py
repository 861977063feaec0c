"""Hyper-parameters of profile-model training, stored in every checkpoint."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class TrainConfig:
    """What to train and for how long; the defaults were chosen on validation data.

    ``use_item_ids``: learn an ID vector per training item; ``None`` does so only when
    items have no text (with text, ID vectors overfit: validation Recall@20 on Amazon
    Scientific drops from 0.185 to 0.172). ``target_weights``: which user→item edge
    types are training targets and how much each counts in the loss (views are context
    only). An epoch draws one target per user; training stops when validation
    Recall@20 has not improved for ``patience`` evaluations (every ``eval_every`` epochs),
    or after the epoch that passes ``max_minutes`` of training. ``spectral_dim``: components
    of the training-free spectral filter fitted beside the GNN (``0`` = none); its width
    (a quarter, half or all of them) and mix are then chosen on validation.
    """

    dim: int = 64
    epochs: int = 100
    lr: float = 2e-3
    weight_decay: float = 0.0
    dropout: float = 0.1
    temperature: float = 0.1
    use_item_ids: bool | None = None
    batch_size: int = 512
    seed: int = 0
    patience: int = 10
    eval_every: int = 1
    eval_batch_size: int = 2048
    max_minutes: float | None = None
    spectral_dim: int = 1024
    target_weights: dict[str, float] = field(
        default_factory=lambda: {"purchase": 1.0, "add_to_cart": 0.5, "click": 0.25}
    )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        return cls(**values)
