"""One row per call that hands register data to a customer.

It records who asked, when, with which request id and purpose, and which persons
were handed over, so that the operator can answer an auditor or a data subject.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from regwatch.clock import to_micros
from regwatch.store.tables import provisions


def record_provision(
    conn: Connection,
    customer_id: str,
    operation: str,
    now: datetime,
    person_ids: Sequence[int],
    *,
    request_id: str | None = None,
    purpose: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Write the provision record of one call, in the call's own transaction."""
    conn.execute(
        provisions.insert().values(
            at=to_micros(now),
            customer_id=customer_id,
            operation=operation,
            request_id=request_id,
            purpose=purpose,
            persons=len(person_ids),
            detail=json.dumps(
                {**(detail or {}), "person_ids": list(person_ids)},
                separators=(",", ":"),
            ),
        )
    )
