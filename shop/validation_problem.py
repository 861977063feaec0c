"""One thing wrong with one row (or column) of a shop's input files."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ValidationProblem:
    """Where a problem is and what it is, printed as ``file:line: field: reason``.

    ``location`` is the physical line number for CSV and JSON Lines (the CSV header is
    line 1), ``row N`` for Parquet (N counts data rows from 1), or empty for a problem
    with the whole file (such as a missing column). Keeping the parts apart lets a
    caller write them as separate columns of ``rejected.csv``.
    """

    file: str
    location: str
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.location}" if self.location else self.file
        return f"{where}: {self.field}: {self.reason}"
