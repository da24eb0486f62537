"""Request ids and the access log, for every HTTP request.

A request id (the caller's ``X-Request-Id`` when it is a sane token, else a
new one) is bound to the log context for the whole request and returned in
the response's ``X-Request-Id``. Each request ends with one ``http_request``
event. Nothing here logs headers, bodies or query strings: they can carry
secrets and personal codes.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from regwatch.audit import trail

log = structlog.get_logger("regwatch.api")

_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def request_id_from(header: str | None) -> str:
    """The caller's request id if it is safe to log and echo, else a new one."""
    if header and _SANE_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class AccessLog:
    """ASGI middleware: request id in, request id out, one access event.

    Written as plain ASGI (not BaseHTTPMiddleware) so that the endpoint runs
    in this same task and what it binds to the log context (customer,
    operation) is still there for the access event.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(Headers(scope=scope).get("x-request-id"))
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        # The same id goes into every audit record the request writes.
        trace = trail.trace_id.set(request_id)
        started = time.perf_counter()
        status = 500  # what the client sees if the app fails before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append("X-Request-Id", request_id)
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            context = structlog.contextvars.get_contextvars()
            log.info(
                "http_request",
                method=scope["method"],
                path=scope["path"],
                operation=context.get("operation"),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
            )
            structlog.contextvars.clear_contextvars()
            trail.trace_id.reset(trace)
