"""Fine-tune a sentence-transformers encoder on the shop's own logs, and measure what it gained.

Pairs come from :class:`TrainingPairs` (query -> item clicked or bought from the search,
item -> item bought next by the same user). Training uses MultipleNegativesRankingLoss:
every other positive in the batch is a negative, so no negatives need mining, and
batches never repeat a text (a repeat would count a correct item as a negative).
Part of the pairs is held out; Recall@10 of each held-out pair's item among all items
is measured before and after, with the saved folder loaded back as ``--model`` would.

By default pairs are mined only from what ``personagraph train`` uses as training input
(each user's latest positive item and everything after it left out), so that the
validation figures of a run with the fine-tuned encoder stay honest.
"""
from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from personagraph.encoders.fingerprinted_text_encoder import FingerprintedTextEncoder
from personagraph.encoders.load_text_encoder import load_text_encoder
from personagraph.encoders.sentence_transformer_encoder import SentenceTransformerEncoder
from personagraph.encoders.text_encoder import TextEncoder
from personagraph.encoders.training_pairs import DEFAULT_WINDOW_SECONDS, ITEM, QUERY, TrainingPairs
from personagraph.errors import PersonaGraphError
from personagraph.shop.leave_last_out import leave_last_out
from personagraph.shop.shop_data import ShopData

#: Fewer distinct pairs than this cannot both train and measure anything.
MIN_PAIRS = 10


@dataclass
class FinetuneReport:
    """What a fine-tuning run did: pair counts, retrieval before/after, time, the new model's name."""

    base: str
    model: str  # the --model spec (and cache key) of the saved folder
    out_dir: str
    pairs: dict[str, int]
    before: dict[str, float | None]
    after: dict[str, float | None]
    train_seconds: float
    total_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EncoderFinetuner:
    """Settings of a fine-tuning run; the defaults suit a CPU (one epoch, at most 2,000 pairs).

    ``base`` is a ``--model`` spec of a sentence-transformers model (``None``: the packaged
    all-MiniLM-L6-v2). ``held_out`` pairs are kept apart to measure Recall@10.
    ``use_all_events`` also mines each user's latest positive item, which
    ``personagraph train`` holds out for validation: right for a production model,
    wrong when comparing validation figures.
    """

    base: str | None = None
    epochs: int = 1
    batch_size: int = 32
    max_pairs: int = 2_000
    held_out: int = 500
    window_seconds: float = DEFAULT_WINDOW_SECONDS
    learning_rate: float = 2e-5
    seed: int = 0
    use_all_events: bool = False
    progress: bool = True

    def finetune(self, shop: ShopData, out_dir: str | Path) -> FinetuneReport:
        """Mine pairs from ``shop``, train, save a sentence-transformers folder to ``out_dir``."""
        started = time.perf_counter()
        out = Path(out_dir)
        if out.exists() and any(out.iterdir()):
            raise PersonaGraphError(f"{out} is not empty; choose another --out or delete it first")
        pairs = self.pairs(shop)
        if len(pairs) < MIN_PAIRS:
            raise PersonaGraphError(
                f"the logs give only {len(pairs)} distinct training pairs; fine-tuning needs searches "
                "that carry the clicked item_id, or users who buy several items"
            )
        train_pairs, held_pairs = pairs.split(min(self.held_out, len(pairs) // 5), self.seed)
        if len(train_pairs) > self.max_pairs:
            keep = np.random.default_rng(self.seed).permutation(len(train_pairs))[: self.max_pairs]
            train_pairs = train_pairs.subset(np.sort(keep))

        base = load_text_encoder(self.base)
        model = _sentence_transformer(base)
        before = held_pairs.recall_at_k(base, progress=self.progress)
        train_started = time.perf_counter()
        self._train(model, train_pairs)
        train_seconds = time.perf_counter() - train_started
        model.save(str(out))
        tuned = load_text_encoder(str(out))
        after = held_pairs.recall_at_k(tuned, progress=self.progress)
        return FinetuneReport(
            base=base.name,
            model=tuned.name,
            out_dir=str(out),
            pairs={"mined": len(pairs), "train": len(train_pairs), "held_out": len(held_pairs),
                   "train_query_item": int((train_pairs.anchor_kind == QUERY).sum()),
                   "train_item_item": int((train_pairs.anchor_kind == ITEM).sum())},
            before=before,
            after=after,
            train_seconds=round(train_seconds, 1),
            total_seconds=round(time.perf_counter() - started, 1),
        )

    def pairs(self, shop: ShopData) -> TrainingPairs:
        """The distinct pairs this run learns from and is judged on (see ``use_all_events``)."""
        source = shop if self.use_all_events else leave_last_out(shop).train
        return TrainingPairs.mine(source, self.window_seconds)

    def _train(self, model, pairs: TrainingPairs) -> None:
        """sentence-transformers' ``old_fit`` loop: unlike ``fit`` and the Trainer it needs
        neither ``datasets`` nor ``accelerate``."""
        from sentence_transformers import InputExample
        from sentence_transformers.losses import MultipleNegativesRankingLoss
        from sentence_transformers.sentence_transformer.datasets.no_duplicates_dataloader import (
            NoDuplicatesDataLoader,
        )

        random.seed(self.seed)  # NoDuplicatesDataLoader shuffles with the random module
        torch.manual_seed(self.seed)
        anchors, positives = pairs.anchor_texts(), pairs.positive_texts()
        examples = [InputExample(texts=[a, p]) for a, p in zip(anchors, positives)]
        loader = NoDuplicatesDataLoader(examples, batch_size=_fillable_batch_size(anchors, positives, self.batch_size))
        steps = len(loader) * self.epochs
        model.old_fit(
            train_objectives=[(loader, MultipleNegativesRankingLoss(model))],
            epochs=self.epochs,
            warmup_steps=max(steps // 10, 1),
            optimizer_params={"lr": self.learning_rate},
            show_progress_bar=self.progress,
        )


def _sentence_transformer(encoder: TextEncoder):
    """The trainable ``SentenceTransformer`` behind ``encoder``, or an error saying why there is none."""
    inner = encoder.encoder if isinstance(encoder, FingerprintedTextEncoder) else encoder
    if not isinstance(inner, SentenceTransformerEncoder):
        raise PersonaGraphError(
            f"{encoder.name} cannot be fine-tuned; pass --base a sentence-transformers model "
            "(a local folder, a hub name, or leave it out for the packaged all-MiniLM-L6-v2)"
        )
    return inner.model


def _fillable_batch_size(anchors: list[str], positives: list[str], wanted: int) -> int:
    """The largest batch size up to ``wanted`` that NoDuplicatesDataLoader can always fill.

    It fills a batch greedily and loops forever if no remaining pair is free of the texts
    already in it. A greedy set of pairs with distinct texts is at least half the largest
    such set, and the greedy set counted here is at most that large, so half of it is safe.
    """
    seen: set[str] = set()
    disjoint = 0
    for anchor, positive in zip(anchors, positives):
        texts = {anchor.strip().lower(), positive.strip().lower()}
        if len(texts) == 2 and not texts & seen:
            seen |= texts
            disjoint += 1
    return max(1, min(wanted, disjoint // 2))
