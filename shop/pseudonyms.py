"""Pseudonymous user ids: a keyed hash replaces each raw id as soon as the shop is read.

`train --pseudonymise` and `update --pseudonymise` map user ids through
:class:`Pseudonymiser` right after reading, before the graph, so raw ids never reach the
graph, the run folder or the store. HMAC-SHA256 under a secret key, unlike a plain hash,
cannot be reversed by hashing a list of likely ids; the same key always gives the same
pseudonym, so updates and lookups (`personagraph pseudonym USER_ID`) find the user again.
The key is a 0600 file in the state folder: whoever holds it can link pseudonyms to ids.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from personagraph.errors import PersonaGraphError
from personagraph.private_files import make_private_dir, make_private_file, write_private_text
from personagraph.shop.rejected_row import RejectedRow

#: Name of the key file in the state folder.
KEY_FILE_NAME = "pseudonym.key"
#: Pseudonyms start with this, so they are told from raw ids at a glance.
PSEUDONYM_PREFIX = "p_"
#: Columns of the shop's tables that hold user ids (events and social links).
USER_ID_COLUMNS = ("user_id", "other_user_id")
#: The field a reader names for a row whose structure is broken (its values may be shifted).
STRUCTURE_PROBLEM = "row"
_KEY_BYTES = 32
_PSEUDONYM_HEX = 32  # 128 bits: no collision among any realistic number of users


class Pseudonymiser:
    """Maps user ids to ``p_<32 hex>`` pseudonyms with HMAC-SHA256 under one secret key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise PersonaGraphError("the pseudonym key is too short (at least 16 bytes)")
        self._key = key

    @classmethod
    def from_key_file(cls, path: str | Path) -> "Pseudonymiser":
        """The key in ``path`` (hex), created with a fresh random key if missing; always private (0600)."""
        path = Path(path)
        if not path.exists():
            make_private_dir(path.parent)
            try:
                write_private_text(path, secrets.token_hex(_KEY_BYTES) + "\n")
            except FileExistsError:  # another process created it meanwhile: use that one
                pass
        make_private_file(path, tighten=True)
        text = path.read_text(encoding="utf-8").strip()
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = b""
        if len(key) < 16:
            raise PersonaGraphError(f"{path} does not hold a pseudonym key (hex, at least 16 bytes); restore it "
                                    "from your backup — without it pseudonyms cannot be matched to user ids again")
        return cls(key)

    @property
    def key_id(self) -> str:
        """A fingerprint of the key (not of any id), recorded in a run so a different key is refused."""
        return hmac.new(self._key, b"personagraph pseudonym key id", hashlib.sha256).hexdigest()[:16]

    def __call__(self, user_id: str) -> str:
        """The pseudonym of ``user_id`` (surrounding spaces ignored, as the readers ignore them)."""
        digest = hmac.new(self._key, user_id.strip().encode("utf-8"), hashlib.sha256).hexdigest()
        return PSEUDONYM_PREFIX + digest[:_PSEUDONYM_HEX]

    def rejected(self, rows: Iterable[RejectedRow]) -> list[RejectedRow]:
        """Rejected rows with their user ids pseudonymised (values and reasons), so `rejected.csv` holds no raw id.

        A row whose structure is broken (wrong field count, bad JSON) keeps its location and
        problem but none of its values: a raw id could sit in any of them."""
        return [self._rejected_row(row) for row in rows]

    def _rejected_row(self, row: RejectedRow) -> RejectedRow:
        if row.problem.field == STRUCTURE_PROBLEM:
            return replace(row, values={})
        raw = {column: row.values[column].strip() for column in USER_ID_COLUMNS if row.values.get(column, "").strip()}
        reason = row.problem.reason
        for user_id in raw.values():  # reasons quote ids as repr, e.g. "unknown user 'bob'"
            reason = reason.replace(repr(user_id), repr(self(user_id)))
        return replace(row, values=row.values | {column: self(user_id) for column, user_id in raw.items()},
                       problem=replace(row.problem, reason=reason))
