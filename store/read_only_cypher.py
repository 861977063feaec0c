"""What a read-only ad-hoc query may do: read the graph and its metadata, nothing else.

A READ transaction alone is not enough: Neo4j runs ``LOAD CSV`` (files, URLs),
``TERMINATE TRANSACTIONS`` (other sessions' work) and read-mode procedures such as
``db.stats.collect`` in it. So the query is first planned with ``EXPLAIN``, and Neo4j's
own verdict (query type, plan operators, procedure names) decides; a scan of the text
for the worst cases comes before that, as a second layer that needs no round trip.
"""
from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from neo4j import ManagedTransaction

from personagraph.errors import PersonaGraphError

#: Read-mode procedures that read the graph or its schema; any other procedure needs write mode.
READ_ONLY_PROCEDURES = re.compile(
    r"^db\.(index\.(vector|fulltext)\.\w+|awaitIndexes?|labels|relationshipTypes|propertyKeys|schema\.\w+|ping|info)$"
)
#: Plan operators that reach outside the graph even in a read transaction.
_REFUSED_OPERATORS = {
    "LoadCSV": "LOAD CSV (it reads files and URLs)",
    "TerminateTransactions": "TERMINATE TRANSACTIONS (it ends other sessions' work)",
}
#: Comments and quoted text, blanked before the text scan so that `RETURN 'LOAD CSV'` passes.
_QUOTED_OR_COMMENT = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|`[^`]*`|//[^\n]*|/\*.*?\*/", re.S)
_REFUSED_TEXT = (
    (re.compile(r"\bLOAD\s+CSV\b", re.I), _REFUSED_OPERATORS["LoadCSV"]),
    (re.compile(r"\bTERMINATE\s+TRANSACTIONS?\b", re.I), _REFUSED_OPERATORS["TerminateTransactions"]),
    (re.compile(r"\bCALL\s+dbms\s*\.", re.I), "dbms.* procedures"),
    (
        re.compile(
            r"^\s*((CREATE|DROP|ALTER|RENAME)(\s+OR\s+REPLACE)?\s+(USER|ROLE|(COMPOSITE\s+)?DATABASE|ALIAS)"
            r"|GRANT|DENY|REVOKE|(START|STOP)\s+DATABASE)\b",
            re.I,
        ),
        "administration commands",
    ),
)
_PROFILE = re.compile(r"^\s*PROFILE\b", re.I)
_PROCEDURE_NAME = re.compile(r"^\s*([\w.]+)\s*\(")


def _refusal(what: str) -> PersonaGraphError:
    return PersonaGraphError(f"read-only mode refuses {what} — rerun with --write (write=True in Python)")


def refuse_unsafe_text(query: str) -> None:
    """Refuse the obvious cases from the query text (outside quotes and comments)."""
    code = _QUOTED_OR_COMMENT.sub(" ", query)
    for pattern, what in _REFUSED_TEXT:
        if pattern.search(code):
            raise _refusal(what)


def _operators(plan: Mapping[str, Any] | None) -> Iterator[tuple[str, str]]:
    """(operator type without its ``@database`` suffix, details) of every operator in the plan tree."""
    if not plan:
        return
    yield plan.get("operatorType", "").split("@")[0], str(plan.get("args", {}).get("Details", ""))
    for child in plan.get("children", []):
        yield from _operators(child)


def refuse_unsafe_plan(tx: ManagedTransaction, query: str, parameters: Mapping[str, Any]) -> None:
    """Plan the query without running it and refuse anything but reading the graph."""
    planned = _PROFILE.sub("", query, count=1)  # PROFILE runs the query; EXPLAIN PROFILE is an error
    summary = tx.run(f"EXPLAIN {planned}", parameters).consume()
    if summary.query_type in ("w", "rw"):
        raise _refusal("writing to the database")
    if summary.query_type != "r":
        raise _refusal("schema changes, administration commands and dbms.* procedures")
    for operator, details in _operators(summary.plan):
        if operator in _REFUSED_OPERATORS:
            raise _refusal(_REFUSED_OPERATORS[operator])
        if operator == "ProcedureCall":
            match = _PROCEDURE_NAME.match(details)
            name = match.group(1) if match else details
            if not READ_ONLY_PROCEDURES.match(name):
                raise _refusal(f"the procedure {name}")
