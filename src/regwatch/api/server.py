"""A real HTTP server in a background thread, for tests and the demo.

Real SOAP clients (zeep and the like) talk HTTP, not ASGI, so a test of the
contract as they see it needs a socket.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp

_START_TIMEOUT = 10.0


@contextmanager
def run_in_thread(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0
) -> Iterator[str]:
    """Serve ``app`` on ``host:port`` until the block ends; yields the base URL.

    Port 0 takes a free port. The socket is bound here, before the thread
    starts, so the URL is known and a busy port fails in the caller.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_host, bound_port = sock.getsockname()[:2]
    config = uvicorn.Config(app, log_config=None, lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True
    )
    thread.start()
    try:
        _wait_until_started(server, thread)
        yield f"http://{bound_host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(_START_TIMEOUT)
        sock.close()


def _wait_until_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the HTTP server did not start")
        time.sleep(0.01)
