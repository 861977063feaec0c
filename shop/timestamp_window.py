"""When a shop's events may have happened, and how a timestamp's text becomes epoch seconds.

A timestamp outside a sane window is a typo or a unit mistake (a year 1 date, epoch
milliseconds read as seconds, a clock set decades ahead), and it does quiet damage: one
far-future event sets every user's ``recency_days`` (measured from the shop's last event)
to millions of days. So such rows are rejected like any other bad row.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from personagraph.errors import PersonaGraphError

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: Default earliest event time: older than any e-commerce log, late enough to catch year-1 and epoch-0 dates.
DEFAULT_NOT_BEFORE = datetime(1990, 1, 1, tzinfo=timezone.utc)
#: Default slack after the time of the run, for clocks a little ahead and time zones.
DEFAULT_FUTURE_SLACK = timedelta(days=1)
#: Epoch values at or above this are almost surely milliseconds (seconds would be year 5138+).
EPOCH_SECONDS_LIMIT = 1e11


def parse_timestamp(text: str) -> tuple[float, str]:
    """Epoch seconds from ISO 8601 (naive means UTC) or a number of epoch seconds;
    the second value is the reason when the text cannot be used (else empty)."""
    text = text.strip()
    if not text:
        return math.nan, "empty"
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return math.nan, f"cannot read {text!r} as ISO 8601 or epoch seconds"
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        try:
            # Subtracting never overflows where .timestamp() can (year 1 with a positive offset).
            return (moment - EPOCH).total_seconds(), ""
        except OverflowError:
            return math.nan, f"{text!r} is not a representable date"
    if not math.isfinite(seconds):
        return math.nan, f"not a finite number: {text!r}"
    if abs(seconds) >= EPOCH_SECONDS_LIMIT:
        return math.nan, f"{text!r} looks like epoch milliseconds; give epoch seconds"
    return seconds, ""


def _iso(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "any time"
    return (EPOCH + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class TimestampWindow:
    """Event times must lie in ``[earliest, latest]`` (epoch seconds, inclusive; infinite = open)."""

    earliest: float
    latest: float

    def __post_init__(self) -> None:
        if math.isnan(self.earliest) or math.isnan(self.latest) or self.earliest > self.latest:
            raise PersonaGraphError(f"the timestamp window {self} is empty: --not-before must come before --not-after")

    def __str__(self) -> str:
        return f"{_iso(self.earliest)} .. {_iso(self.latest)}"

    @classmethod
    def default(cls, now: datetime | None = None) -> "TimestampWindow":
        """From :data:`DEFAULT_NOT_BEFORE` to :data:`DEFAULT_FUTURE_SLACK` after ``now`` (default: the current time)."""
        return cls.from_options(None, None, now)

    @classmethod
    def any_time(cls) -> "TimestampWindow":
        """No bounds: for synthetic rows (generators, tests) whose times are deliberately small."""
        return cls(-math.inf, math.inf)

    @classmethod
    def from_options(cls, not_before: str | None, not_after: str | None,
                     now: datetime | None = None) -> "TimestampWindow":
        """The window the CLI options ``--not-before`` / ``--not-after`` (ISO 8601 or epoch seconds) give;
        a missing bound takes its default."""
        now = now or datetime.now(timezone.utc)
        earliest = _bound("--not-before", not_before, (DEFAULT_NOT_BEFORE - EPOCH).total_seconds())
        latest = _bound("--not-after", not_after, (now + DEFAULT_FUTURE_SLACK - EPOCH).total_seconds())
        return cls(earliest, latest)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "TimestampWindow":
        """The window :meth:`to_dict` recorded; none recorded (a run from before windows existed) means any time."""
        if not data:
            return cls.any_time()
        return cls(float(data.get("earliest", -math.inf)), float(data.get("latest", math.inf)))

    def to_dict(self) -> dict[str, Any]:
        """Epoch seconds (for reading again) and ISO text (for people)."""
        return {"earliest": self.earliest, "latest": self.latest, "not_before": _iso(self.earliest),
                "not_after": _iso(self.latest)}

    def parse(self, text: str) -> tuple[float, str]:
        """:func:`parse_timestamp`, with a reason also for a time outside the window."""
        seconds, reason = parse_timestamp(text)
        if reason:
            return seconds, reason
        if seconds < self.earliest:
            return math.nan, (f"{text.strip()!r} is before {_iso(self.earliest)}, the earliest time accepted "
                              "(a wrong date or unit? --not-before sets the bound)")
        if seconds > self.latest:
            return math.nan, (f"{text.strip()!r} is after {_iso(self.latest)}, the latest time accepted "
                              "(a clock or unit mistake? --not-after sets the bound)")
        return seconds, ""


def _bound(option: str, text: str | None, default: float) -> float:
    if text is None or not text.strip():
        return default
    seconds, reason = parse_timestamp(text)
    if reason:
        raise PersonaGraphError(f"{option}: {reason}; give a date such as 2020-01-01 or 2030-01-01T00:00:00Z")
    return seconds
