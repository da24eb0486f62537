"""The ASGI application: the SOAP service, its contract and a health check."""

from __future__ import annotations

import structlog
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from regwatch.api.access import AccessLog
from regwatch.api.soap import endpoint as soap
from regwatch.store.engine import Database

log = structlog.get_logger("regwatch.api")


def create_app(db: Database) -> Starlette:
    """One app per database; it holds no other state, so any number may run."""
    app = Starlette(
        routes=[
            Route("/soap", soap.post, methods=["POST"]),
            Route("/soap", soap.get, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
        ],
        middleware=[Middleware(AccessLog)],
    )
    app.state.db = db
    return app


async def health(request: Request) -> JSONResponse:
    """Ready when the database answers; 503 otherwise."""
    db: Database = request.app.state.db
    try:
        await run_in_threadpool(_ping, db)
    except Exception as error:
        log.warning("health_check_failed", error=type(error).__name__)
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


def _ping(db: Database) -> None:
    with db.read() as conn:
        conn.execute(text("SELECT 1"))
