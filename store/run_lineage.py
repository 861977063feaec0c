"""Which training run a run id belongs to: an update's id names its run, so both count as one lineage.

`personagraph update` writes profiles under ``<run id>+update-NNNN``; the store, the run folder and
every command that matches stored profiles to a run folder compare lineages, not raw ids.
"""
from __future__ import annotations

from collections.abc import Mapping

#: Joins a run id and an update number into the run id of the profiles that update wrote.
UPDATE_RUN_SEPARATOR = "+update-"


def trained_run_id(run_id: str) -> str:
    """The id of the training run behind a run id, which may be an update's (``<run id>+update-0003``)."""
    return run_id.split(UPDATE_RUN_SEPARATOR)[0]


def same_lineage(run_id: str | None, other: str | None) -> bool:
    """Whether two run ids come from the same training run (``X`` and ``X+update-0003`` do)."""
    return run_id is not None and other is not None and trained_run_id(run_id) == trained_run_id(other)


def rows_of_other_runs(counts: Mapping[str, Mapping[str | None, int]], run_id: str | None) -> dict[str, int]:
    """Of ``counts`` (per label or relationship type, by the ``run_id`` that wrote them: what
    :meth:`~personagraph.store.profile_store.ProfileStore.count_by_run` returns), those not of
    ``run_id``'s lineage, per label or type; empty when the store mirrors one run."""
    other = {kind: sum(n for run, n in by_run.items() if not same_lineage(run, run_id))
             for kind, by_run in counts.items()}
    return {kind: n for kind, n in other.items() if n}
