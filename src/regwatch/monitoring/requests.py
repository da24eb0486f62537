"""requestId: the same request again gets the first answer and changes nothing.

The id belongs to the customer that sent it. The claim is an insert that a
unique key decides, inside the call's own transaction, so two copies arriving
at once are applied once: the second waits for the first and then reads its
answer. The same id with different content is refused.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from regwatch.clock import to_micros
from regwatch.errors import MalformedRequest, RequestIdReused
from regwatch.store.sql import insert_ignoring_duplicates
from regwatch.store.tables import api_requests

MAX_REQUEST_ID = 128


def digest(*parts: Any) -> str:
    """A fingerprint of a request's content."""
    text = json.dumps(parts, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def check_request_id(request_id: str | None) -> str | None:
    if request_id is None:
        return None
    request_id = request_id.strip()
    if not request_id or len(request_id) > MAX_REQUEST_ID:
        raise MalformedRequest(f"requestId must have 1..{MAX_REQUEST_ID} characters")
    return request_id


@dataclass(frozen=True)
class Claim:
    new: bool  # False: the same request was made before
    answer: Any = None  # the first answer, where the operation stores one


def claim(
    conn: Connection,
    customer_id: str,
    request_id: str,
    operation: str,
    fingerprint: str,
    now: datetime,
) -> Claim:
    """Claim a request id for this request, or find the same request made before.

    The same id with another operation or other content is refused.
    """
    # RETURNING, not rowcount: drivers disagree on the rowcount of an insert
    # that skipped a duplicate (psycopg reports -1 either way).
    claimed = conn.execute(
        insert_ignoring_duplicates(conn, api_requests)
        .values(
            customer_id=customer_id,
            request_id=request_id,
            operation=operation,
            digest=fingerprint,
            response=b"",
            created_at=to_micros(now),
        )
        .returning(api_requests.c.request_id)
    ).first()
    if claimed is not None:
        return Claim(new=True)
    row = conn.execute(
        select(api_requests.c.operation, api_requests.c.digest, api_requests.c.response)
        .where(api_requests.c.customer_id == customer_id)
        .where(api_requests.c.request_id == request_id)
    ).one()
    if row.operation != operation or row.digest != fingerprint:
        raise RequestIdReused(
            f"requestId {request_id!r} was used before for a different request"
        )
    if not row.response:
        return Claim(new=False)
    return Claim(new=False, answer=json.loads(zlib.decompress(row.response)))


def store_answer(
    conn: Connection, customer_id: str, request_id: str, answer: Any
) -> None:
    packed = zlib.compress(json.dumps(answer, separators=(",", ":")).encode())
    conn.execute(
        update(api_requests)
        .where(api_requests.c.customer_id == customer_id)
        .where(api_requests.c.request_id == request_id)
        .values(response=packed)
    )
