"""The register extract: GetPersonData.

Only persons on the caller's list are returned, and of them only the groups the
contract covers. A listed person whose data the register restricts comes back
as not returned, RESTRICTED, uncharged. Everything else comes back as not
returned, with the reason.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence

import structlog
from sqlalchemy import Connection, Row, select

from regwatch import codes
from regwatch.audit import trail
from regwatch.billing.charges import charge
from regwatch.billing.prices import Item
from regwatch.clock import day_of
from regwatch.errors import MalformedRequest, TooManyCodes
from regwatch.kinds import from_mask
from regwatch.monitoring.models import Customer, NotReturned, PersonExtract
from regwatch.monitoring.requests import check_request_id, claim, digest
from regwatch.register.records import GROUP_OF_KIND
from regwatch.store.engine import Database
from regwatch.store.sql import chunks
from regwatch.store.tables import list_entries, personal_codes, persons

MAX_PURPOSE = 500
OPERATION = "GetPersonData"

log = structlog.get_logger(__name__)


def person_data(
    db: Database,
    customer: Customer,
    codes_asked: Sequence[str],
    *,
    purpose: str,
    request_id: str | None,
) -> list[PersonExtract]:
    """Current data of the listed persons among the codes, one result per code.

    Each person returned is charged once per customer and day; the purpose is
    kept in the audit trail with the persons returned and withheld. A
    requestId used before for other codes or another purpose is refused; the
    same request again is answered afresh (the answer is not stored, so that
    no second copy of the data is kept, and the charge is not repeated on the
    same day).
    """
    limit = db.settings.max_codes_per_call
    if len(codes_asked) > limit:
        raise TooManyCodes(f"{len(codes_asked)} codes in one call; at most {limit}")
    purpose = (purpose or "").strip()
    if not purpose:
        raise MalformedRequest("purpose is required: say why the data is needed")
    if len(purpose) > MAX_PURPOSE:
        raise MalformedRequest(f"purpose is longer than {MAX_PURPOSE} characters")
    request_id = check_request_id(request_id)

    with db.write() as conn:
        now = db.now(conn)
        if request_id is not None:
            fingerprint = digest(OPERATION, list(codes_asked), purpose)
            claim(conn, customer.customer_id, request_id, OPERATION, fingerprint, now)
        today = day_of(now)
        checked = {text: codes.check_code(text, today) for text in codes_asked}
        wanted = {c.code for c in checked.values() if c.code is not None}
        records = _listed_records(conn, customer.customer_id, wanted)

        results: list[PersonExtract] = []
        returned: list[int] = []
        withheld: dict[str, list[int]] = {}  # reason -> persons asked for
        for text in codes_asked:
            code = checked[text].code
            row = records.get(code) if code is not None else None
            if code is None:
                results.append(PersonExtract(text, reason=NotReturned.INVALID_CODE))
            elif row is None:
                results.append(PersonExtract(text, reason=NotReturned.NOT_FOUND))
            elif row.entry_id is None:
                # Asked for someone the customer does not follow: nothing is
                # handed over, but the person may want to know who asked.
                withheld.setdefault("NOT_ON_LIST", []).append(row.person_id)
                results.append(PersonExtract(text, reason=NotReturned.NOT_ON_LIST))
            elif row.restricted:
                # Asked of a listed person only: the restriction itself is not
                # told to a customer that does not follow the person.
                withheld.setdefault("RESTRICTED", []).append(row.person_id)
                results.append(PersonExtract(text, reason=NotReturned.RESTRICTED))
            else:
                returned.append(row.person_id)
                results.append(_extract(text, row, customer.kinds))

        charge(conn, customer.customer_id, Item.EXTRACT, today, returned, now)
        trail.append(
            conn,
            now,
            OPERATION,
            customer_id=customer.customer_id,
            request_id=request_id,
            purpose=purpose,
            persons=len(returned),
            detail={
                "asked": len(codes_asked),
                "groups": sorted(
                    GROUP_OF_KIND[kind]
                    for kind in from_mask(customer.kinds)
                    if kind in GROUP_OF_KIND
                ),
                "not_returned": dict(
                    sorted(Counter(r.reason.value for r in results if r.reason).items())
                ),
                "withheld": {
                    reason: sorted(set(ids)) for reason, ids in sorted(withheld.items())
                },
            },
            # A withheld person is named with nothing handed over, so that the
            # person's own report shows that the data was asked for.
            named=[(person_id, customer.kinds) for person_id in returned]
            + [(p, 0) for ids in withheld.values() for p in ids],
        )
    log.info(
        "extract_served",
        customer_id=customer.customer_id,
        asked=len(codes_asked),
        returned=len(returned),
    )
    return results


def _listed_records(conn: Connection, customer_id: str, wanted: set[str]) -> dict:
    """code -> the person's row, whose ``entry_id`` is None when the customer
    does not list the person. Codes of no person are absent."""
    found: dict = {}
    for part in chunks(sorted(wanted)):
        rows = conn.execute(
            select(personal_codes.c.code, persons, list_entries.c.entry_id)
            .join(persons, persons.c.person_id == personal_codes.c.person_id)
            .outerjoin(
                list_entries,
                (list_entries.c.person_id == persons.c.person_id)
                & (list_entries.c.customer_id == customer_id)
                & list_entries.c.removed_at.is_(None),
            )
            .where(personal_codes.c.code.in_(part))
        )
        for row in rows:
            found[row.code] = row
    return found


def _extract(text: str, row: Row, kinds: int) -> PersonExtract:
    groups = json.loads(row.groups)
    covered = {
        GROUP_OF_KIND[kind]: groups.get(GROUP_OF_KIND[kind])
        for kind in from_mask(kinds)
        if kind in GROUP_OF_KIND
    }
    return PersonExtract(
        personal_code=text,
        current_code=row.personal_code,
        birth_date=row.birth_date,
        sex=row.sex,
        groups=covered,
    )
