"""A row that ``read_shop(..., on_error="skip")`` left out, kept so the shop can fix it."""
from __future__ import annotations

from dataclasses import dataclass

from personagraph.shop.validation_problem import ValidationProblem


@dataclass(frozen=True)
class RejectedRow:
    """The row's original values (as text, by column) and the first problem found in it."""

    values: dict[str, str]
    problem: ValidationProblem
