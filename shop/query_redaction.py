"""E-mail addresses and phone numbers in search text, replaced before anything stores it.

People paste contact details into shop search boxes (order look-ups, "call me" requests).
A query is shared text (a `Query` node, a row of the profile space), not tied to the user
who typed it, so it would outlive that user's erasure: `train` and `update` therefore
replace e-mail addresses by ``<email>`` and phone-like digit runs by ``<phone>`` in the
normalised query, unless the run was trained with ``--keep-query-pii``. Queries that
become equal (``mail a@x.org``, ``mail b@y.org``) become one query.

A "phone number" is 7 to 15 digits, optionally led by ``+`` and split by spaces, dots,
dashes or parentheses, except a year range (``1999-2005``); long product or part numbers
are caught too (they are rare in search text, and a redacted one only costs that query its digits).
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from personagraph.shop.rejected_row import RejectedRow

EMAIL_PLACEHOLDER = "<email>"
PHONE_PLACEHOLDER = "<phone>"
_EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", re.I)
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d(?:[\s().-]{0,2}\d)+(?!\w)")
_PHONE_DIGITS = range(7, 16)
_YEAR_RANGE = re.compile(r"(1[89]|20)\d\d ?- ?(1[89]|20)\d\d")
#: Rejected-row values that may hold search text: the query, and the raw text of a broken JSON line.
_TEXT_VALUES = ("query", "raw")


def redact_query_pii(text: str) -> str:
    """``text`` with e-mail addresses and phone numbers replaced by placeholders."""
    text = _EMAIL.sub(EMAIL_PLACEHOLDER, text)
    return _PHONE.sub(_phone_or_kept, text)


def _phone_or_kept(match: re.Match[str]) -> str:
    digits = sum(char.isdigit() for char in match.group())
    if digits not in _PHONE_DIGITS or _YEAR_RANGE.fullmatch(match.group()):
        return match.group()
    return PHONE_PLACEHOLDER


def redact_rejected_queries(rows: Iterable[RejectedRow]) -> list[RejectedRow]:
    """Rejected rows with their search text redacted, so `rejected.csv` keeps no contact details either."""
    return [replace(row, values=row.values | {name: redact_query_pii(row.values[name])
                                              for name in _TEXT_VALUES if row.values.get(name)})
            for row in rows]
