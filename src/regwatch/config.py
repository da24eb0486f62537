"""Settings from the environment, read once per process."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///regwatch.db"
    max_codes_per_call: int = 100_000
    max_body_bytes: int = 16 * 1024 * 1024
    default_page_size: int = 1_000
    max_page_size: int = 10_000
    retention_days: int = 90
    public_url: str | None = None  # the address the WSDL names, behind a proxy
    # Secrets checked at once in one process: each Argon2 check holds 64 MiB.
    max_secret_checks: int = 2
    # Addresses or networks of the reverse proxies whose X-Forwarded-For and
    # client certificate header are believed; nobody else's are.
    trusted_proxies: tuple[str, ...] = ()
    # The header in which a trusted proxy passes the client's TLS certificate.
    client_cert_header: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        """Settings from REGWATCH_* variables; ConfigError names a bad one."""
        env = os.environ
        settings = cls(
            database_url=env.get("REGWATCH_DATABASE_URL", cls.database_url),
            max_codes_per_call=_number("REGWATCH_MAX_CODES_PER_CALL", 1),
            max_body_bytes=_number("REGWATCH_MAX_BODY_BYTES", 1024),
            default_page_size=_number("REGWATCH_DEFAULT_PAGE_SIZE", 1),
            max_page_size=_number("REGWATCH_MAX_PAGE_SIZE", 1),
            retention_days=_number("REGWATCH_RETENTION_DAYS", 1),
            public_url=env.get("REGWATCH_PUBLIC_URL") or None,
            max_secret_checks=_number("REGWATCH_MAX_SECRET_CHECKS", 1),
            trusted_proxies=_networks("REGWATCH_TRUSTED_PROXIES"),
            client_cert_header=env.get("REGWATCH_CLIENT_CERT_HEADER", "").strip()
            or None,
        )
        if settings.default_page_size > settings.max_page_size:
            raise ConfigError(
                f"REGWATCH_DEFAULT_PAGE_SIZE ({settings.default_page_size}) is above "
                f"REGWATCH_MAX_PAGE_SIZE ({settings.max_page_size})"
            )
        if settings.client_cert_header and not settings.trusted_proxies:
            # The header would never be believed, and every customer with a
            # certificate on record would be refused: say so at the start.
            raise ConfigError(
                "REGWATCH_CLIENT_CERT_HEADER is set but REGWATCH_TRUSTED_PROXIES "
                "is not: name the proxies whose certificate header is believed"
            )
        return settings


class ConfigError(ValueError):
    """A setting in the environment that cannot be used."""


_ENV_FIELDS = {
    "REGWATCH_MAX_CODES_PER_CALL": "max_codes_per_call",
    "REGWATCH_MAX_BODY_BYTES": "max_body_bytes",
    "REGWATCH_DEFAULT_PAGE_SIZE": "default_page_size",
    "REGWATCH_MAX_PAGE_SIZE": "max_page_size",
    "REGWATCH_RETENTION_DAYS": "retention_days",
    "REGWATCH_MAX_SECRET_CHECKS": "max_secret_checks",
}


def _number(variable: str, minimum: int) -> int:
    default: int = getattr(Settings, _ENV_FIELDS[variable])
    text = os.environ.get(variable)
    if text is None or not text.strip():
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"{variable}={text!r} is not a whole number") from None
    if value < minimum:
        raise ConfigError(f"{variable}={value} is below the minimum of {minimum}")
    return value


def _networks(variable: str) -> tuple[str, ...]:
    """Comma-separated addresses or networks (10.0.0.5, 10.1.0.0/16, ::1)."""
    items = [item.strip() for item in os.environ.get(variable, "").split(",")]
    networks = []
    for item in filter(None, items):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ConfigError(
                f"{variable}: {item!r} is not an IP address or network"
            ) from None
    return tuple(networks)
