"""Hyper-parameters of profile-model training, stored in every checkpoint."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from personagraph.shop.schema import shop_schema

#: The spectral filter's shape before it is chosen on validation (and of checkpoints that do not
#: record it): how much a popular item in a history is discounted in the user part (GF-CF: 1/2)...
USER_DEGREE_EXPONENT = 0.25
#: ... how much an item's degree lifts it in the item part (GF-CF: 1/2) ...
ITEM_DEGREE_EXPONENT = 0.5
#: ... and the power ``p`` of the filter's gain ``σ^(2p)`` per component (0: GF-CF's ideal low-pass filter).
SPECTRAL_POWER = 0.0
#: ... and the ridge ``λ`` that damps weak components by ``σ² / (σ² + λ)`` (0: none).
SPECTRAL_RIDGE = 0.0
#: What the trainer tries on validation for each setting of the shape left as ``None`` in the config.
USER_DEGREE_EXPONENTS = (0.0, 0.25, 0.4, 0.5)
ITEM_DEGREE_EXPONENTS = (0.2, 0.3, 0.4, 0.5)
SPECTRAL_POWERS = (0.0, 0.25, 0.5, 1.0)
SPECTRAL_RIDGES = (0.0, 0.1, 0.2, 0.4)
#: Components fitted when ``spectral_dim`` is ``None``: all an exact decomposition gives, up to this
#: many (a profile stays under Neo4j's 4,096-dimension vector index limit) ...
EXACT_SPECTRAL_DIM = 2048
#: ... or this many from the randomised solver, on shops too big on both sides for an exact one.
APPROXIMATE_SPECTRAL_DIM = 1024
#: ... and never more than the users' spectral columns (float32) fit in this many bytes, rounded down to
#: a power of two: the profiles are held whole, with copies, in the profiles stage and the store's user
#: table, so at a million users the full width would not fit a 24 GB machine (an explicit width is kept).
SPECTRAL_MEMORY_BYTES = 3 * 2**29
#: Width of the GNN part of the profile when the config leaves it open (:func:`default_dim`): where items
#: have text, the GNN part carries a projection of their sentence embeddings, which 64 numbers compress,
#: so it is ``TEXT_GNN_DIM`` wide while every user's columns fit ``GNN_MEMORY_BYTES`` (float32; the
#: million-user run keeps the narrower part, inside the memory it was measured in); with IDs only, wider
#: item ID vectors fit the validation users better without ranking the test better, so ``GNN_DIM``.
GNN_DIM = 64
TEXT_GNN_DIM = 128
GNN_MEMORY_BYTES = 2**28


@dataclass
class TrainConfig:
    """What to train and for how long; the defaults were chosen on validation data.

    ``dim``: width of the GNN part of the profile; ``None``: by the shop's items and size
    (:func:`default_dim`).
    ``use_item_ids``: learn an ID vector per training item; ``None`` does so only when
    items have no text (with text, ID vectors overfit: validation Recall@20 on Amazon
    Scientific drops from 0.185 to 0.172). ``target_weights``: which user→item edge
    types are training targets and how much each counts in the loss (default: the shop
    schema's ``target_weight`` of each event type; views are context only). An epoch draws
    one target per user; training stops when validation Recall@20 has not improved for
    ``patience`` evaluations (every ``eval_every`` epochs), or after the epoch that passes
    ``max_minutes`` of training. ``spectral_dim``: components of the training-free spectral
    filter fitted beside the GNN (``0`` = none; ``None``: as many as the shop's size allows, see
    :meth:`~personagraph.gnn.spectral_filter.SpectralFilter.default_width`); its width (an
    eighth, quarter, half or all of them), shape and mix with the GNN are then chosen together on
    validation.
    The shape (see :class:`~personagraph.gnn.spectral_filter.SpectralFilter`):
    ``user_degree_exponent`` (a user's spectral part weighs each item by ``degree ** -exponent``),
    ``item_degree_exponent``, ``spectral_power`` and ``spectral_ridge``; ``None`` chooses it on
    validation from ``USER_DEGREE_EXPONENTS`` / ``ITEM_DEGREE_EXPONENTS`` / ``SPECTRAL_POWERS`` /
    ``SPECTRAL_RIDGES``, a number fixes it.
    The model keeps the chosen shape, so a loaded checkpoint profiles with the one it was trained with.
    ``neighbour_weight``: how much a neighbour score (item-kNN's or the low-pass filter's) counts
    beside the profile score when items are ranked for a user (:mod:`~personagraph.gnn.neighbour_blend`);
    ``None`` chooses it, with the table's kind and size and the history's recency decay, on
    validation (0 unless it helps by more than one standard error), ``0`` ranks by the profile
    vectors alone.
    """

    dim: int | None = None
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
    spectral_dim: int | None = None
    user_degree_exponent: float | None = None
    item_degree_exponent: float | None = None
    spectral_power: float | None = None
    spectral_ridge: float | None = None
    neighbour_weight: float | None = None
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


def default_dim(num_users: int, item_text: bool) -> int:
    """The GNN part's width when the config leaves it open: ``TEXT_GNN_DIM`` where items have text and
    every user's columns fit ``GNN_MEMORY_BYTES``, else ``GNN_DIM``."""
    wide = item_text and num_users * TEXT_GNN_DIM * 4 <= GNN_MEMORY_BYTES
    return TEXT_GNN_DIM if wide else GNN_DIM
