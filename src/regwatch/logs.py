"""Structured logs: key=value events with stable names, to standard error.

Set REGWATCH_LOG_FORMAT=json for one JSON object a line (for log collectors).
Personal codes are logged only at DEBUG; secrets never.
"""

from __future__ import annotations

import logging
import os
import sys

import structlog


def configure(level: str | None = None) -> None:
    level_name = (level or os.environ.get("REGWATCH_LOG_LEVEL", "INFO")).upper()
    json_lines = os.environ.get("REGWATCH_LOG_FORMAT", "").lower() == "json"
    renderer = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.processors.LogfmtRenderer(
            key_order=["event"], bool_as_flag=False
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level_name, logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
