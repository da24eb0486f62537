"""Taking an event file into the mirror: read it whole, then apply it in order.

The file is read once to check every line and index the good ones by recording
time (feed.py), then the indexed events are applied in that order through the
mirror (mirror.record_stream), all in the caller's transaction. A file with any
problem, found in either step, is refused whole (FeedRefused, the transaction
rolls back) unless the caller skips invalid lines, in which case the good ones
are applied and every refused line is handed back for the rejects file.

Every feed taken in, whether from a file or from the simulator, leaves one row
in ``feed_batches`` for the operator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO

import structlog
from sqlalchemy import Connection

from regwatch.register.events import RegisterEvent
from regwatch.register.feed import PROBLEM_LIMIT, Problem, read_event_file
from regwatch.register.mirror import note_feed_batch, record_stream

log = structlog.get_logger(__name__)


@dataclass
class IngestReport:
    source: str
    administrative: bool
    lines: int = 0
    applied: int = 0
    duplicates: int = 0  # recorded before, or the same event twice in the file
    refused: int = 0
    changes: int = 0
    new_persons: int = 0
    days: dict[date, int] = field(default_factory=dict)
    rejected: list[Problem] = field(default_factory=list)

    @property
    def nothing_new(self) -> bool:
        return self.applied == 0 and self.refused == 0


def ingest_events(
    conn: Connection,
    stream: IO[bytes],
    *,
    source: str,
    received_at: datetime,
    administrative: bool = False,
    skip_invalid: bool = False,
    kind: str = "events",
) -> IngestReport:
    """Apply an event file (JSON Lines) to the mirror; see the module docstring.

    Raises FeedRefused, listing the problems by line, when a line is refused and
    ``skip_invalid`` is false; the caller's transaction must then roll back.
    """
    found = read_event_file(stream, limit=None if skip_invalid else PROBLEM_LIMIT)
    try:

        def refused(event: RegisterEvent, reason: str) -> None:
            found.refuse(event.event_id, reason)

        summary = record_stream(
            conn,
            found.events(),
            received_at=received_at,
            administrative=administrative,
            on_refused=refused,
            digest_of=found.digest_of,
        )
    finally:
        if found.source is not stream:
            found.source.close()
    problems = found.problems
    if problems and not skip_invalid:
        log.warning(
            "feed_refused", source=source, lines=found.lines, problems=problems.total
        )
        raise problems.refusal(f"event file {source}")

    report = IngestReport(
        source=source,
        administrative=administrative,
        lines=found.lines,
        applied=summary.applied,
        duplicates=summary.duplicates + found.repeated_in_file,
        refused=problems.total,
        changes=summary.changes,
        new_persons=summary.new_persons,
        days=dict(sorted(summary.days.items())),
        rejected=problems.listed,
    )
    note_feed_batch(
        conn,
        kind=kind,
        source=source,
        administrative=administrative,
        received_at=received_at,
        lines=report.lines,
        applied=report.applied,
        duplicates=report.duplicates,
        refused=report.refused,
        changes=report.changes,
        new_persons=report.new_persons,
    )
    log.info(
        "feed_ingested",
        source=source,
        kind=kind,
        lines=report.lines,
        applied=report.applied,
        duplicates=report.duplicates,
        refused=report.refused,
        changes=report.changes,
        administrative=administrative,
    )
    return report
