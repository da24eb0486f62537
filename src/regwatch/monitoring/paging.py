"""Opaque page tokens: signed, bound to one customer and one walk.

A token carries where the walk stands (the last key handed out) and what it is
walking (the list as it was at the first page, or one day's answer). It is
signed with the service's key, so a customer can neither forge one nor replay
another customer's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

from sqlalchemy import Connection

from regwatch.errors import InvalidPageToken, MalformedRequest
from regwatch.store.engine import Database, read_state, write_state

TOKEN_KEY = "page_token_key"
_MAC_BYTES = 16


def ensure_token_key(conn: Connection) -> None:
    if read_state(conn, TOKEN_KEY) is None:
        write_state(conn, TOKEN_KEY, secrets.token_hex(32))


def _key(conn: Connection) -> bytes:
    value = read_state(conn, TOKEN_KEY)
    if value is None:
        raise RuntimeError("the database has no page-token key; run regwatch init")
    return bytes.fromhex(value)


def make_token(conn: Connection, customer_id: str, walk: str, **state: Any) -> str:
    payload = json.dumps(
        {"c": customer_id, "w": walk, **state}, separators=(",", ":"), sort_keys=True
    ).encode()
    mac = hmac.new(_key(conn), payload, hashlib.sha256).digest()[:_MAC_BYTES]
    return _b64(payload) + "." + _b64(mac)


def read_token(conn: Connection, token: str, customer_id: str, walk: str) -> dict:
    """The state in a token, or InvalidPageToken if it is not ours for this walk."""
    try:
        payload_text, mac_text = token.strip().split(".")
        payload, mac = _unb64(payload_text), _unb64(mac_text)
    except ValueError:
        raise InvalidPageToken("pageToken is not a token this service issued") from None
    expected = hmac.new(_key(conn), payload, hashlib.sha256).digest()[:_MAC_BYTES]
    if not hmac.compare_digest(mac, expected):
        raise InvalidPageToken("pageToken is not a token this service issued")
    state = json.loads(payload)
    if state.get("c") != customer_id or state.get("w") != walk:
        raise InvalidPageToken("pageToken belongs to another request")
    return state


def page_size(db: Database, requested: int | None) -> int:
    """The page size to use: the default when absent, at most the maximum."""
    if requested is None:
        return db.settings.default_page_size
    if requested < 1:
        raise MalformedRequest(f"pageSize {requested} is below 1")
    return min(requested, db.settings.max_page_size)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not text:
        raise ValueError("empty")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
