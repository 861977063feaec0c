"""A shop read from its files, with the fate of every row."""
from __future__ import annotations

from dataclasses import dataclass

from personagraph.shop.rejected_row import RejectedRow
from personagraph.shop.shop_data import ShopData
from personagraph.shop.table_count import TableCount


@dataclass
class ShopReading:
    """The shop built from the accepted rows, the rejected rows (``on_error="skip"``) and,
    per table, how many rows were read, accepted and rejected."""

    shop: ShopData
    rejected: list[RejectedRow]
    tables: list[TableCount]

    def describe(self) -> str:
        """One line per table: ``events.csv: 230 rows read = 228 accepted + 2 rejected``."""
        return "\n".join(str(table) for table in self.tables)

    def counts(self) -> list[dict[str, int | str]]:
        """The per-table counts, for JSON summaries."""
        return [table.to_dict() for table in self.tables]
