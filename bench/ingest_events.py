"""Benchmark (not a test): how fast an event file goes into the mirror, on SQLite.

1. generates a register of N persons (default 1,000,000) in a fresh database,
   or takes a copy of one given with --mirror (it is never modified);
2. on a copy, simulates one day at --rate-scale (19: about 20,000 events, a busy
   day) with `--out`, which gives a realistic event file;
3. on another fresh copy, runs `regwatch register ingest FILE` as its own
   process, and again the same file (every event a duplicate);
4. prints the events, the time, events per second and the peak memory of each
   ingest process (VmHWM of the child, from resource.getrusage).

Target (issue 3): at least 20,000 events a second on SQLite on this machine.

    .venv/bin/python bench/ingest_events.py [--persons N] [--mirror DB] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from regwatch.clock import VILNIUS

START = "2026-11-04"  # a Wednesday, no holiday
REGWATCH = str(Path(sys.executable).with_name("regwatch"))


def run(db: Path, *args: str) -> tuple[float, float, str]:
    """Run the CLI on a database; wall seconds, its peak MB, its stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(
            [REGWATCH, "--database", f"sqlite:///{db}", *args],
            stdout=out,
            stderr=err,
            env={**os.environ, "REGWATCH_LOG_LEVEL": "warning"},
        )
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if child.returncode != 0:
        raise SystemExit(f"regwatch {' '.join(args)} failed:\n{stderr[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024, stdout  # ru_maxrss is in kB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--rate-scale", type=float, default=19.0)
    parser.add_argument("--mirror", type=Path, help="a ready database to copy")
    parser.add_argument("--keep", type=Path, help="work here and keep the files")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="regwatch-ingest-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    base = work / "base.db"
    if args.mirror:
        shutil.copyfile(args.mirror, base)
        run(base, "init")  # brings an older schema up to date
    elif not base.exists():
        print(f"generating {args.persons:,} persons (takes a while) ...", flush=True)
        run(base, "init", "--simulated-clock", START)
        seconds, _, _ = run(
            base, "register", "generate", "--persons", str(args.persons)
        )
        print(f"  generated in {seconds:.0f} s")
    with sqlite3.connect(base) as conn:
        persons = conn.execute("SELECT count(*) FROM persons").fetchone()[0]

    events_file = work / "day.jsonl"
    simulated = work / "simulated.db"
    shutil.copyfile(base, simulated)
    seconds, _, _ = run(
        simulated,
        "register",
        "simulate",
        "--days",
        "1",
        "--seed",
        "11",
        "--rate-scale",
        str(args.rate_scale),
        "--out",
        str(events_file),
    )
    with events_file.open("rb") as lines:
        events = sum(1 for _ in lines)
    print(
        f"simulated one day: {events:,} events in {seconds:.1f} s (planning included)"
    )

    target = work / "ingest.db"
    shutil.copyfile(base, target)
    first, first_peak, first_out = run(target, "register", "ingest", str(events_file))
    again, again_peak, again_out = run(target, "register", "ingest", str(events_file))

    print()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, "
        f"{datetime.now(VILNIUS):%Y-%m-%d}"
    )
    print(
        f"mirror: {persons:,} persons; event file: {events:,} events, "
        f"{events_file.stat().st_size / 1e6:.1f} MB"
    )
    print(f"{'measure':<34}{'figure':>14}{'target':>14}")
    inside = float(re.search(r"took ([0-9.]+) s", first_out)[1])  # type: ignore[index]
    print(f"{'ingest process, first time':<34}{first:>12.1f} s")
    print(f"{'  of which the ingest itself':<34}{inside:>12.1f} s")
    print(f"{'  events per second':<34}{events / inside:>14,.0f}{'>= 20,000':>14}")
    print(f"{'  peak memory of the process':<34}{first_peak:>11.0f} MB")
    print(f"{'ingest again (all duplicates)':<34}{again:>12.1f} s")
    print(f"{'  peak memory of the process':<34}{again_peak:>11.0f} MB")
    print()
    print("first run said:", first_out.strip().splitlines()[0])
    print("second run said:", again_out.strip().splitlines()[0])
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
