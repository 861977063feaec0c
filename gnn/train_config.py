"""Hyper-parameters of profile-model training, stored in every checkpoint."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from personagraph.shop.schema import shop_schema

#: Default of ``TrainConfig.user_degree_exponent``: how much a popular item in a history is
#: discounted in the spectral part (GF-CF uses 1/2; 1/4 ranked better on validation data).
USER_DEGREE_EXPONENT = 0.25


@dataclass
class TrainConfig:
    """What to train and for how long; the defaults were chosen on validation data.

    ``use_item_ids``: learn an ID vector per training item; ``None`` does so only when
    items have no text (with text, ID vectors overfit: validation Recall@20 on Amazon
    Scientific drops from 0.185 to 0.172). ``target_weights``: which user→item edge
    types are training targets and how much each counts in the loss (default: the shop
    schema's ``target_weight`` of each event type; views are context only). An epoch draws
    one target per user; training stops when validation Recall@20 has not improved for
    ``patience`` evaluations (every ``eval_every`` epochs), or after the epoch that passes
    ``max_minutes`` of training. ``spectral_dim``: components of the training-free spectral
    filter fitted beside the GNN (``0`` = none); its width (a quarter, half or all of them)
    and mix are then chosen on validation.
    ``user_degree_exponent``: a user's spectral part weighs each item by ``degree ** -exponent``
    (see :class:`~personagraph.gnn.spectral_filter.SpectralFilter`); the model keeps it, so a
    loaded checkpoint profiles with the exponent it was trained with.
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
    user_degree_exponent: float = USER_DEGREE_EXPONENT
    # Every step recomputes all item states (O(items + edges)), so an epoch of many small
    # batches grows with users x edges; capping the steps (bigger batches on big shops) keeps
    # an epoch linear in the log. Shops up to 32 x batch_size users keep batch_size.
    max_steps_per_epoch: int = 32
    # Up to this many items, the loss ranks each target against the whole catalogue (exact);
    # above it, against ``sampled_negatives`` items drawn uniformly per step (logQ-corrected),
    # so the logits are batch x sampled_negatives, not batch x catalogue.
    full_softmax_items: int = 8192
    sampled_negatives: int = 2048
    # Early stopping scores at most this many validation users (a fixed random sample), so an
    # evaluation costs users x items only up to this bound.
    max_eval_users: int = 10_000
    target_weights: dict[str, float] = field(default_factory=lambda: shop_schema().target_weights)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        return cls(**values)
