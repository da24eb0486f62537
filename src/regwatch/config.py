"""Settings from the environment, read once per process."""

from __future__ import annotations

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
        )
        if settings.default_page_size > settings.max_page_size:
            raise ConfigError(
                f"REGWATCH_DEFAULT_PAGE_SIZE ({settings.default_page_size}) is above "
                f"REGWATCH_MAX_PAGE_SIZE ({settings.max_page_size})"
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
