"""A narrow search vector per user: the profile projected onto the run's top principal directions.

A profile is as wide as its GNN and spectral parts together (up to ``dim + spectral_dim + 1``);
an HNSW index over a million such vectors is gigabytes and slow to build and to query. The
store therefore indexes a ``dim``-wide *search vector* (the profile's coordinates along the
top right singular vectors of a sample of the run's profiles, re-normalised) and keeps the full
profile beside it: the index proposes candidates, the full vectors rank them exactly. So the
projection only has to put the true neighbours among the candidates, not order them.

The directions are uncentred (singular vectors, not covariance eigenvectors): profiles are
compared by cosine, which the mean direction is part of. They are fitted once, at train time,
by a seeded randomised SVD (Halko, Martinsson & Tropp) whose cost is linear in the sampled
users times the width, and frozen in the run folder like the profile space, so every vector
written later (`update`, `sync`) is projected the same way. They are ``dim`` linear
combinations of many users' profiles and hold no id; erasing users leaves them as they are,
like the model's weights.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from personagraph.errors import PersonaGraphError

#: Width of the search vector when a run gets one.
SEARCH_DIM = 128
#: Fewest users for which a run gets a search vector: below it an index over the full
#: profiles is small and fast, and search stays exact.
MIN_USERS = 20_000
#: Profiles the directions are fitted on (a seeded sample when there are more).
SAMPLE_SIZE = 50_000
#: Extra random directions and power iterations of the randomised SVD (its accuracy).
OVERSAMPLING, POWER_ITERATIONS = 16, 3


@dataclass(frozen=True)
class SearchProjection:
    """``components``: ``[dim, width]`` orthonormal rows (the top right singular vectors of the sample);
    ``energy_kept``: the share of the sample's squared norm they keep; ``sample_size`` and ``seed``: how
    they were fitted."""

    components: np.ndarray
    energy_kept: float
    sample_size: int
    seed: int

    @property
    def dim(self) -> int:
        return int(self.components.shape[0])

    @property
    def width(self) -> int:
        return int(self.components.shape[1])

    @classmethod
    def for_profiles(cls, vectors: np.ndarray, seed: int = 0, dim: int = SEARCH_DIM,
                     min_users: int = MIN_USERS) -> "SearchProjection | None":
        """The run's projection by the default rule, or ``None`` (search on the full profiles) when
        the profiles are at most ``dim`` wide or there are fewer than ``min_users`` of them."""
        users, width = vectors.shape
        if width <= dim or users < min_users or users < dim:
            return None
        return cls.fit(vectors, dim, seed)

    @classmethod
    def fit(cls, vectors: np.ndarray, dim: int, seed: int = 0, sample_size: int = SAMPLE_SIZE) -> "SearchProjection":
        """The top ``dim`` directions of ``vectors`` (``[users, width]``), from a seeded sample of at most
        ``sample_size`` of them; the same vectors and seed give the same projection."""
        users, width = vectors.shape
        if not 1 <= dim <= min(users, width):
            raise PersonaGraphError(f"a search projection needs 1 ≤ dim ≤ min(users, width) = {min(users, width)}, "
                                    f"got {dim}")
        rng = np.random.default_rng(seed)
        sample_size = max(sample_size, dim)
        rows = np.sort(rng.choice(users, sample_size, replace=False)) if users > sample_size else slice(None)
        sample = np.asarray(vectors[rows], dtype=np.float64)
        rank = min(dim + OVERSAMPLING, *sample.shape)
        basis = _orthonormal(sample @ rng.standard_normal((width, rank)))
        for _ in range(POWER_ITERATIONS):  # sharpen the spectrum so the top directions dominate
            basis = _orthonormal(sample @ _orthonormal(sample.T @ basis))
        _, singular, directions = np.linalg.svd(basis.T @ sample, full_matrices=False)
        components = directions[:dim]
        # The sign of a singular vector is arbitrary: fix it so its largest entry is positive.
        largest = np.abs(components).argmax(axis=1)
        components *= np.sign(components[np.arange(dim), largest])[:, None]
        total = float(np.square(sample).sum())
        kept = float(np.square(singular[:dim]).sum() / total) if total > 0 else 1.0
        return cls(components.astype(np.float32), min(kept, 1.0), int(sample.shape[0]), int(seed))

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """``[n, dim]`` unit-length search vectors of ``[n, width]`` profiles (one profile: ``[dim]``)."""
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.shape[-1] != self.width:
            raise PersonaGraphError(f"the search projection takes {self.width}-d profiles, got {vectors.shape[-1]}-d; "
                                    "the vectors come from another run")
        projected = vectors @ self.components.T
        norms = np.linalg.norm(projected, axis=-1, keepdims=True)
        return projected / np.maximum(norms, 1e-12)

    def summary(self) -> dict[str, float | int]:
        """What the run summary records about the search vector."""
        return {"dim": self.dim, "width": self.width, "energy_kept": round(self.energy_kept, 4),
                "sample_size": self.sample_size}

    def save(self, path: str | Path) -> Path:
        """Write the projection to ``path`` (one ``.npz``: the matrix and its config, replaced atomically)."""
        path = Path(path)
        config = {"energy_kept": self.energy_kept, "sample_size": self.sample_size, "seed": self.seed}
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "wb") as handle:
            np.savez(handle, components=self.components, config=np.array(json.dumps(config)))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "SearchProjection":
        try:
            with np.load(path, allow_pickle=False) as stored:
                config = json.loads(str(stored["config"]))
                return cls(stored["components"].astype(np.float32), float(config["energy_kept"]),
                           int(config["sample_size"]), int(config["seed"]))
        except (OSError, KeyError, ValueError) as exc:
            raise PersonaGraphError(f"cannot read the search projection {path} ({exc}); the run folder is damaged — "
                                    "train again") from None


def _orthonormal(matrix: np.ndarray) -> np.ndarray:
    return np.linalg.qr(matrix)[0]
