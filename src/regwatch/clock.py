"""Time: the one place where instants, Vilnius days and the clock are defined.

Stored instants are UTC microseconds since the epoch (one format on every
database, cheap to bind in bulk, and free of the text-comparison traps of
timestamps with offsets). A *day* is a calendar day in Europe/Vilnius.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

VILNIUS = ZoneInfo("Europe/Vilnius")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that moves only when told to; for tests."""

    def __init__(self, start: datetime) -> None:
        self._now = require_aware(start)

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        self._now = require_aware(instant)

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def require_aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError(f"{instant.isoformat()} has no time zone")
    return instant.astimezone(UTC)


def to_micros(instant: datetime) -> int:
    delta = require_aware(instant) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)


def day_of(instant: datetime) -> date:
    """The Vilnius calendar day on which an instant falls."""
    return require_aware(instant).astimezone(VILNIUS).date()


def day_start(day: date) -> datetime:
    """The instant (UTC) at which a Vilnius day begins."""
    return datetime.combine(day, time(0), tzinfo=VILNIUS).astimezone(UTC)


def day_bounds_micros(day: date) -> tuple[int, int]:
    """[start, end) of a Vilnius day in stored form."""
    return to_micros(day_start(day)), to_micros(day_start(day + timedelta(days=1)))


def format_instant(instant: datetime) -> str:
    """An instant for the wire and for people: Vilnius time with its offset."""
    return require_aware(instant).astimezone(VILNIUS).isoformat(timespec="seconds")


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant; a value without offset is refused."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone offset (add Z or +02:00)")
    return value.astimezone(UTC)
