"""Customers, their contracts and their credentials.

A secret is shown once, when it is made, and stored only as an Argon2 hash.
Verifying a hash is slow by design, so a successful check is remembered for a
short while in this process, keyed by the stored hash: a new secret (a new hash)
invalidates it at once.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import secrets
import threading
import time
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select

from regwatch.clock import to_micros
from regwatch.errors import NotAuthenticated, ServiceError
from regwatch.kinds import ALL_MASK
from regwatch.monitoring.models import Customer
from regwatch.store.engine import Database
from regwatch.store.tables import customers

_HASHER = PasswordHasher()
_VERIFIED_FOR_SECONDS = 300
_verified: dict[tuple[str, str, str], float] = {}
_verified_lock = threading.Lock()


class CustomerExists(ServiceError):
    code = "CUSTOMER_EXISTS"


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def customer_id_for(name: str) -> str:
    """A readable id from the name: lower case ASCII words joined by hyphens.

    Letters with diacritics keep their base letter (Ąžuolas -> azuolas).
    """
    decomposed = unicodedata.normalize("NFKD", name)
    ascii_name = decomposed.encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")
    return slug[:48] or "customer"


def add_customer(
    db: Database,
    name: str,
    *,
    kinds: int,
    company_code: str | None = None,
    secret: str | None = None,
) -> tuple[Customer, str]:
    """Create a customer with a contract for ``kinds``; return it and its secret.

    The id is made from the name; a name already taken gets a numbered id.
    """
    if not name.strip():
        raise ServiceError("a customer needs a name")
    if not 0 < kinds <= ALL_MASK:
        raise ServiceError("a contract covers at least one kind of change")
    if company_code is not None and not re.fullmatch(r"\d{9}", company_code):
        raise ServiceError(f"company code {company_code!r} is not 9 digits")
    secret = secret or new_secret()
    if len(secret) < 12:
        raise ServiceError("a secret has at least 12 characters")

    secret_hash = _HASHER.hash(secret)
    with db.write() as conn:
        base = customer_id_for(name)
        taken = set(
            conn.execute(
                select(customers.c.customer_id).where(
                    customers.c.customer_id.like(base + "%")
                )
            ).scalars()
        )
        customer_id, n = base, 1
        while customer_id in taken:
            n += 1
            customer_id = f"{base}-{n}"
        conn.execute(
            customers.insert().values(
                customer_id=customer_id,
                name=name.strip(),
                company_code=company_code,
                kinds=kinds,
                secret_hash=secret_hash,
                created_at=to_micros(db.now(conn)),
            )
        )
    return Customer(customer_id, name.strip(), company_code, kinds), secret


def authenticate(db: Database, customer_id: str, secret: str) -> Customer:
    """The customer whose id and secret these are; NotAuthenticated otherwise.

    The message is the same whatever was wrong, so that it tells nothing about
    which customer ids exist.
    """
    with db.read() as conn:
        row = conn.execute(
            select(customers).where(customers.c.customer_id == customer_id)
        ).one_or_none()
    if row is None or row.disabled_at is not None:
        _burn(secret)
        raise NotAuthenticated("unknown customer or wrong secret")
    if not _secret_matches(customer_id, row.secret_hash, secret):
        raise NotAuthenticated("unknown customer or wrong secret")
    return Customer(row.customer_id, row.name, row.company_code, row.kinds)


def _secret_matches(customer_id: str, stored_hash: str, secret: str) -> bool:
    key = (customer_id, stored_hash, hashlib.sha256(secret.encode()).hexdigest())
    now = time.monotonic()
    with _verified_lock:
        if _verified.get(key, 0.0) > now:
            return True
    try:
        _HASHER.verify(stored_hash, secret)
    except (VerificationError, InvalidHashError):
        return False
    with _verified_lock:
        _verified[key] = now + _VERIFIED_FOR_SECONDS
    return True


@functools.cache
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))


def _burn(secret: str) -> None:
    """Spend the time a real check takes, so timing does not tell ids apart."""
    with contextlib.suppress(VerificationError, InvalidHashError):
        _HASHER.verify(_dummy_hash(), secret)
