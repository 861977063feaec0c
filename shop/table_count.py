"""How the rows of one input table were accounted for."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TableCount:
    """Rows read from one table, and what became of them: every row read is accepted or rejected.

    A row is one line of a CSV or JSON Lines file (blank lines aside; only a quoted CSV
    ``description`` may continue a row over more lines) or one row of a Parquet file. The
    summaries of `train`, `update` and `stats` print these so a user can see that no line
    vanished, which a stray quote once made happen silently.
    """

    file: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int

    def __str__(self) -> str:
        return (f"{self.file}: {self.rows_read:,} rows read = {self.rows_accepted:,} accepted"
                f" + {self.rows_rejected:,} rejected")

    def to_dict(self) -> dict[str, int | str]:
        return {"file": self.file, "rows_read": self.rows_read, "rows_accepted": self.rows_accepted,
                "rows_rejected": self.rows_rejected}
