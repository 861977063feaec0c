"""LightGCN on user and item IDs only (torch-geometric's ``LightGCN``), trained with BPR.

The standard graph-collaborative-filtering baseline. Each step samples a batch of
training edges (user, item) with one uniformly drawn negative item per edge (redrawn
when it is one of the user's items), propagates all embeddings over the normalised
user-item graph and takes a BPR step. Training is early-stopped on validation
Recall@20 and bounded in wall time, since on a small CPU the hundreds of epochs of the
published runs are out of reach. A user is a free embedding, so new history cannot be
folded in: for the test figure the model is refitted on training + validation with the
chosen layers and epochs.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.nn.models import LightGCN
from tqdm.auto import tqdm

from personagraph.evaluation.ranker import SELECTION_METRIC, VALIDATION_KS, Ranker
from personagraph.evaluation.ranking_data import RankingData
from personagraph.evaluation.ranking_metrics import Scorer, Targets, evaluate_scorer

LAYERS_GRID: tuple[int, ...] = (1, 2, 3)
#: How a training run that the wall-time budget ended is marked (``stopped``).
TIME_BUDGET = "time budget"


@dataclass
class LightGCNSettings:
    """Training settings shared by all grid points (the grid varies ``num_layers``)."""

    dim: int = 64
    lr: float = 5e-3
    reg: float = 1e-4
    train_batch_size: int = 4096
    max_epochs: int = 300
    eval_every: int = 5
    patience: int = 3
    #: Wall-time budget per seed for all of this ranker's training (grid and refit), split evenly
    #: between them; a run stops after the epoch that passes its share. ``None`` = no budget.
    time_budget_s: float | None = 600.0


class LightGCNRanker(Ranker):
    """ID-only LightGCN (BPR, mini-batches of sampled edges), ``num_layers`` tuned on validation."""

    name = "lightgcn"
    refits_on_new_history = True
    deterministic = False

    def __init__(self, seed: int = 0, batch_size: int = 1024, layers_grid: Sequence[int] = LAYERS_GRID,
                 settings: LightGCNSettings | None = None) -> None:
        super().__init__(seed, batch_size)
        self.layers_grid = tuple(layers_grid)
        self.settings = settings or LightGCNSettings()
        budget = self.settings.time_budget_s
        self.run_budget_s = budget / (len(self.layers_grid) + 1) if budget else float("inf")
        self.model: LightGCN | None = None
        self._adjacency: Tensor | None = None

    def fit(self, train: RankingData, validation: Targets, progress: bool = False) -> None:
        best, best_model = -1.0, None
        for num_layers in self.layers_grid:
            run = self._train(train, num_layers, self.settings.max_epochs, validation, progress)
            self.tuning.append({"num_layers": num_layers, "epochs": run["epochs"], "stopped": run["stopped"],
                                "seconds": round(run["seconds"], 1)} | run["metrics"])
            if run["stopped"] == TIME_BUDGET:
                self.stopped_by_budget.append(f"num_layers={num_layers}")
            if run["metrics"][SELECTION_METRIC] > best:
                best, best_model = run["metrics"][SELECTION_METRIC], self.model
                self.chosen = {"num_layers": num_layers, "epochs": run["epochs"]}
        self.model = best_model

    def validation_metrics(self) -> dict[str, float]:
        row = next(r for r in self.tuning if r["num_layers"] == self.chosen["num_layers"])
        return {k: v for k, v in row.items() if "@" in k}

    def refit(self, data: RankingData, progress: bool = False) -> None:
        run = self._train(data, self.chosen["num_layers"], self.chosen["epochs"], None, progress)
        self.chosen["refit_epochs"], self.chosen["refit_stopped"] = run["epochs"], run["stopped"]
        if run["stopped"] == TIME_BUDGET:
            self.stopped_by_budget.append("refit")

    def scorer(self, history: RankingData) -> Scorer:
        """Scores from the graph the model was last (re)fitted on, which ``history`` must be."""
        if self.model is None or self.model.num_nodes != history.num_users + history.num_items:
            raise RuntimeError("LightGCN scores only the data it was (re)fitted on; call refit first")
        with torch.no_grad():
            embeddings = self.model.get_embedding(self._adjacency)
        users, items = embeddings[: history.num_users], embeddings[history.num_users:]
        return lambda batch: users[batch] @ items.T

    def _train(self, data: RankingData, num_layers: int, epochs: int, validation: Targets | None,
               progress: bool) -> dict[str, Any]:
        """Train a fresh model for up to ``epochs`` within the run budget; with ``validation``,
        keep the best evaluated epoch and stop after ``patience`` evaluations without gain."""
        settings = self.settings
        torch.manual_seed(self.seed)
        generator = np.random.default_rng(self.seed)
        num_users, num_items = data.num_users, data.num_items
        interactions = data.interaction_matrix()
        edge_user = torch.repeat_interleave(torch.arange(num_users), torch.from_numpy(np.diff(interactions.indptr)))
        items = torch.from_numpy(interactions.indices.astype(np.int64))
        self._adjacency = normalised_adjacency(edge_user, items, num_users, num_items)
        model = LightGCN(num_users + num_items, settings.dim, num_layers, normalize=False)
        optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
        positive_keys = np.sort(edge_user.numpy() * num_items + items.numpy())
        started = time.perf_counter()
        best_state, best_metrics, best_epoch, stale, stopped = None, {SELECTION_METRIC: -1.0}, 0, 0, "epochs"
        bar = tqdm(range(1, epochs + 1), desc=f"lightgcn {num_layers} layer(s)", unit="epoch",
                   disable=not progress, leave=False)
        epoch = 0
        for epoch in bar:
            model.train()
            order = torch.from_numpy(generator.permutation(items.numel()))
            for start in range(0, order.numel(), settings.train_batch_size):
                batch = order[start:start + settings.train_batch_size]
                user, positive = edge_user[batch], items[batch]
                negative = _sample_negatives(user.numpy(), positive_keys, num_items, generator)
                embedding = model.get_embedding(self._adjacency)
                user_emb = embedding[user]
                pos_rank = (user_emb * embedding[num_users + positive]).sum(-1)
                neg_rank = (user_emb * embedding[num_users + negative]).sum(-1)
                nodes = torch.cat([user, num_users + positive, num_users + negative])
                loss = model.recommendation_loss(pos_rank, neg_rank, node_id=nodes, lambda_reg=settings.reg)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            out_of_time = time.perf_counter() - started > self.run_budget_s
            if validation is not None and (epoch % settings.eval_every == 0 or epoch == epochs or out_of_time):
                self.model = model.eval()
                metrics = evaluate_scorer(self.scorer(data), data.excluded, validation, VALIDATION_KS, self.batch_size)
                metrics.pop("num_users")
                bar.set_postfix(loss=f"{loss.item():.3f}", r20=f"{metrics[SELECTION_METRIC]:.4f}")
                if metrics[SELECTION_METRIC] > best_metrics[SELECTION_METRIC]:
                    best_state = {k: v.clone() for k, v in model.state_dict().items()}
                    best_metrics, best_epoch, stale = metrics, epoch, 0
                else:
                    stale += 1
                if stale >= settings.patience:
                    stopped = "early stopping"
                    break
            if out_of_time:
                stopped = TIME_BUDGET
                break
        if best_state is not None:
            model.load_state_dict(best_state)
        self.model = model.eval()
        return {"epochs": best_epoch if validation is not None else epoch, "stopped": stopped,
                "metrics": best_metrics, "seconds": time.perf_counter() - started}


def normalised_adjacency(user: Tensor, item: Tensor, num_users: int, num_items: int) -> Tensor:
    """The symmetric-normalised user-item graph (items after users) as a CSR tensor, built once
    (LGConv would otherwise convert it at every layer of every step)."""
    forward = torch.stack([user, num_users + item])
    edge_index, weight = gcn_norm(torch.cat([forward, forward.flip(0)], dim=1), None,
                                  num_users + num_items, add_self_loops=False)
    size = num_users + num_items
    with warnings.catch_warnings():  # "sparse CSR support is in beta": it is what LGConv's spmm runs on
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_coo_tensor(edge_index, weight, (size, size)).coalesce().to_sparse_csr()


def _sample_negatives(user: np.ndarray, positive_keys: np.ndarray, num_items: int,
                      generator: np.random.Generator, rounds: int = 5) -> Tensor:
    """One uniform item per user, redrawn (a few times) where it is one of the user's own items."""
    negative = generator.integers(0, num_items, size=user.size)
    for _ in range(rounds):
        keys = user * num_items + negative
        found = np.searchsorted(positive_keys, keys)
        clash = positive_keys[np.minimum(found, positive_keys.size - 1)] == keys
        if not clash.any():
            break
        negative[clash] = generator.integers(0, num_items, size=int(clash.sum()))
    return torch.from_numpy(negative)
