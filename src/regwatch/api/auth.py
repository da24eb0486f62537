"""HTTP Basic authentication of customers: customer id and secret."""

from __future__ import annotations

import base64
import binascii

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from regwatch.errors import NotAuthenticated
from regwatch.monitoring import customers
from regwatch.monitoring.models import Customer
from regwatch.store.engine import Database

_HOW = "send HTTP Basic credentials: your customer id and secret"


def basic_credentials(header: str | None) -> tuple[str, str]:
    """The (customer id, secret) of an ``Authorization: Basic`` header."""
    scheme, _, encoded = (header or "").strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise NotAuthenticated(_HOW)
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise NotAuthenticated(_HOW) from None
    customer_id, colon, secret = decoded.partition(":")
    if not colon or not customer_id:
        raise NotAuthenticated(_HOW)
    return customer_id, secret


async def authenticate_request(request: Request, db: Database) -> Customer:
    """The customer a request comes from; NotAuthenticated otherwise.

    Checking a secret is deliberately slow (a password hash), so it runs off
    the event loop.
    """
    customer_id, secret = basic_credentials(request.headers.get("authorization"))
    return await run_in_threadpool(customers.authenticate, db, customer_id, secret)
