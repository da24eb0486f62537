"""Benchmark (not a test): LoadClients and GetClientsDataChanges at scale, on SQLite.

1. generates a register of 1,000,000 persons in a fresh database;
2. starts `regwatch serve` as its own process;
3. loads all 1,000,000 codes for one customer in SOAP calls of 100,000;
4. simulates one busy day (about 20,000 changed persons) and publishes it;
5. reads the day's answer page by page (1,000 persons a page) over SOAP;
6. prints the timings and the server's peak memory (VmHWM).

Targets (issue 2): 1,000,000 codes loaded in under 60 s; a 1,000-person page in
under 200 ms; server peak memory under 1 GB.

    .venv/bin/python bench/soap_load_and_changes.py [--persons N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import escape

import httpx
from lxml import etree
from sqlalchemy import select

from regwatch.clock import VILNIUS
from regwatch.config import Settings
from regwatch.kinds import ALL_MASK
from regwatch.monitoring.customers import add_customer
from regwatch.monitoring.days import publish_pending
from regwatch.register.synth.activity import simulate
from regwatch.register.synth.population import generate_register
from regwatch.setup import initialise, open_database
from regwatch.store.tables import persons

NS = "urn:regwatch:monitoring:v1"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
START = datetime(2026, 11, 4, tzinfo=VILNIUS)  # a Wednesday, no holiday


def envelope(body: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP}" '
        f'xmlns:r="{NS}"><s:Body>{body}</s:Body></s:Envelope>'
    ).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_until_up(url: str) -> None:
    for _ in range(200):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--call-size", type=int, default=100_000)
    parser.add_argument("--rate-scale", type=float, default=19.0)  # ~20,000 persons
    parser.add_argument("--keep", help="keep the database in this folder")
    args = parser.parse_args()

    folder = Path(args.keep or tempfile.mkdtemp(prefix="regwatch-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{folder / 'bench.db'}"
    db = open_database(Settings(database_url=url))
    initialise(db, simulated_clock=START)
    figures: list[tuple[str, str, str]] = []

    began = time.perf_counter()
    generate_register(db, args.persons, 7, start=START)
    figures.append(
        (
            "generate register",
            f"{time.perf_counter() - began:.1f} s",
            f"{args.persons:,} persons",
        )
    )
    customer, secret = add_customer(db, "Bench Bank", kinds=ALL_MASK)
    with db.read() as conn:
        codes = list(
            conn.execute(
                select(persons.c.personal_code).order_by(persons.c.person_id)
            ).scalars()
        )

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "regwatch.cli", "serve", "--port", str(port)],
        env={
            **os.environ,
            "REGWATCH_DATABASE_URL": url,
            "REGWATCH_LOG_LEVEL": "WARNING",
        },
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base)
        client = httpx.Client(
            base_url=base,
            auth=(customer.customer_id, secret),
            timeout=600,
            headers={"Content-Type": "text/xml"},
        )

        began = time.perf_counter()
        call_times = []
        for n, start in enumerate(range(0, len(codes), args.call_size)):
            part = codes[start : start + args.call_size]
            body = "".join(f"<r:add>{escape(c)}</r:add>" for c in part)
            t0 = time.perf_counter()
            reply = client.post(
                "/soap",
                content=envelope(
                    f"<r:LoadClients><r:requestId>bench-{n}</r:requestId>{body}"
                    "</r:LoadClients>"
                ),
            )
            call_times.append(time.perf_counter() - t0)
            reply.raise_for_status()
        load_s = time.perf_counter() - began
        figures.append(
            (
                "LoadClients, all codes",
                f"{load_s:.1f} s",
                f"{len(codes):,} codes, {len(codes) / load_s:,.0f}/s; "
                f"slowest call {max(call_times):.2f} s",
            )
        )

        began = time.perf_counter()
        simulate(db, 1, 11, rate_scale=args.rate_scale)
        figures.append(
            (
                "simulate one busy day",
                f"{time.perf_counter() - began:.1f} s",
                f"rate scale {args.rate_scale}",
            )
        )
        began = time.perf_counter()
        (day,) = publish_pending(db)
        figures.append(
            (
                "publish the day",
                f"{time.perf_counter() - began:.2f} s",
                f"{day.changed_persons:,} changed persons, {day.answers:,} reported",
            )
        )

        page_times, token, reported = [], None, 0
        while True:
            token_xml = f"<r:pageToken>{token}</r:pageToken>" if token else ""
            t0 = time.perf_counter()
            reply = client.post(
                "/soap",
                content=envelope(
                    f"<r:GetClientsDataChanges><r:date>{day.day}</r:date>"
                    f"<r:pageSize>1000</r:pageSize>{token_xml}"
                    "</r:GetClientsDataChanges>"
                ),
            )
            page_times.append(time.perf_counter() - t0)
            reply.raise_for_status()
            tree = etree.fromstring(reply.content)
            reported += len(tree.findall(f".//{{{NS}}}person"))
            token = tree.findtext(f".//{{{NS}}}nextPageToken")
            if not token:
                break
        p95 = statistics.quantiles(page_times, n=20)[-1] if len(page_times) > 1 else 0
        figures.append(
            (
                "GetClientsDataChanges page of 1,000",
                f"p50 {statistics.median(page_times) * 1000:.0f} ms",
                f"p95 {p95 * 1000:.0f} ms, max {max(page_times) * 1000:.0f} ms "
                f"over {len(page_times)} pages, {reported:,} persons",
            )
        )
        figures.append(
            ("server peak memory (VmHWM)", f"{peak_rss_mb(server.pid):.0f} MB", "")
        )
    finally:
        server.terminate()
        server.wait(timeout=30)

    figures.append(
        (
            "bench process peak memory",
            f"{peak_rss_mb(os.getpid()):.0f} MB",
            "holds the code list",
        )
    )
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, SQLite at {folder}"
    )
    width = max(len(name) for name, _, _ in figures)
    for name, value, note in figures:
        print(f"{name:<{width}}  {value:>12}  {note}")


if __name__ == "__main__":
    main()
