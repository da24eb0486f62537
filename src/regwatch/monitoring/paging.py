"""Opaque page tokens: sealed, bound to one customer and one walk.

A token carries where the walk stands (the last key handed out) and what it is
walking (the list as it was at the first page, or one day's answer). It is
sealed with the service's key (AES-256-GCM): authenticated, so that no
customer can forge one or replay another's, and encrypted, because the
positions inside are row ids numbered across all customers: one who could
read them would learn how many persons the others add to their lists between
two walks.

Every refusal reads the same. A genuine token that was issued to another
customer, or for another walk, is refused in the words used for a forgery, so
replaying a token does not even confirm that it was real.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection

from regwatch.errors import InvalidPageToken, MalformedRequest
from regwatch.store.engine import Database, read_state, write_state

TOKEN_KEY = "page_token_key"
REFUSAL = "pageToken is not a token this service issued for this request"
_TAG_BYTES = 16
_NONCE_BYTES = 12
_CONTEXT = b"regwatch page token"  # authenticated with every token, not secret
# Tokens this service issues hold well under 200 bytes; anything far longer is
# refused before any work is spent on it.
_MAX_SEALED_BYTES = 1024


def ensure_token_key(conn: Connection) -> None:
    if read_state(conn, TOKEN_KEY) is None:
        write_state(conn, TOKEN_KEY, secrets.token_hex(32))


def token_key(conn: Connection) -> bytes:
    value = read_state(conn, TOKEN_KEY)
    if value is None:
        raise RuntimeError("the database has no page-token key; run regwatch init")
    return bytes.fromhex(value)


def make_token(conn: Connection, customer_id: str, walk: str, **state: Any) -> str:
    payload = json.dumps(
        {"c": customer_id, "w": walk, **state}, separators=(",", ":"), sort_keys=True
    ).encode()
    return seal(token_key(conn), payload)


def read_token(conn: Connection, token: str, customer_id: str, walk: str) -> dict:
    """The state in a token, or InvalidPageToken if it is not ours for this walk."""
    payload = unseal(token_key(conn), token)
    state = json.loads(payload) if payload is not None else {}
    if state.get("c") != customer_id or state.get("w") != walk:
        raise InvalidPageToken(REFUSAL)
    return state


def seal(key: bytes, payload: bytes) -> str:
    """``payload`` encrypted and authenticated: ``<ciphertext>.<nonce+tag>``.

    AES-256-GCM from the cryptography package, with a fresh random nonce per
    token, so the same state gives a different token each time.
    """
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, payload, _CONTEXT)
    return _b64(sealed[:-_TAG_BYTES]) + "." + _b64(nonce + sealed[-_TAG_BYTES:])


def unseal(key: bytes, token: str) -> bytes | None:
    """The payload of a token sealed with ``key``; None for anything else."""
    try:
        sealed_text, tail_text = token.strip().split(".")
        sealed, tail = _unb64(sealed_text), _unb64(tail_text)
    except ValueError:
        return None
    if len(sealed) > _MAX_SEALED_BYTES or len(tail) != _NONCE_BYTES + _TAG_BYTES:
        return None
    nonce, tag = tail[:_NONCE_BYTES], tail[_NONCE_BYTES:]
    try:
        return AESGCM(key).decrypt(nonce, sealed + tag, _CONTEXT)
    except InvalidTag:
        return None


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
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as error:
        raise ValueError(str(error)) from None
