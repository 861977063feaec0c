"""Inductive training of the profile model with a full-softmax ranking loss.

Each epoch draws one target item per user from its purchase / cart / click edges and
hides from that user the target and every edge not older than it; the user vector is then
computed from what is left, and the target is ranked against all items (the user's
other items masked out, as in evaluation). The model so learns to predict the *next*
item from earlier behaviour, which is what a profile is used for, instead of learning
to recognise items already in the history.

An epoch costs time linear in the log: a step gathers only its batch's rows (the
interactions are sorted by user), the number of steps is capped
(``TrainConfig.max_steps_per_epoch``, since each step recomputes the item states), large
catalogues rank against sampled negatives, and early stopping scores a bounded sample of
validation users.

After training, the spectral filter's width and shape, then its mix, are chosen on the validation
targets (a mix of 0 drops the filter), so the kept model is the one that ranks them best.
"""
from __future__ import annotations

import copy
import functools
import itertools
import math
import time
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData
from torch_geometric.utils import scatter
from tqdm.auto import tqdm

from personagraph.errors import PersonaGraphError
from personagraph.process_memory import heap_reused, timed
from personagraph.gnn.distributed_training import DistributedTraining
from personagraph.gnn.low_pass_filter import LowPassFilter
from personagraph.gnn.neighbour_blend import LOW_PASS, LOW_PASS_NEIGHBOURS, NeighbourBlend, choose_neighbour_blend
from personagraph.gnn.profile_model import ProfileModel
from personagraph.evaluation.ranking_metrics import (Scorer, Targets, as_csr, csr_rows, dot_product_scorer,
                                                     evaluate_ranking, gain_and_standard_error, held_scorer,
                                                     recall_at_k, top_k_scored)
from personagraph.gnn.spectral_filter import SpectralFilter
from personagraph.gnn.train_config import (ITEM_DEGREE_EXPONENT, ITEM_DEGREE_EXPONENTS, SPECTRAL_POWER,
                                           SPECTRAL_POWERS, SPECTRAL_RIDGE, SPECTRAL_RIDGES, USER_DEGREE_EXPONENT,
                                           USER_DEGREE_EXPONENTS, TrainConfig)
from personagraph.gnn.user_interactions import UserInteractions
from personagraph.graph.item_neighbours import NEIGHBOUR_COUNTS, ItemNeighbours
from personagraph.shop.schema import shop_schema

SELECTION_K = 20
SELECTION_METRIC = f"recall@{SELECTION_K}"
#: Weights of the spectral part tried on validation (0 = GNN only, 1 = spectral only).
SPECTRAL_MIXES = (0.0, 0.1, 0.25, 0.5, 0.7, 0.8, 0.9, 1.0)
#: The spectral choice is made on a random subset of validation users, for speed: at least this
#: many, and more while a setting scores at most SPECTRAL_SELECTION_SCORES (user, item) pairs.
SPECTRAL_SELECTION_USERS = 3000
SPECTRAL_SELECTION_SCORES = 120_000_000
#: The settings of the spectral filter searched together (see :func:`_choose_spectral`), in order.
SPECTRAL_SEARCH_GROUPS = (("spectral_dim", "spectral_power"), ("spectral_power", "spectral_ridge"),
                          ("user_degree_exponent",), ("item_degree_exponent",), ("mix",))


@dataclass
class TrainResult:
    """The model with its best-epoch weights, and how training went."""

    model: ProfileModel
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_metrics: dict[str, float] = field(default_factory=dict)
    spectral_tuning: list[dict[str, float]] = field(default_factory=list)
    neighbour_blend: NeighbourBlend = field(default_factory=NeighbourBlend)
    neighbour_tuning: list[dict[str, float]] = field(default_factory=list)
    #: Seconds and peak RSS so far at the end of each part ("epochs", "spectral choice", "neighbour
    #: choice"): where the time and the memory of a training go.
    phases: dict[str, dict[str, float]] = field(default_factory=dict)


def train_profile_model(
    train_graph: HeteroData, val_targets: Tensor, config: TrainConfig, progress: bool = True,
    processes: DistributedTraining | None = None, spectral_targets: Targets | None = None,
) -> TrainResult:
    """Train on ``train_graph``, early-stop on Recall@20 of ``val_targets`` (item per user, -1 = none).

    The spectral filter is chosen on ``spectral_targets`` (default ``val_targets``): all of each
    user's validation items where there are several, since one per user picked by position is
    not a fair sample of them (on a given split the first held-out item is the lowest index).

    Under torchrun (``processes``) each step's users are split between the processes and the
    main one validates, decides when to stop and chooses the spectral part; the other
    processes return the trained weights without that choice (they write nothing).
    """
    processes = processes or DistributedTraining()
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    interactions = UserInteractions.from_graph(train_graph)
    candidates = _TargetCandidates(interactions, config.target_weights)
    if candidates.num_users == 0:
        raise PersonaGraphError(
            f"no user has a {'/'.join(config.target_weights)} edge to learn from; "
            f"check the event log or TrainConfig.target_weights ({config.target_weights})"
        )
    model = ProfileModel.from_graph(train_graph, config.dim, config.use_item_ids, config.dropout,
                                    config.spectral_dim, config.seed, **_starting_shape(config))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    step = processes.wrap(_RankingStep(model, config.temperature))
    validation = _ValidationSample(interactions, val_targets, config)
    result = TrainResult(model=model)
    deadline = time.perf_counter() + 60.0 * config.max_minutes if config.max_minutes else float("inf")
    bar = tqdm(range(1, config.epochs + 1), desc="training profiles", unit="epoch",
               disable=not (progress and processes.is_main))
    best_state, best_score, stale = copy.deepcopy(model.state_dict()), -1.0, 0
    with timed(result.phases, "epochs"), heap_reused():  # each step's big tensors: no fresh pages
        for epoch in bar:
            started = time.perf_counter()
            loss = _train_epoch(step, optimizer, train_graph, interactions, candidates, config, generator, processes)
            record = {"epoch": float(epoch), "loss": loss}
            if epoch % config.eval_every == 0 or epoch == config.epochs:
                record |= processes.from_main(lambda: validation.evaluate(model, train_graph))
                if record[SELECTION_METRIC] > best_score:
                    best_state, best_score, stale = copy.deepcopy(model.state_dict()), record[SELECTION_METRIC], 0
                    result.best_epoch, result.best_metrics = epoch, {k: v for k, v in record.items() if "@" in k}
                else:
                    stale += 1
            record["seconds"] = time.perf_counter() - started
            result.history.append(record)
            bar.set_postfix(loss=f"{loss:.3f}", r20=f"{record.get(SELECTION_METRIC, float('nan')):.4f}")
            if processes.from_main(lambda: stale >= config.patience or time.perf_counter() > deadline):
                break
    model.load_state_dict(best_state)
    model.eval()
    if model.spectral is not None and processes.is_main:
        with timed(result.phases, "spectral choice"):
            result.spectral_tuning = _choose_spectral(
                model, train_graph, interactions.item_history(),
                val_targets if spectral_targets is None else spectral_targets, generator, config)
            result.best_metrics = validation.evaluate(model, train_graph)
    if processes.is_main and config.neighbour_weight != 0:
        with timed(result.phases, "neighbour choice"):
            result.neighbour_blend, result.neighbour_tuning = _choose_neighbour_blend(
                model, train_graph, interactions, val_targets if spectral_targets is None else spectral_targets,
                generator, config)
    return result


class _TargetCandidates:
    """The (user, item) pairs a user can be asked to predict, with their loss weight and time."""

    def __init__(self, interactions: UserInteractions, target_weights: dict[str, float]) -> None:
        events = shop_schema().event_names  # an edge type's code is its event's code
        unknown = set(target_weights) - set(events)
        if unknown:
            raise PersonaGraphError(f"unknown edge types in TrainConfig.target_weights: {sorted(unknown)}")
        weight_of_kind = torch.tensor([target_weights.get(name, 0.0) for name in events])
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
    step: nn.Module,
    optimizer: torch.optim.Optimizer,
    graph: HeteroData,
    interactions: UserInteractions,
    candidates: _TargetCandidates,
    config: TrainConfig,
    generator: torch.Generator,
    processes: DistributedTraining,
) -> float:
    """One pass with one target per user; returns the mean loss.

    ``step`` is a :class:`_RankingStep` (DDP-wrapped under torchrun). Every process draws the
    same targets, batches and negatives (same seed) and computes the loss of its share of
    each batch.
    """
    step.train()
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
    # Per-epoch tables, sorted by user: a step gathers its batch's rows through their indptr.
    contexts = interactions.select(context)
    context_indptr = contexts.indptr()
    # Negatives exclude all of a user's items except the target (history and future alike).
    excluded = interactions.select(is_item & ~is_target)
    excluded_indptr = excluded.indptr()
    # Items learn co-occurrence from every edge except this epoch's targets.
    propagation = interactions.select(~is_target)
    num_items = int(graph["item"].num_nodes)
    batch_size = epoch_batch_size(users.numel(), config)
    total_loss, total_weight = 0.0, 0.0
    for start in range(0, users.numel(), batch_size):
        batch = users[start : start + batch_size]
        negatives = (None if num_items <= config.full_softmax_items
                     else torch.randperm(num_items, generator=generator)[: config.sampled_negatives])
        # Each process's loss is its share's weighted sum over the batch's weight / processes:
        # DDP averages the gradients, so they are those of the whole batch's weighted mean.
        share, weight = processes.shard(batch), float(target_weight[batch].sum())
        loss = step(graph, propagation, contexts.rows_of(share, context_indptr),
                    excluded.rows_of(share, excluded_indptr), target_item[share], target_weight[share],
                    negatives, weight / processes.world_size)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total_loss += loss.item() * weight / processes.world_size
        total_weight += weight
    return processes.sum(total_loss) / max(total_weight, 1e-12)


class _RankingStep(nn.Module):
    """One training step's loss as a module: DistributedDataParallel syncs gradients only through ``forward``."""

    def __init__(self, model: ProfileModel, temperature: float) -> None:
        super().__init__()
        self.model = model
        self.temperature = temperature

    def forward(self, graph: HeteroData, propagation: UserInteractions, context: UserInteractions,
                excluded: UserInteractions, targets: Tensor, weights: Tensor, negatives: Tensor | None,
                divisor: float) -> Tensor:
        """``Σ loss·weight / divisor`` over the users of ``context`` (renumbered from 0, like ``excluded``)."""
        model = self.model
        item_states = model.item_states(graph, propagation)
        pooling = model.pool(context, item_states, model.query_states(graph, item_states))
        losses = softmax_ranking_loss(
            nn.functional.normalize(pooling.state, dim=-1), nn.functional.normalize(item_states, dim=-1),
            targets, (excluded.user, excluded.node), self.temperature, negatives,
        )
        return (losses * weights).sum() / divisor


def epoch_batch_size(num_users: int, config: TrainConfig) -> int:
    """Users per step: ``config.batch_size``, or more, so an epoch takes at most ``max_steps_per_epoch`` steps."""
    return max(config.batch_size, math.ceil(num_users / max(config.max_steps_per_epoch, 1)))


def softmax_ranking_loss(users: Tensor, items: Tensor, targets: Tensor, excluded: tuple[Tensor, Tensor],
                         temperature: float, negatives: Tensor | None = None) -> Tensor:
    """``[batch]`` cross-entropy of each row's target item; ``excluded`` (row, item) pairs never compete.

    ``negatives=None`` ranks the target against every item (exact). Otherwise it competes with
    ``negatives``, a uniform sample of distinct items shared by the batch: every logit is
    lowered by the log of its item's expected count in the sample (the logQ correction of
    sampled softmax), so the loss estimates the full one and equals it when all items are
    sampled. A sampled item that is the row's target or excluded is no negative.
    """
    excluded_row, excluded_item = excluded
    minus_inf = torch.tensor(float("-inf"))
    if negatives is None:
        logits = users @ items.T / temperature
        logits = logits.index_put((excluded_row, excluded_item), minus_inf)
        return nn.functional.cross_entropy(logits, targets, reduction="none")
    num_items = items.shape[0]
    log_q = math.log(negatives.numel() / num_items)
    positive = (users * items[targets]).sum(dim=1, keepdim=True) / temperature - log_q
    negative = users @ items[negatives].T / temperature - log_q
    column = torch.full((num_items,), -1, dtype=torch.long)
    column[negatives] = torch.arange(negatives.numel())
    rows = torch.cat([torch.arange(users.shape[0]), excluded_row])
    columns = column[torch.cat([targets, excluded_item])]
    sampled = columns >= 0
    negative = negative.index_put((rows[sampled], columns[sampled]), minus_inf)
    logits = torch.cat([positive, negative], dim=1)
    return nn.functional.cross_entropy(logits, torch.zeros_like(targets), reduction="none")


class _ValidationSample:
    """The validation users early stopping scores: all of them, or ``config.max_eval_users`` drawn once.

    Only the sample's users are pooled and ranked, so an evaluation costs the sample's edges
    and the sample x items, whatever the number of users.
    """

    def __init__(self, interactions: UserInteractions, targets: Tensor, config: TrainConfig) -> None:
        users = torch.nonzero(targets >= 0).flatten()
        if users.numel() > config.max_eval_users:  # its own generator: training's draws stay as they are
            draw = torch.randperm(users.numel(), generator=torch.Generator().manual_seed(config.seed))
            users = users[draw[: config.max_eval_users]].sort().values
        self.interactions = interactions
        self.rows = interactions.rows_of(users, interactions.indptr())
        self.targets = targets[users]
        self.history = csr_rows(*as_csr(interactions.item_history(), interactions.num_users), users)
        self.batch_size = config.eval_batch_size

    @torch.no_grad()
    def evaluate(self, model: ProfileModel, graph: HeteroData) -> dict[str, float]:
        """Recall@K / NDCG@K (K = 10, 20) of the sample's targets, their history items excluded.

        ``graph`` is the one ``interactions`` came from.
        """
        model.eval()
        item_states = model.item_states(graph, self.interactions)
        pooling = model.pool(self.rows, item_states, model.query_states(graph, item_states))
        metrics = evaluate_ranking(*model.ranking_vectors(self.rows, pooling, item_states), self.history,
                                   self.targets, ks=(10, 20), batch_size=self.batch_size)
        metrics.pop("num_users")
        return metrics


def _selection_users(targets: Targets, num_users: int, num_items: int,
                     generator: torch.Generator) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """The validation users a post-training choice scores (all that have targets, or a random sample
    sized by :data:`SPECTRAL_SELECTION_USERS` / ``_SCORES``), sorted, and their targets (CSR)."""
    target_indptr, target_items = as_csr(targets, num_users)
    users = torch.nonzero(target_indptr.diff() > 0).flatten()
    subset = max(SPECTRAL_SELECTION_USERS, SPECTRAL_SELECTION_SCORES // max(num_items, 1))
    users = users[torch.randperm(users.numel(), generator=generator)[:subset]].sort().values
    return users, csr_rows(target_indptr, target_items, users)


@torch.no_grad()
def _choose_neighbour_blend(model: ProfileModel, graph: HeteroData, interactions: UserInteractions, targets: Targets,
                            generator: torch.Generator, config: TrainConfig) -> tuple[NeighbourBlend, list[dict]]:
    """The trained model's :class:`NeighbourBlend`, chosen on the validation users the spectral
    choice samples (its rule), with the neighbour table fitted on the training graph."""
    num_users, num_items = int(graph["user"].num_nodes), int(graph["item"].num_nodes)
    users, user_targets = _selection_users(targets, num_users, num_items, generator)
    rows = interactions.rows_of(users, interactions.indptr())
    model.eval()
    item_states = model.item_states(graph, interactions)
    pooling = model.pool(rows, item_states, model.query_states(graph, item_states))
    scorer = dot_product_scorer(*model.ranking_vectors(rows, pooling, item_states))
    items = interactions.item_matrix(num_items)
    table_for = functools.partial(ItemNeighbours.fit, items, max(NEIGHBOUR_COUNTS))  # by user-weight exponent
    low_pass_table = (functools.partial(NeighbourBlend(1.0, LOW_PASS_NEIGHBOURS, similarity=LOW_PASS).fit_table, items)
                      if LowPassFilter.affordable(items.nnz, num_items) else None)
    picked = users.numpy()
    history = functools.lru_cache(maxsize=None)(lambda decay: interactions.item_matrix(num_items, decay)[picked])
    return choose_neighbour_blend(scorer, history, csr_rows(*as_csr(interactions.item_history(), num_users), users),
                                  user_targets, table_for, low_pass_table,
                                  fixed_weight=config.neighbour_weight, batch_size=config.eval_batch_size)


def _starting_shape(config: TrainConfig) -> dict[str, float]:
    """The spectral filter's shape while training: the config's, or the defaults where it is to be chosen."""
    return {"user_degree_exponent": _or(config.user_degree_exponent, USER_DEGREE_EXPONENT),
            "item_degree_exponent": _or(config.item_degree_exponent, ITEM_DEGREE_EXPONENT),
            "spectral_power": _or(config.spectral_power, SPECTRAL_POWER),
            "spectral_ridge": _or(config.spectral_ridge, SPECTRAL_RIDGE)}


def _or(value: float | None, default: float) -> float:
    return default if value is None else float(value)


def spectral_grid(config: TrainConfig, k: int) -> dict[str, tuple[float, ...]]:
    """What the spectral choice tries per setting: a fixed config value, or the setting's grid."""
    def grid(value: float | None, choices: tuple[float, ...]) -> tuple[float, ...]:
        return choices if value is None else (float(value),)

    return {"spectral_dim": tuple(sorted({max(k // 8, 1), max(k // 4, 1), max(k // 2, 1), k})),
            "user_degree_exponent": grid(config.user_degree_exponent, USER_DEGREE_EXPONENTS),
            "item_degree_exponent": grid(config.item_degree_exponent, ITEM_DEGREE_EXPONENTS),
            "spectral_power": grid(config.spectral_power, SPECTRAL_POWERS),
            "spectral_ridge": grid(config.spectral_ridge, SPECTRAL_RIDGES),
            "mix": SPECTRAL_MIXES}


@torch.no_grad()
def _choose_spectral(model: ProfileModel, graph: HeteroData, history: Tensor, targets: Targets,
                     generator: torch.Generator, config: TrainConfig) -> list[dict[str, float]]:
    """Set the spectral filter's width, shape and mix with the GNN that rank validation targets best.

    Returns every setting tried. A coordinate search over :func:`spectral_grid`, one group of
    settings at a time (:data:`SPECTRAL_SEARCH_GROUPS`: width and power together, then power and
    ridge together, as each pair trades off; each degree exponent; the mix), passes repeated until
    none improves. It starts from the filter alone (mix 1), so the first pass shapes the filter on
    its own; once a mix is chosen, later passes reshape it as the GNN's complement, which need not
    be the shape that is best alone. A GNN share is kept only when it beats the filter's best setting alone by more than
    one standard error of the per-user difference (else the filter alone is taken: the GNN must earn
    its place). The last entry reports the best the filter scored alone against the chosen
    setting, so the GNN's validation gain over the training-free filter is on record. The GNN part
    and the users' pooling are computed once; each setting only re-weights columns.
    """
    spectral = model.spectral
    num_users = int(graph["user"].num_nodes)
    users, user_targets = _selection_users(targets, num_users, int(graph["item"].num_nodes), generator)
    history_csr = csr_rows(*as_csr(history, num_users), users)
    interactions = UserInteractions.from_graph(graph)
    item_states = model.item_states(graph, interactions)
    subset_rows = interactions.rows_of(users, interactions.indptr())  # only the chosen users are pooled
    pooling = model.pool(subset_rows, item_states, model.query_states(graph, item_states))
    gnn_users = nn.functional.normalize(pooling.state, dim=-1)
    gnn_items = nn.functional.normalize(item_states, dim=-1)
    num_items = gnn_items.shape[0]

    @functools.lru_cache(maxsize=2)
    def parts(filter_shape: tuple[tuple[str, float], ...]) -> tuple[SpectralFilter, Tensor, Tensor]:
        settings = dict(filter_shape)
        candidate = spectral.reshaped(int(settings["spectral_dim"]), settings["user_degree_exponent"],
                                      settings["item_degree_exponent"], settings["spectral_power"],
                                      settings["spectral_ridge"])
        return candidate, candidate.user_part(subset_rows, pooling.attention), candidate.item_part(num_items)

    def filter_shape(setting: dict[str, float]) -> tuple[tuple[str, float], ...]:
        return tuple((name, value) for name, value in setting.items() if name != "mix")

    # A setting's scores mix the GNN's and the filter's: each is scored once (within memory), the GNN's
    # for the whole search and the filter's per shape, so trying another mix costs no product.
    gnn_scorer = held_scorer(dot_product_scorer(gnn_users, gnn_items), users.numel(), num_items)
    held: dict[tuple[tuple[str, float], ...], Scorer] = {}

    def spectral_scorer(shape: tuple[tuple[str, float], ...]) -> Scorer:
        if shape not in held:
            held.clear()  # one shape's scores at a time
            _, spectral_users, spectral_items = parts(shape)
            held[shape] = held_scorer(dot_product_scorer(spectral_users, spectral_items), users.numel(), num_items)
        return held[shape]

    def scorer(setting: dict[str, float]) -> Scorer:
        """Ranks as the model's vectors with this setting would (their scores up to a constant factor)."""
        mix = setting["mix"]
        if mix == 0.0:
            return gnn_scorer
        spectral = spectral_scorer(filter_shape(setting))
        return spectral if mix == 1.0 else lambda rows: (1.0 - mix) * gnn_scorer(rows) + mix * spectral(rows)

    def recall_per_user(setting: dict[str, float]) -> Tensor:
        ranked = top_k_scored(scorer(setting), history_csr, torch.arange(users.numel()), SELECTION_K)
        return recall_at_k(ranked, user_targets, SELECTION_K)

    def score(setting: dict[str, float]) -> float:  # every selected user has a validation target
        return float(recall_per_user(setting).mean()) if users.numel() else 0.0

    grid = spectral_grid(config, spectral.k)
    setting = {"spectral_dim": float(spectral.k), **spectral.shape, "mix": 1.0}
    setting = {name: value if value in grid[name] else grid[name][0] for name, value in setting.items()}
    scores: dict[tuple[float, ...], float] = {}
    tried: list[dict[str, float]] = []
    improved = True
    while improved:
        improved = False
        for group in SPECTRAL_SEARCH_GROUPS:
            for choice in itertools.product(*(grid[name] for name in group)):
                candidate = setting | {name: float(value) for name, value in zip(group, choice)}
                key = tuple(candidate.values())
                if key in scores:
                    continue
                scores[key] = score(candidate)
                tried.append(candidate | {SELECTION_METRIC: scores[key]})
                if scores[key] > scores.get(tuple(setting.values()), -1.0):
                    setting, improved = candidate, True
    alone_row = max((row for row in tried if row["mix"] == 1.0), key=lambda row: row[SELECTION_METRIC])
    alone_setting = {name: alone_row[name] for name in setting}
    alone, best = alone_row[SELECTION_METRIC], scores[tuple(setting.values())]
    guard: dict[str, float] = {}
    if 0.0 < setting["mix"] < 1.0:
        # The GNN must earn its share: noise between close settings is no reason for a bigger model.
        gain, standard_error = gain_and_standard_error(recall_per_user(setting), recall_per_user(alone_setting))
        guard = {"gnn_standard_error": standard_error}
        if gain <= standard_error:
            guard["gnn_within_noise"] = best - alone
            setting, best = alone_setting, alone
    chosen, _, _ = parts(filter_shape(setting))
    model.set_spectral(chosen if setting["mix"] > 0 else None, setting["mix"])
    tried.append(setting | {SELECTION_METRIC: best, "filter_alone": alone, "gain_over_filter": best - alone} | guard)
    return tried
