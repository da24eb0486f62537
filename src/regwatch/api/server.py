"""Running the API over HTTP: the processes of ``regwatch serve``, and one server
in a background thread for tests and the demo.

Real SOAP clients (zeep and the like) talk HTTP, not ASGI, so a test of the
contract as they see it needs a socket.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from regwatch import logs
from regwatch.api.app import create_app
from regwatch.api.soap.contract import schema
from regwatch.config import Settings
from regwatch.setup import open_database
from regwatch.store.engine import Database

# What uvicorn imports in each API process to build its app.
WORKER_APP = "regwatch.api.server:worker_app"

_START_TIMEOUT = 10.0

log = structlog.get_logger("regwatch.api")


def serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    """Serve the API on ``host:port`` in ``workers`` processes until stopped.

    One worker runs in this process. With more, uvicorn's supervisor binds the
    socket once and starts that many fresh interpreters (spawned, not forked)
    that accept from it; it replaces a worker that dies, and on SIGINT or
    SIGTERM stops them all and waits for each to finish its requests.
    """
    # Each worker reads its settings from the environment, as every process of
    # the service does; the one setting the command line may have overridden is
    # handed down the same way.
    os.environ["REGWATCH_DATABASE_URL"] = settings.database_url
    uvicorn.run(
        WORKER_APP,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        lifespan="on",
        log_config=None,  # regwatch's own structured logs, set up in the worker
        # The supervisor kills a worker that does not answer its ping in time
        # (uvicorn's default is 5 s) and the worker's calls in flight with it.
        # A LoadClients call of 100,000 codes keeps a worker busy for seconds
        # on a loaded machine; only a worker stuck for longer is hung.
        timeout_worker_healthcheck=30,
        # Which proxy to believe is regwatch's own setting
        # (REGWATCH_TRUSTED_PROXIES, api/auth.py); uvicorn's rewriting of the
        # client address would hide the proxy that vouches for a certificate.
        proxy_headers=False,
    )


def worker_app() -> Starlette:
    """The app of one API process, built inside that process.

    The engine, and with it the connection pool, is opened here, in the process
    that uses it: connections carried into another process would share their
    sockets with it, and two processes talking over one connection corrupt it.
    """
    logs.configure()
    if multiprocessing.parent_process() is not None:
        # A worker under uvicorn's supervisor. Ctrl-C in a terminal signals the
        # whole process group; the supervisor then sends each worker SIGTERM.
        # A worker that took both would count the second as "force exit" and
        # drop its requests in flight and its shutdown, so it leaves SIGINT to
        # the supervisor.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Each request thread compiles its own validator; compiling one here has
    # libxml2 set up its schema types before any request can race to do it.
    schema()
    app = create_app(open_database(Settings.from_env()))
    app.router.lifespan_context = _worker_lifespan
    return app


@asynccontextmanager
async def _worker_lifespan(app: Starlette) -> AsyncIterator[None]:
    db: Database = app.state.db
    log.info("api_worker_started", pid=os.getpid())
    try:
        yield
    finally:
        # Close the pool's connections politely rather than dropping them when
        # the process ends (PostgreSQL would log each as a broken connection).
        db.engine.dispose()
        log.info("api_worker_stopped", pid=os.getpid())


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
    config = uvicorn.Config(
        app, log_config=None, lifespan="off", ws="none", proxy_headers=False
    )
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
