"""A trained run loaded back: the one way every command that reads a run folder opens it.

`explain`, `recommend --run`, `audience`, `update` and `profile` all work in the run's frozen
:class:`ProfileSpace` over its current shop (the trained data plus every update), so what
they compute agrees with the stored profiles, also after `personagraph update`. The text
encoder is only loaded when new text has to be encoded: looking a user up needs none.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.parquet as pq
import torch
from torch_geometric.data import HeteroData

from personagraph.encoders.load_text_encoder import load_text_encoder
from personagraph.encoders.sentence_transformer_encoder import DEFAULT_MODEL_NAME
from personagraph.encoders.text_encoder import TextEncoder
from personagraph.errors import PersonaGraphError
from personagraph.gnn.checkpoint import Checkpoint, load_checkpoint
from personagraph.gnn.neighbour_blend import NeighbourBlend
from personagraph.gnn.profile_model import ProfileModel
from personagraph.graph.hetero_graph_builder import build_hetero_graph
from personagraph.graph.item_neighbours import ItemNeighbours, recency_weighted
from personagraph.pipeline.run_folder import ASIDE_MARK, RunFolder, trained_run_id
from personagraph.profiles.profile_space import ProfileSpace
from personagraph.profiles.search_projection import SearchProjection
from personagraph.shop.schema import shop_schema
from personagraph.shop.shop_data import ShopData

if TYPE_CHECKING:
    from personagraph.pipeline.recommender import Recommendation

#: Where `personagraph train` puts run folders by default (relative to the working directory).
DEFAULT_RUNS_DIR = Path("runs")


@dataclass
class Run:
    """A run folder's config, model, profile space and current shop; ``encode`` loads the encoder on first use."""

    folder: RunFolder
    config: dict[str, Any]
    checkpoint: Checkpoint
    space: ProfileSpace
    shop: ShopData
    updates: int  # how many `personagraph update`s the shop holds
    cache_dir: Path | None = None  # embedding cache; None: the one the run recorded

    @classmethod
    def load(cls, path: str | Path | None = None, cache_dir: str | Path | None = None, *,
             active_run_id: str | None = None, runs_dir: str | Path = DEFAULT_RUNS_DIR,
             progress: bool = False) -> "Run":
        """The run in ``path``; without one, the run :func:`find_run_dir` picks (``active_run_id``:
        the run of the profiles in the store). ``progress`` shows bars while the shop is read."""
        folder = RunFolder(find_run_dir(path, active_run_id, runs_dir))
        folder.restore_interrupted_swap()
        if not (folder.path / "config.json").is_file():
            what = "has no config.json" if folder.path.is_dir() else "does not exist"
            raise PersonaGraphError(f"{folder.path} is not a run folder (it {what}); pass --run RUN_DIR, "
                                    "the folder `personagraph train --out` wrote")
        config = folder.read_json("config.json")
        checkpoint = load_checkpoint(folder.checkpoint)
        space = ProfileSpace.load(folder.profile_space)
        shop, updates = folder.current_shop(progress)
        if shop.catalog.item_ids != space.item_ids or shop.events.query_texts != space.query_texts:
            raise PersonaGraphError(
                f"the shop data of {folder.path} ({config.get('data_dir')}) no longer lists the items and queries "
                "the run was trained on; restore the data folder the run read, or train again"
            )
        return cls(folder=folder, config=config, checkpoint=checkpoint, space=space, shop=shop, updates=updates,
                   cache_dir=Path(cache_dir) if cache_dir is not None else None)

    @property
    def model(self) -> ProfileModel:
        return self.checkpoint.model

    @property
    def run_id(self) -> str:
        """The id of the run as of its latest update (what `update` last wrote to the store)."""
        return self.folder.update_run_id(self.updates) if self.updates else self.config["run_id"]

    @property
    def trained_run_id(self) -> str:
        return self.config["run_id"]

    @cached_property
    def encoder(self) -> TextEncoder:
        """The encoder the model was trained with, over the run's embedding cache (loaded on first use)."""
        name = self.checkpoint.encoder_name
        # The packaged default model is recorded by its hub name; its spec loads it offline.
        spec = None if name in (None, DEFAULT_MODEL_NAME) else name
        return load_text_encoder(spec, self.cache_dir or self.config["embedding_cache"])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Text vectors as the model expects them (a :data:`~personagraph.profiles.profile_space.Encode`)."""
        return self.encoder.encode(list(texts))

    @cached_property
    def search_projection(self) -> SearchProjection | None:
        """The run's search projection (what the store's user index is over), ``None`` when search is exact."""
        path = self.folder.search_projection
        return SearchProjection.load(path) if path.is_file() else None

    @cached_property
    def graph(self) -> HeteroData:
        """The current shop's graph, without text features: the states come from the space."""
        return build_hetero_graph(self.shop)

    @cached_property
    def item_vectors(self) -> np.ndarray:
        """``[num_items, out_dim]`` the items in the users' space, as stored (`Item.embedding`)."""
        return self.space.item_vectors(self.model)

    def user_index(self, user_id: str) -> int:
        """The user's index in the run's shop, or a clear error for an id the shop does not have."""
        try:
            return self.shop.events.user_ids.index(user_id)
        except ValueError:
            raise PersonaGraphError(f"no user {user_id!r} in the shop of run {self.folder.path} — check the id") from None

    def stored_vector(self, user_id: str) -> np.ndarray:
        """The user's profile vector as the run folder stores it (`profiles.parquet`)."""
        rows = pq.read_table(self.folder.profiles, columns=["vector"], filters=[("user_id", "==", user_id)])
        if not rows.num_rows:
            raise PersonaGraphError(f"no profile of user {user_id!r} in {self.folder.profiles} — check the id")
        return np.asarray(rows["vector"][0].as_py(), dtype=np.float32)

    @cached_property
    def neighbour_blend(self) -> NeighbourBlend:
        """How the run ranks items: the profile score alone, or with the neighbour score beside it."""
        blend = NeighbourBlend.from_dict(self.config.get("neighbour_blend"))
        return blend if blend.active and self.folder.item_neighbours.is_file() else NeighbourBlend()

    @cached_property
    def item_neighbours(self) -> ItemNeighbours | None:
        """The run's neighbour table (``None`` when it ranks by the profile vectors alone)."""
        return ItemNeighbours.load(self.folder.item_neighbours) if self.neighbour_blend.active else None

    def neighbour_scores(self, user_ids: Sequence[str]) -> np.ndarray | None:
        """``[users, items]`` the neighbour score the run ranks with beside the profiles: each item's
        summed similarity to the user's items, weighted by recency as training chose (items in the run's
        catalogue order); ``None`` where the run ranks by the profile vectors alone."""
        blend = self.neighbour_blend
        if not blend.active:
            return None
        events = self.shop.events
        index = {user_id: position for position, user_id in enumerate(events.user_ids)}
        missing = next((user_id for user_id in user_ids if user_id not in index), None)
        if missing is not None:
            self.user_index(missing)  # its clear error
        wanted = np.asarray([index[user_id] for user_id in user_ids], dtype=np.int64)
        row_of = np.full(events.num_users, -1, dtype=np.int64)
        row_of[wanted] = np.arange(wanted.size)  # a repeated id: its last row holds the history
        own = (row_of[events.user] >= 0) & np.isin(events.kind, shop_schema().item_event_codes) & (events.item >= 0)
        history = recency_weighted(row_of[events.user[own]], events.item[own], events.timestamp[own],
                                   (wanted.size, len(self.shop.catalog)), blend.recency_decay)
        return self.item_neighbours.cut(blend.neighbours).scores(history[row_of[wanted]])

    def recommend(self, user_id: str, k: int = 10, include_seen: bool = False) -> list["Recommendation"]:
        """What :class:`Recommender` ranks through the store, ranked exactly from the run folder: the
        stored profile against every item (with the neighbour score of the user's items beside it
        where training chose one), the user's items left out unless ``include_seen``."""
        from personagraph.pipeline.recommender import Recommendation  # it imports the Neo4j driver

        if k < 1:
            raise PersonaGraphError(f"k must be at least 1, got {k}")
        vector = self.stored_vector(user_id)
        items = self.item_vectors
        scores = items @ vector / np.maximum(np.linalg.norm(items, axis=1) * np.linalg.norm(vector), 1e-12)
        events = self.shop.events
        own = (events.user == self.user_index(user_id)) & np.isin(events.kind, shop_schema().item_event_codes)
        own &= events.item >= 0
        neighbour = self.neighbour_scores([user_id])
        if neighbour is not None:
            scores = self.neighbour_blend.combine(torch.from_numpy(scores[None, :].astype(np.float32)),
                                                  torch.from_numpy(neighbour)).numpy()[0]
        candidates = np.arange(len(scores))
        if not include_seen:
            candidates = np.setdiff1d(candidates, events.item[own])
        catalog = self.shop.catalog
        best = sorted(candidates.tolist(), key=lambda i: (-float(scores[i]), catalog.item_ids[i]))[:k]
        return [Recommendation(id=catalog.item_ids[i], score=float(scores[i]), title=catalog.titles[i],
                               category=catalog.categories[i],
                               price=None if np.isnan(catalog.prices[i]) else float(catalog.prices[i]))
                for i in best]


def find_run_dir(path: str | Path | None = None, active_run_id: str | None = None,
                 runs_dir: str | Path = DEFAULT_RUNS_DIR) -> Path:
    """The run folder a command reads, by one rule for all: ``path`` when given; else the folder
    under ``runs_dir`` of the run ``active_run_id`` names (the stored profiles' run, which may be
    an update's); else the run folder under ``runs_dir`` whose profiles were written last.
    Hidden folders are a train's work in progress, never a run to read."""
    if path is not None:
        return Path(path)
    runs = Path(runs_dir)
    for aside in runs.glob(f".*{ASIDE_MARK}*"):
        RunFolder(runs / aside.name[1:].rsplit(ASIDE_MARK, 1)[0]).restore_interrupted_swap()
    configs = (config for config in runs.glob("*/config.json") if not config.parent.name.startswith("."))
    folders = sorted((config.parent for config in configs), key=_last_written, reverse=True)
    if active_run_id is not None:
        wanted = trained_run_id(active_run_id)
        for folder in folders:
            if RunFolder(folder).read_json("config.json").get("run_id") == wanted:
                return folder
        raise PersonaGraphError(
            f"the stored profiles come from run {wanted!r}, but no folder under {runs.resolve()} holds it — "
            "pass --run RUN_DIR (the folder `personagraph train --out` wrote)"
        )
    if not folders:
        raise PersonaGraphError(f"no run folder under {runs.resolve()}; pass --run RUN_DIR "
                                "(the folder `personagraph train --out` wrote)")
    return folders[0]


def _last_written(folder: Path) -> float:
    """When the run's profiles last changed (`update` rewrites them), else when it was configured."""
    profiles = RunFolder(folder).profiles
    return (profiles if profiles.is_file() else folder / "config.json").stat().st_mtime
