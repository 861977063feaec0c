"""What a profile store says about the run it holds: the active run, and a sync that has not finished.

A sync first marks itself *pending* (run, run folder, step), writes, and only then makes its run
the *active* one. A pending sync found by the next command means the store may hold parts of two
runs: readers refuse to serve it, and the message names the step and the command that finishes it.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from personagraph.errors import PersonaGraphError

#: Sync kinds: ``full`` writes a whole run and removes everything else, ``update`` writes a subset.
FULL_SYNC = "full"
UPDATE_SYNC = "update"


def finish_command(run_folder: str | None) -> str:
    """The command that (re-)syncs a run folder."""
    return f"personagraph sync --run {run_folder or 'RUN_DIR'}"


@dataclass(frozen=True)
class SyncState:
    """The store's sync marker (all ``None`` for an empty store).

    ``active_run`` is the run readers see; ``pending_run`` is set from the start of a sync until
    its commit, with ``step`` the part it was writing (``since``: when that step began). The
    ``neighbour_blend`` says how the active run ranks items (a whole run's sync sets it).
    """

    active_run: str | None = None
    active_run_folder: str | None = None
    active_since: str | None = None
    embedding_dim: int | None = None
    pending_run: str | None = None
    pending_run_folder: str | None = None
    pending_kind: str | None = None
    pending_since: str | None = None
    step: str | None = None
    step_since: str | None = None
    #: How the active run ranks items: :class:`~personagraph.gnn.neighbour_blend.NeighbourBlend` as JSON.
    neighbour_blend: str | None = None

    @classmethod
    def from_properties(cls, properties: dict[str, Any]) -> "SyncState":
        known = cls.__dataclass_fields__
        return cls(**{name: _text(value) if name != "embedding_dim" else value
                      for name, value in properties.items() if name in known})

    @property
    def incomplete(self) -> bool:
        return self.pending_run is not None

    def blend_settings(self) -> dict[str, Any]:
        """The active run's neighbour blend as :meth:`NeighbourBlend.from_dict` reads it (empty: none)."""
        return json.loads(self.neighbour_blend) if self.neighbour_blend else {}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"complete": not self.incomplete}

    def incomplete_message(self) -> str:
        """One line: which sync is unfinished, at which step, and the command that finishes it."""
        kind = "update" if self.pending_kind == UPDATE_SYNC else "sync"
        active = (f"run {self.active_run} is still named active but Neo4j holds part of run {self.pending_run}"
                  if self.active_run else f"Neo4j holds part of run {self.pending_run}")
        again = ", then send the update again" if self.pending_kind == UPDATE_SYNC else ""
        return (f"Neo4j has an incomplete {kind} of run {self.pending_run} (at step '{self.step}' since "
                f"{self.step_since}): {active}, so profiles are not served — if no sync is running, finish it "
                f"with `{finish_command(self.pending_run_folder)}`{again} (`personagraph status` shows the state)")

    def require_complete(self) -> None:
        """Refuse (one line) while a sync is pending: its readers would see a mix of two runs."""
        if self.incomplete:
            raise PersonaGraphError(self.incomplete_message())


def _text(value: Any) -> Any:
    """Neo4j temporal values as ISO text; everything else as it is."""
    return value.iso_format() if hasattr(value, "iso_format") else value
