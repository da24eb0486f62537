"""The mirror as JSON Lines: one person a line, groups named as in the extract.

Relatives are named by their current personal codes, and each person carries
the codes they had before, so that two exports can be matched person by person
even across a code change.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, select

from regwatch.register.mirror import record_from_row
from regwatch.register.records import GROUP_NAMES, PersonRecord
from regwatch.store.sql import chunks
from regwatch.store.tables import personal_codes, persons

BATCH = 2_000


def export_persons(conn: Connection, limit: int | None = None) -> Iterator[dict]:
    """Every person of the mirror in person order, streamed in batches."""
    after, sent = 0, 0
    while limit is None or sent < limit:
        size = BATCH if limit is None else min(BATCH, limit - sent)
        rows = conn.execute(
            select(persons)
            .where(persons.c.person_id > after)
            .order_by(persons.c.person_id)
            .limit(size)
        ).all()
        if not rows:
            return
        records = [record_from_row(row) for row in rows]
        codes_of = _codes_of_relatives(conn, records)
        earlier = _earlier_codes(conn, [r.person_id for r in records])
        for record in records:
            yield person_document(record, codes_of, earlier.get(record.person_id, []))
        after = rows[-1].person_id
        sent += len(rows)


def person_document(
    record: PersonRecord, codes_of: dict[int, str], earlier: list[str]
) -> dict[str, Any]:
    family = record.family
    document: dict[str, Any] = {
        "personalCode": record.personal_code,
        "previousCodes": earlier,
        "sex": record.sex,
        "birthDate": record.birth_date.isoformat(),
        "citizenship": record.citizenship,
    }
    document.update({name: record.groups.get(name) for name in GROUP_NAMES})
    document["family"] = {
        "spouse": codes_of.get(family.spouse) if family.spouse else None,
        "mother": codes_of.get(family.mother) if family.mother else None,
        "father": codes_of.get(family.father) if family.father else None,
        "children": [codes_of[child] for child in family.children],
    }
    return document


def dump_line(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, sort_keys=True)


def _codes_of_relatives(
    conn: Connection, records: list[PersonRecord]
) -> dict[int, str]:
    ids: set[int] = set()
    for record in records:
        family = record.family
        ids.update(i for i in (family.spouse, family.mother, family.father) if i)
        ids.update(family.children)
    found: dict[int, str] = {}
    for part in chunks(sorted(ids)):
        found.update(
            conn.execute(
                select(persons.c.person_id, persons.c.personal_code).where(
                    persons.c.person_id.in_(part)
                )
            ).all()
        )
    return found


def _earlier_codes(conn: Connection, person_ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    rows = conn.execute(
        select(personal_codes.c.person_id, personal_codes.c.code)
        .where(personal_codes.c.replaced_at.is_not(None))
        .where(personal_codes.c.person_id.between(min(person_ids), max(person_ids)))
        .order_by(personal_codes.c.person_id, personal_codes.c.assigned_at)
    )
    for person_id, code in rows:
        found.setdefault(person_id, []).append(code)
    return found
