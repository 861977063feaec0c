"""A real Neo4j store whose connection "drops" in the middle of one sync step, for tests of interrupted syncs.

Not a mock: every batch before the failure really reaches the test server, so the database is
left exactly as a sync cut short there would leave it. Importable from test modules because
pytest puts ``tests/`` (the conftest's folder) on ``sys.path``.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from personagraph.errors import PersonaGraphError
from personagraph.store.neo4j_profile_store import Neo4jProfileStore

LOST = "lost the connection to Neo4j (simulated) — check that it runs"


class StoreThatDies(Neo4jProfileStore):
    """A real store whose connection "drops" once ``step`` has written ``after`` batches: ``die``
    raises (by default) or really stops the server, and the write goes on against what is left."""

    def __init__(self, store: Neo4jProfileStore, step: str, after: int = 1,
                 die: Callable[[], None] | None = None) -> None:
        super().__init__(store.driver, store.database, batch_size=3)
        self.dies_at, self.after, self.batches = step, after, 0
        self.step: str | None = None
        self.die = die or _raise_lost

    def mark_sync_step(self, step: str) -> None:
        super().mark_sync_step(step)
        self.step = step

    def _execute(self, work: Callable[..., Any], write: bool, *args: Any) -> Any:
        if write and self.step == self.dies_at:
            if self.batches == self.after:
                self.die()
            self.batches += 1
        return super()._execute(work, write, *args)

    def prune_other_runs(self, run_id: str) -> dict[str, int]:
        if self.dies_at == "prune":
            self.die()
        return super().prune_other_runs(run_id)

    def close(self) -> None:  # the driver is the wrapped store's
        pass


def _raise_lost() -> None:
    raise PersonaGraphError(LOST)
