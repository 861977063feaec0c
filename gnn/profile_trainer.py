"""Inductive training of the profile model with a full-softmax ranking loss.

Each epoch draws one target item per user from its purchase / cart / click edges and
hides from that user the target and every edge not older than it; the user vector is then
computed from what is left, and the target is ranked against all items (the user's
other items masked out, as in evaluation). The model so learns to predict the *next*
item from earlier behaviour, which is what a profile is used for, instead of learning
to recognise items already in the history.

After training, the spectral filter's width and mix are chosen on the validation targets
(a mix of 0 drops the filter), so the kept model is the one that ranks them best.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from torch_geometric.utils import scatter
from tqdm.auto import tqdm

from personagraph.errors import PersonaGraphError
from personagraph.gnn.profile_model import ProfileModel
from personagraph.evaluation.ranking_metrics import as_csr, csr_rows, evaluate_ranking
from personagraph.gnn.train_config import TrainConfig
from personagraph.gnn.user_interactions import USER_EDGE_TYPES, UserInteractions

SELECTION_METRIC = "recall@20"
#: Weights of the spectral part tried on validation (0 = GNN only, 1 = spectral only).
SPECTRAL_MIXES = (0.0, 0.1, 0.25, 0.5, 0.7, 0.8, 0.9, 1.0)
#: The spectral choice is made on a random subset of validation users, for speed: at least this
#: many, and more while a setting scores at most SPECTRAL_SELECTION_SCORES (user, item) pairs.
SPECTRAL_SELECTION_USERS = 3000
SPECTRAL_SELECTION_SCORES = 120_000_000


@dataclass
class TrainResult:
    """The model with its best-epoch weights, and how training went."""

    model: ProfileModel
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_metrics: dict[str, float] = field(default_factory=dict)
    spectral_tuning: list[dict[str, float]] = field(default_factory=list)


def train_profile_model(
    train_graph: HeteroData, val_targets: Tensor, config: TrainConfig, progress: bool = True
) -> TrainResult:
    """Train on ``train_graph``, early-stop on Recall@20 of ``val_targets`` (item per user, -1 = none)."""
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    interactions = UserInteractions.from_graph(train_graph)
    candidates = _TargetCandidates(interactions, config.target_weights)
    if candidates.num_users == 0:
        raise PersonaGraphError(
            "no user has a purchase/add_to_cart/click edge to learn from; "
            f"check the event log or TrainConfig.target_weights ({config.target_weights})"
        )
    model = ProfileModel.from_graph(train_graph, config.dim, config.use_item_ids, config.dropout,
                                    config.spectral_dim, config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    history_pairs = interactions.item_history()
    result = TrainResult(model=model)
    best_state, best_score, stale = copy.deepcopy(model.state_dict()), -1.0, 0
    deadline = time.perf_counter() + 60.0 * config.max_minutes if config.max_minutes else float("inf")
    bar = tqdm(range(1, config.epochs + 1), desc="training profiles", unit="epoch", disable=not progress)
    for epoch in bar:
        started = time.perf_counter()
        loss = _train_epoch(model, optimizer, train_graph, interactions, candidates, config, generator)
        record = {"epoch": float(epoch), "loss": loss}
        if epoch % config.eval_every == 0 or epoch == config.epochs:
            record |= _evaluate(model, train_graph, history_pairs, val_targets, config.eval_batch_size)
            if record[SELECTION_METRIC] > best_score:
                best_state, best_score, stale = copy.deepcopy(model.state_dict()), record[SELECTION_METRIC], 0
                result.best_epoch, result.best_metrics = epoch, {k: v for k, v in record.items() if "@" in k}
            else:
                stale += 1
        record["seconds"] = time.perf_counter() - started
        result.history.append(record)
        bar.set_postfix(loss=f"{loss:.3f}", r20=f"{record.get(SELECTION_METRIC, float('nan')):.4f}")
        if stale >= config.patience or time.perf_counter() > deadline:
            break
    model.load_state_dict(best_state)
    model.eval()
    if model.spectral is not None:
        result.spectral_tuning = _choose_spectral(model, train_graph, history_pairs, val_targets, generator)
        result.best_metrics = _evaluate(model, train_graph, history_pairs, val_targets, config.eval_batch_size)
    return result


class _TargetCandidates:
    """The (user, item) pairs a user can be asked to predict, with their loss weight and time."""

    def __init__(self, interactions: UserInteractions, target_weights: dict[str, float]) -> None:
        unknown = set(target_weights) - {edge[1] for edge in USER_EDGE_TYPES}
        if unknown:
            raise PersonaGraphError(f"unknown edge types in TrainConfig.target_weights: {sorted(unknown)}")
        weight_of_kind = torch.tensor([target_weights.get(edge[1], 0.0) for edge in USER_EDGE_TYPES])
        weight = torch.where(interactions.is_item(), weight_of_kind[interactions.kind], 0.0)
        rows = torch.nonzero(weight > 0).flatten()
        # Keep, per (user, item), the row with the strongest edge type (e.g. the purchase, not the click).
        order = rows[torch.argsort(-weight[rows], stable=True)]
        key = interactions.user[order] * (int(interactions.node.max()) + 1) + interactions.node[order]
        _, inverse = torch.unique(key, return_inverse=True)
        first = torch.full((int(inverse.max()) + 1 if inverse.numel() else 0,), order.numel(), dtype=torch.long)
        first.scatter_reduce_(0, inverse, torch.arange(order.numel()), reduce="amin")
        chosen = order[first]
        self.user = interactions.user[chosen]
        self.item = interactions.node[chosen]
        self.weight = weight[chosen]
        self.last_ts = interactions.last_ts[chosen]
        self.num_users = int(torch.unique(self.user).numel())

    def draw(self, generator: torch.Generator) -> Tensor:
        """One random candidate index per user that has any."""
        shuffled = torch.randperm(self.user.numel(), generator=generator)
        shuffled = shuffled[torch.argsort(self.user[shuffled], stable=True)]
        users = self.user[shuffled]
        first = torch.ones_like(users, dtype=torch.bool)
        first[1:] = users[1:] != users[:-1]
        return shuffled[first]


def _train_epoch(
    model: ProfileModel,
    optimizer: torch.optim.Optimizer,
    graph: HeteroData,
    interactions: UserInteractions,
    candidates: _TargetCandidates,
    config: TrainConfig,
    generator: torch.Generator,
) -> float:
    """One pass with one target per user; returns the mean loss."""
    model.train()
    picked = candidates.draw(generator)
    num_users = interactions.num_users
    target_item = torch.full((num_users,), -1, dtype=torch.long)
    target_ts = torch.full((num_users,), float("-inf"), dtype=torch.float64)
    target_weight = torch.zeros(num_users)
    users = candidates.user[picked]
    target_item[users], target_ts[users], target_weight[users] = (
        candidates.item[picked], candidates.last_ts[picked], candidates.weight[picked]
    )
    is_item = interactions.is_item()
    is_target = is_item & (interactions.node == target_item[interactions.user])
    # Context: what the user did strictly before the target; events at the target's time
    # (the search that led to it) go too, as the evaluation split cuts them. Logs without
    # times (all of a user's edges at one time) fall back to leave-one-out.
    newest = scatter(interactions.last_ts, interactions.user, dim=0, dim_size=num_users, reduce="max")
    oldest = scatter(interactions.last_ts, interactions.user, dim=0, dim_size=num_users, reduce="min")
    untimed = (newest == oldest)[interactions.user]
    context = ((interactions.last_ts < target_ts[interactions.user]) | untimed) & ~is_target
    has_context = torch.bincount(interactions.user[context], minlength=num_users) > 0
    users = users[has_context[users]]
    users = users[torch.randperm(users.numel(), generator=generator)]
    # Negatives exclude all of a user's items except the target (history and future alike).
    other_items = is_item & ~is_target
    # Items learn co-occurrence from every edge except this epoch's targets.
    propagation = interactions.select(~is_target)
    total_loss, total_weight = 0.0, 0.0
    for start in range(0, users.numel(), config.batch_size):
        batch = users[start : start + config.batch_size]
        in_batch = torch.zeros(num_users, dtype=torch.bool)
        in_batch[batch] = True
        position = torch.full((num_users,), -1, dtype=torch.long)
        position[batch] = torch.arange(batch.numel())
        batch_context = interactions.select(context & in_batch[interactions.user])
        item_emb = model.item_embeddings(graph, propagation, normalize=False)
        user_emb = model.pool_users(batch_context, item_emb, model.query_embeddings(graph, item_emb), normalize=False)
        user_emb = nn.functional.normalize(user_emb[batch], dim=-1)
        logits = user_emb @ nn.functional.normalize(item_emb, dim=-1).T / config.temperature
        masked = other_items & in_batch[interactions.user]
        logits = logits.index_put(
            (position[interactions.user[masked]], interactions.node[masked]), torch.tensor(float("-inf"))
        )
        weight = target_weight[batch]
        loss = (nn.functional.cross_entropy(logits, target_item[batch], reduction="none") * weight).sum() / weight.sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * float(weight.sum())
        total_weight += float(weight.sum())
    return total_loss / max(total_weight, 1e-12)


@torch.no_grad()
def _evaluate(model: ProfileModel, graph: HeteroData, history: Tensor, targets: Tensor, batch_size: int) -> dict[str, float]:
    model.eval()
    metrics = evaluate_ranking(model.user_embeddings(graph), model.item_embeddings(graph), history, targets,
                               ks=(10, 20), batch_size=batch_size)
    metrics.pop("num_users")
    return metrics


@torch.no_grad()
def _choose_spectral(model: ProfileModel, graph: HeteroData, history: Tensor, targets: Tensor,
                     generator: torch.Generator) -> list[dict[str, float]]:
    """Set the spectral width and mix that rank validation targets best; returns every setting tried.

    Widths are prefixes of the fitted basis (a quarter, half, all of it). The GNN part is
    computed once; each setting only re-weights the two parts.
    """
    spectral = model.spectral
    num_users = int(graph["user"].num_nodes)
    target_indptr, target_items = as_csr(targets, num_users)
    users = torch.nonzero(target_indptr.diff() > 0).flatten()
    subset = max(SPECTRAL_SELECTION_USERS, SPECTRAL_SELECTION_SCORES // max(int(graph["item"].num_nodes), 1))
    users = users[torch.randperm(users.numel(), generator=generator)[:subset]].sort().values
    history_csr = csr_rows(*as_csr(history, num_users), users)
    user_targets = csr_rows(target_indptr, target_items, users)
    item_states = model.item_embeddings(graph, normalize=False)
    gnn_users, full_spectral_users = model.user_parts(UserInteractions.from_graph(graph), item_states,
                                                      model.query_embeddings(graph, item_states))
    gnn_users, full_spectral_users = gnn_users[users], full_spectral_users[users]
    gnn_items = nn.functional.normalize(item_states, dim=-1)
    widths = sorted({max(spectral.k // 4, 1), max(spectral.k // 2, 1), spectral.k})
    tried, best = [], (-1.0, 0.0, spectral.k)
    for width in widths:
        spectral_users = nn.functional.normalize(full_spectral_users[:, :width], dim=-1)
        spectral_items = spectral.truncated(width).item_part(gnn_items.shape[0])
        for mix in SPECTRAL_MIXES if width == widths[-1] else SPECTRAL_MIXES[1:]:
            model.spectral_mix.fill_(mix)
            metrics = evaluate_ranking(model.mix_parts(gnn_users, spectral_users),
                                       model.mix_parts(gnn_items, spectral_items),
                                       history_csr, user_targets, ks=(20,))
            tried.append({"spectral_dim": float(width), "mix": mix, SELECTION_METRIC: metrics[SELECTION_METRIC]})
            if metrics[SELECTION_METRIC] > best[0]:
                best = (metrics[SELECTION_METRIC], mix, width)
    _, mix, width = best
    model.set_spectral(spectral.truncated(width) if mix > 0 else None, mix)
    return tried
