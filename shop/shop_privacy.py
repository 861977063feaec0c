"""What happens to personal data right after a shop is read, before the graph: one setting per run.

`train` chooses it (``--pseudonymise``, ``--keep-query-pii``) and records it in the run's
``config.json``; `update` and every re-read of the run's data must apply the same, or users
and queries would no longer match what the run stored.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from personagraph.errors import PersonaGraphError
from personagraph.shop.pseudonyms import Pseudonymiser
from personagraph.shop.query_redaction import redact_query_pii, redact_rejected_queries
from personagraph.shop.rejected_row import RejectedRow
from personagraph.shop.shop_data import ShopData
from personagraph.shop.user_recoding import renamed_shop

#: The key of ``config.json`` that records a run's :class:`ShopPrivacy`.
CONFIG_KEY = "privacy"


@dataclass(frozen=True)
class ShopPrivacy:
    """Pseudonymous user ids (with ``pseudonymiser``) and search text with contact details redacted."""

    pseudonymiser: Pseudonymiser | None = None
    redact_queries: bool = True

    def shop(self, shop: ShopData) -> ShopData:
        """``shop`` with pseudonyms for user ids and redacted search text, as this setting says."""
        if self.pseudonymiser is None and not self.redact_queries:
            return shop
        return renamed_shop(shop, user=self.pseudonymiser, query=redact_query_pii if self.redact_queries else None)

    def rejected(self, rows: Iterable[RejectedRow]) -> list[RejectedRow]:
        """Rejected rows treated alike, for `rejected.csv`."""
        rows = redact_rejected_queries(rows) if self.redact_queries else list(rows)
        return self.pseudonymiser.rejected(rows) if self.pseudonymiser is not None else rows

    def to_config(self) -> dict[str, Any]:
        """What ``config.json`` records: whether ids are pseudonyms (and under which key, by fingerprint)."""
        return {"pseudonym_key_id": self.pseudonymiser.key_id if self.pseudonymiser is not None else None,
                "query_pii": "redacted" if self.redact_queries else "kept"}

    @classmethod
    def of_run(cls, config: Mapping[str, Any], pseudonymiser: Pseudonymiser | None, run: str | Path) -> "ShopPrivacy":
        """The privacy of the run with ``config``, checked against the ``pseudonymiser`` a command was given.

        Runs made before this setting existed stored raw ids and raw queries."""
        recorded = config.get(CONFIG_KEY) or {"pseudonym_key_id": None, "query_pii": "kept"}
        key_id = recorded.get("pseudonym_key_id")
        if key_id is not None and pseudonymiser is None:
            raise PersonaGraphError(f"run {run} stores pseudonymous user ids: pass --pseudonymise, "
                                    "so the new users get pseudonyms too")
        if key_id is None and pseudonymiser is not None:
            raise PersonaGraphError(f"run {run} stores raw user ids, so --pseudonymise would make every user "
                                    "a new one; drop --pseudonymise, or train again with it")
        if pseudonymiser is not None and pseudonymiser.key_id != key_id:
            raise PersonaGraphError(
                f"run {run} was pseudonymised with another key (fingerprint {key_id}, this one is "
                f"{pseudonymiser.key_id}); point PERSONAGRAPH_HOME (or PERSONAGRAPH_PSEUDONYM_KEY) at the "
                "state folder (key file) it was trained with")
        return cls(pseudonymiser, redact_queries=recorded.get("query_pii") == "redacted")
