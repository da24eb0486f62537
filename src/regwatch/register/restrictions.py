"""Restricted persons: the register's flag that their data may not be handed out.

A restricted person can still be listed by a customer and is reported as
changed as usual (the fact of a change is not the data); an extract does not
return them (reason RESTRICTED). The flag is set and lifted by the operator,
and each change of it is an audit record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, select, update

from regwatch.audit import trail
from regwatch.errors import NotFound
from regwatch.store.engine import Database
from regwatch.store.tables import personal_codes, persons


@dataclass(frozen=True)
class Restriction:
    person_id: int
    current_code: str
    restricted: bool
    changed: bool  # False when the person already had the asked-for state


def person_by_code(conn: Connection, code: str) -> Row[Any, Any, Any]:
    """The person who has or had ``code`` (id, current code, restriction);
    NotFound if nobody."""
    row = conn.execute(
        select(persons.c.person_id, persons.c.personal_code, persons.c.restricted)
        .join(personal_codes, personal_codes.c.person_id == persons.c.person_id)
        .where(personal_codes.c.code == code.strip())
    ).one_or_none()
    if row is None:
        raise NotFound(f"no person in the register has the code {code.strip()!r}")
    return row


def set_restricted(
    db: Database, code: str, restricted: bool, *, reason: str | None = None
) -> Restriction:
    """Restrict (or lift the restriction of) the person who has or had ``code``."""
    with db.write() as conn:
        row = person_by_code(conn, code)
        changed = bool(row.restricted) != restricted
        if changed:
            conn.execute(
                update(persons)
                .where(persons.c.person_id == row.person_id)
                .values(restricted=restricted)
            )
            trail.append(
                conn,
                db.now(conn),
                "RestrictPerson" if restricted else "LiftRestriction",
                customer_id=None,
                actor=trail.OPERATOR,
                purpose=reason,
                persons=1,
                named=[(row.person_id, 0)],  # for the person's own report
            )
    return Restriction(row.person_id, row.personal_code, restricted, changed)
