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
        env = os.environ
        return cls(
            database_url=env.get("REGWATCH_DATABASE_URL", cls.database_url),
            max_codes_per_call=int(
                env.get("REGWATCH_MAX_CODES_PER_CALL", cls.max_codes_per_call)
            ),
            max_body_bytes=int(env.get("REGWATCH_MAX_BODY_BYTES", cls.max_body_bytes)),
            default_page_size=int(
                env.get("REGWATCH_DEFAULT_PAGE_SIZE", cls.default_page_size)
            ),
            max_page_size=int(env.get("REGWATCH_MAX_PAGE_SIZE", cls.max_page_size)),
            retention_days=int(env.get("REGWATCH_RETENTION_DAYS", cls.retention_days)),
            public_url=env.get("REGWATCH_PUBLIC_URL") or None,
        )
