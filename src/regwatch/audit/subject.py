"""The data-subject report (GDPR art. 15): what the service did with one person.

For one person, found by any code they have or had: which customers follow or
followed them and when; which day answers named them, with which kinds, and
when each was handed over; which extracts asked for them, with which purpose,
and what was returned. The list history and the frozen day answers are read
from their own tables; what was handed over is read from the audit trail, so
it stays in the report after the day answers leave the retention window.

Making the report is itself handed-over data, so it is an audit record too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from regwatch.audit import trail
from regwatch.clock import format_instant, from_micros
from regwatch.kinds import from_mask
from regwatch.register.restrictions import person_by_code
from regwatch.store.engine import Database
from regwatch.store.tables import (
    audit_persons,
    audit_records,
    customers,
    day_answers,
    list_entries,
    personal_codes,
)


@dataclass(frozen=True)
class CodeHeld:
    code: str
    since: datetime
    until: datetime | None


@dataclass(frozen=True)
class Following:
    customer_id: str
    customer_name: str
    loaded_code: str
    since: datetime
    until: datetime | None


@dataclass(frozen=True)
class Handover:
    at: datetime
    record: int  # the audit record's number
    trace_id: str | None


@dataclass
class DayAnswer:
    customer_id: str
    day: date
    kinds: list[str]
    previous_code: str | None = None
    administrative: bool = False
    answer_kept: bool = True  # False once the frozen answer has left retention
    handed_over: list[Handover] = field(default_factory=list)


@dataclass(frozen=True)
class ExtractAsked:
    customer_id: str
    at: datetime
    record: int
    request_id: str | None
    trace_id: str | None
    purpose: str | None
    returned: bool
    groups: list[str]  # handed over; empty when not returned
    reason: str | None  # why not returned


@dataclass(frozen=True)
class RestrictionChange:
    at: datetime
    restricted: bool  # set (True) or lifted (False)
    reason: str | None
    record: int


@dataclass(frozen=True)
class SubjectReport:
    person_id: int
    current_code: str
    codes: list[CodeHeld]
    restricted: bool
    restrictions: list[RestrictionChange]
    followed: list[Following]
    day_answers: list[DayAnswer]
    extracts: list[ExtractAsked]
    made_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "person": {
                "person_id": self.person_id,
                "current_code": self.current_code,
                "codes": [
                    {"code": c.code, "since": _at(c.since), "until": _at(c.until)}
                    for c in self.codes
                ],
                "restricted": self.restricted,
                "restrictions": [
                    {
                        "at": _at(r.at),
                        "restricted": r.restricted,
                        "reason": r.reason,
                        "record": r.record,
                    }
                    for r in self.restrictions
                ],
            },
            "followed": [
                {
                    "customer_id": f.customer_id,
                    "customer_name": f.customer_name,
                    "loaded_code": f.loaded_code,
                    "since": _at(f.since),
                    "until": _at(f.until),
                }
                for f in self.followed
            ],
            "day_answers": [
                {
                    "customer_id": a.customer_id,
                    "day": a.day.isoformat(),
                    "kinds": a.kinds,
                    "previous_code": a.previous_code,
                    "administrative": a.administrative,
                    "answer_kept": a.answer_kept,
                    "handed_over": [
                        {"at": _at(h.at), "record": h.record, "trace_id": h.trace_id}
                        for h in a.handed_over
                    ],
                }
                for a in self.day_answers
            ],
            "extracts": [
                {
                    "customer_id": e.customer_id,
                    "at": _at(e.at),
                    "record": e.record,
                    "request_id": e.request_id,
                    "trace_id": e.trace_id,
                    "purpose": e.purpose,
                    "returned": e.returned,
                    "groups": e.groups,
                    "reason": e.reason,
                }
                for e in self.extracts
            ],
            "made_at": _at(self.made_at),
        }


def _at(instant: datetime | None) -> str | None:
    return format_instant(instant) if instant is not None else None


def subject_report(db: Database, code: str) -> SubjectReport:
    """The report of the person who has or had ``code``; NotFound if nobody."""
    with db.write() as conn:
        person = person_by_code(conn, code)
        person_id = person.person_id
        now = db.now(conn)
        report = SubjectReport(
            person_id=person_id,
            current_code=person.personal_code,
            codes=_codes(conn, person_id),
            restricted=bool(person.restricted),
            restrictions=_restrictions(conn, person_id),
            followed=_followed(conn, person_id),
            day_answers=_day_answers(conn, person_id),
            extracts=_extracts(conn, person_id),
            made_at=now,
        )
        trail.append(
            conn,
            now,
            "SubjectReport",
            customer_id=None,
            actor=trail.OPERATOR,
            persons=1,
            detail={"person_id": person_id},
        )
    return report


def _codes(conn: Connection, person_id: int) -> list[CodeHeld]:
    rows = conn.execute(
        select(personal_codes)
        .where(personal_codes.c.person_id == person_id)
        .order_by(personal_codes.c.assigned_at, personal_codes.c.code)
    )
    return [
        CodeHeld(
            row.code,
            from_micros(row.assigned_at),
            from_micros(row.replaced_at) if row.replaced_at is not None else None,
        )
        for row in rows
    ]


def _restrictions(conn: Connection, person_id: int) -> list[RestrictionChange]:
    changes = [
        RestrictionChange(from_micros(row.at), True, row.purpose, row.seq)
        for row in _named_records(conn, person_id, "RestrictPerson")
    ] + [
        RestrictionChange(from_micros(row.at), False, row.purpose, row.seq)
        for row in _named_records(conn, person_id, "LiftRestriction")
    ]
    return sorted(changes, key=lambda change: change.record)


def _followed(conn: Connection, person_id: int) -> list[Following]:
    rows = conn.execute(
        select(list_entries, customers.c.name)
        .join(customers, customers.c.customer_id == list_entries.c.customer_id)
        .where(list_entries.c.person_id == person_id)
        .order_by(list_entries.c.added_at, list_entries.c.entry_id)
    )
    return [
        Following(
            row.customer_id,
            row.name,
            row.loaded_code,
            from_micros(row.added_at),
            from_micros(row.removed_at) if row.removed_at is not None else None,
        )
        for row in rows
    ]


def _named_records(conn: Connection, person_id: int, operation: str) -> list[Any]:
    return list(
        conn.execute(
            select(audit_records, audit_persons.c.kinds.label("kinds_given"))
            .join(audit_persons, audit_persons.c.seq == audit_records.c.seq)
            .where(audit_persons.c.person_id == person_id)
            .where(audit_records.c.operation == operation)
            .order_by(audit_records.c.seq)
        )
    )


def _day_answers(conn: Connection, person_id: int) -> list[DayAnswer]:
    answers: dict[tuple[str, date], DayAnswer] = {}
    for row in conn.execute(
        select(day_answers)
        .where(day_answers.c.person_id == person_id)
        .order_by(day_answers.c.day, day_answers.c.customer_id)
    ):
        answers[(row.customer_id, row.day)] = DayAnswer(
            row.customer_id,
            row.day,
            [k.value for k in from_mask(row.kinds)],
            row.previous_code,
            bool(row.administrative),
        )
    for row in _named_records(conn, person_id, "GetClientsDataChanges"):
        day = date.fromisoformat(json.loads(row.detail)["day"])
        answer = answers.get((row.customer_id, day))
        if answer is None:  # the frozen answer has gone; the trail remains
            answer = answers[(row.customer_id, day)] = DayAnswer(
                row.customer_id,
                day,
                [k.value for k in from_mask(row.kinds_given)],
                answer_kept=False,
            )
        answer.handed_over.append(Handover(from_micros(row.at), row.seq, row.trace_id))
    return sorted(answers.values(), key=lambda a: (a.day, a.customer_id))


def _extracts(conn: Connection, person_id: int) -> list[ExtractAsked]:
    asked = []
    for row in _named_records(conn, person_id, "GetPersonData"):
        returned = row.kinds_given != 0
        detail = json.loads(row.detail)
        reason = next(
            (
                why
                for why, ids in detail.get("withheld", {}).items()
                if person_id in ids
            ),
            "RESTRICTED",  # records made before reasons were kept per person
        )
        asked.append(
            ExtractAsked(
                row.customer_id,
                from_micros(row.at),
                row.seq,
                row.request_id,
                row.trace_id,
                row.purpose,
                returned,
                detail.get("groups", []) if returned else [],
                None if returned else reason,
            )
        )
    return asked


def render_text(report: SubjectReport) -> str:
    """The report for a person to read: one section per question answered."""
    lines = [
        f"Data-subject report for personal code {report.current_code}",
        f"made {_at(report.made_at)}",
        "",
        "Personal codes:",
    ]
    for held in report.codes:
        until = f" until {_at(held.until)}" if held.until else " (current)"
        lines.append(f"  {held.code} from {_at(held.since)}{until}")
    if report.restricted:
        lines.append(
            "The register restricts this person's data: no extract returns it."
        )
    for change in report.restrictions:
        what = "restricted" if change.restricted else "restriction lifted"
        why = f" ({change.reason})" if change.reason else ""
        lines.append(f"  {what} {_at(change.at)}{why}")
    lines += ["", "Followed by:"]
    lines += [
        f"  {f.customer_name} ({f.customer_id}), as {f.loaded_code}, "
        f"from {_at(f.since)}" + (f" until {_at(f.until)}" if f.until else " (still)")
        for f in report.followed
    ] or ["  nobody"]
    lines += ["", "Day answers naming this person:"]
    for answer in report.day_answers:
        lines.append(
            f"  {answer.day} to {answer.customer_id}: {', '.join(answer.kinds)}"
            + (
                f" (previous code {answer.previous_code})"
                if answer.previous_code
                else ""
            )
            + (" (register clean-up)" if answer.administrative else "")
        )
        lines += [
            f"    handed over {_at(h.at)} (audit record {h.record})"
            for h in answer.handed_over
        ] or ["    not fetched"]
    if not report.day_answers:
        lines.append("  none")
    lines += ["", "Extracts asking for this person's data:"]
    for asked in report.extracts:
        given = (
            f"returned {', '.join(asked.groups) or 'the code, birth date and sex'}"
            if asked.returned
            else f"not returned ({asked.reason})"
        )
        lines.append(
            f"  {_at(asked.at)} by {asked.customer_id}, purpose "
            f"{asked.purpose!r}: {given} (audit record {asked.record})"
        )
    if not report.extracts:
        lines.append("  none")
    return "\n".join(lines) + "\n"
