"""Daily register activity: generated days of events, recorded in the mirror.

Each simulated day is planned from the register as it stands at its start
(planner.py), at the rates of rates.py, written as an event file in the feed
format and taken in through the same door as any real feed (ingest.py), in one
transaction that also moves the simulated clock to the day's end. Planning is
deterministic: the same seed, day and starting database give the same events,
with ids ``sim-<seed>-<YYYYMMDD>-<n>`` numbered in recording order.
"""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import IO

from sqlalchemy import Connection

from regwatch.clock import day_of, day_start
from regwatch.register.events import RegisterEvent
from regwatch.register.feed import event_line
from regwatch.register.ingest import ingest_events
from regwatch.register.synth.planner import DayPlanner, SimulationRefused
from regwatch.store.engine import Database, read_simulated_clock, set_simulated_clock


@dataclass
class SimulationSummary:
    first_day: date | None = None
    last_day: date | None = None
    clock: datetime | None = None
    events: int = 0
    changes: int = 0
    new_persons: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    days: dict[date, int] = field(default_factory=dict)


def simulate(
    db: Database,
    days: int,
    seed: int,
    *,
    rate_scale: float = 1.0,
    progress: Callable[[date, int], None] | None = None,
    out: IO[bytes] | None = None,
) -> SimulationSummary:
    """Record ``days`` days of register activity, from the simulated clock on.

    The current day of the database's simulated clock is the first; its events
    come after the clock's time. Each day is one transaction: its events are
    recorded (change log included) and the clock moves to the midnight that
    ends it, so the clock finally stands at the end of the last day. A database
    on the wall clock is refused. With ``out``, the event file of every day is
    also written there, so that it can be fed to another mirror.
    """
    if days < 1:
        raise ValueError(f"days must be 1 or more, not {days}")
    if rate_scale < 0:
        raise ValueError(f"rate_scale must not be negative, not {rate_scale}")
    with db.read() as conn:
        now = read_simulated_clock(conn)
    if now is None:
        raise SimulationRefused(
            "this database runs on the wall clock; simulation needs a simulated "
            "clock (service_state 'simulated_clock', e.g. regwatch init "
            "--simulated-clock)"
        )

    summary = SimulationSummary(first_day=day_of(now))
    for offset in range(days):
        day = day_of(now) + timedelta(days=offset)
        end = day_start(day + timedelta(days=1))
        with db.write() as conn:
            clock = read_simulated_clock(conn)
            assert clock is not None
            events = plan_day(
                conn,
                day,
                day_rng(seed, day),
                seed=seed,
                after=clock,
                rate_scale=rate_scale,
            )
            # The day's events reach the mirror as one feed at the end of the day
            # (one transaction per day), so they all carry that receipt time;
            # each keeps its own recording time, which decides its day.
            lines = b"".join(event_line(event) for event in events)
            recorded = ingest_events(
                conn,
                io.BytesIO(lines),
                source=f"simulation seed {seed} {day.isoformat()}",
                received_at=end,
                kind="simulation",
            )
            set_simulated_clock(conn, end)
            if out is not None:
                # Written before the day commits: a file that cannot take the
                # day leaves the day unrecorded, so file and mirror agree.
                out.write(lines)
                out.flush()
        summary.last_day, summary.clock = day, end
        summary.events += recorded.applied
        summary.changes += recorded.changes
        summary.new_persons += recorded.new_persons
        summary.days[day] = recorded.applied
        for event in events:
            name = event.type.value
            summary.by_type[name] = summary.by_type.get(name, 0) + 1
        if progress is not None:
            progress(day, recorded.applied)
    return summary


def day_rng(seed: int, day: date) -> random.Random:
    """The random source of one simulated day: depends on nothing but its inputs."""
    return random.Random(f"regwatch-activity:{seed}:{day.isoformat()}")


def plan_day(
    conn: Connection,
    day: date,
    rng: random.Random,
    *,
    seed: int,
    after: datetime | None = None,
    rate_scale: float = 1.0,
) -> list[RegisterEvent]:
    """The events of one Vilnius day, planned against the mirror; nothing is written.

    Only events recorded after ``after`` (if given) are kept. The events are in
    recording order and their ids are ``sim-<seed>-<YYYYMMDD>-<n>``.
    """
    return DayPlanner(conn, day, rng, seed, after, rate_scale).plan()
