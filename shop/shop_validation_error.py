"""The error ``read_shop`` raises when a shop's files have problems."""
from __future__ import annotations

from personagraph.errors import PersonaGraphError
from personagraph.shop.validation_problem import ValidationProblem

#: How many problems the error message lists; the rest are only counted.
MAX_LISTED_PROBLEMS = 20
SKIP_ADVICE = ("Fix these rows, or read with on_error='skip' (CLI: --on-error skip) to leave them out "
               "and write them to rejected.csv.")


class ShopValidationError(PersonaGraphError):
    """Bad rows or columns in a shop's input; lists the first problems and the total count.

    A single problem is one line (``file:line: field: reason — advice``), like every other
    error the CLI prints; several are listed one per line under a count.
    """

    def __init__(self, problems: list[ValidationProblem], total: int, advice: str = SKIP_ADVICE) -> None:
        self.problems = problems[:MAX_LISTED_PROBLEMS]
        self.total = total
        if total == 1 and len(self.problems) == 1:
            super().__init__(f"{self.problems[0]} — {advice}")
            return
        listed = "\n".join(f"  {problem}" for problem in self.problems)
        more = total - len(self.problems)
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(f"{total} problem(s) in the shop's files:\n{listed}{tail}\n{advice}")
