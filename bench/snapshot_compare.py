"""Benchmark (not a test): a full snapshot of 1,000,000 persons against the mirror.

1. builds a mirror with `regwatch register generate` in a fresh database, or
   copies one given with --from-db (the original is never written to);
2. exports it with `regwatch register export` (JSON Lines);
3. changes a few thousand persons of the export: one group each (name, death,
   document, residence, marital status, children, photo, permit), a personal
   code replaced (the old one moved to previousCodes), or the citizenship only
   (stored, but no kind of change); leaves some persons out and adds new ones;
4. times `regwatch register load-snapshot --full` as its own process on a copy
   of the mirror: wall time, persons per second, what it found against what was
   changed, and peak memory (VmHWM of the process and of its parsing helper,
   polled from /proc; ru_maxrss of the process as a check);
5. loads the same file again, an hour later: nothing may change.

Target (issue 3): under 60 s and under 1 GB for 1,000,000 persons, SQLite, on
a 2-core machine.

    .venv/bin/python bench/snapshot_compare.py [--persons N] [--from-db PATH]
        [--keep DIR] [--changes N]

With --keep the mirror and its export stay in DIR and are reused by the next
run (generating 1,000,000 persons takes about 150 s, exporting them as long).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

from regwatch import codes

START = "2026-11-02"
RECORDED = "2026-11-05T06:00:00+02:00"
AGAIN = "2026-11-05T07:00:00+02:00"
# One change each, in turn: (what is changed, whether it is a kind of change).
VARIANTS = (
    "name",
    "death",
    "document",
    "residence",
    "marital",
    "children",
    "photo",
    "permit",
    "code",
    "citizenship",
)


def regwatch(url: str, *args: str) -> str:
    env = {**os.environ, "REGWATCH_DATABASE_URL": url, "REGWATCH_LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [sys.executable, "-m", "regwatch.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"regwatch {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def timed(label: str, figures: list[tuple[str, str]], work: Any) -> Any:
    began = time.perf_counter()
    result = work()
    figures.append((label, f"{time.perf_counter() - began:.1f} s"))
    return result


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def copy_database(source: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")


# --- the snapshot file ---------------------------------------------------------


class Changes:
    """What the benchmark did to the export, to check what the load finds."""

    def __init__(self) -> None:
        self.kinds = 0  # persons with a kind of change
        self.citizenship = 0  # persons changed without a kind
        self.left_out = 0
        self.added = 0


def all_codes(export: Path) -> set[str]:
    found = set()
    with export.open("rb") as lines:
        for line in lines:
            document = json.loads(line)
            found.add(document["personalCode"])
            found.update(document["previousCodes"])
    return found


def unused_code(like: str, taken: set[str], rng: random.Random) -> str:
    """A code nobody has, of the sex and birth date of another."""
    born = codes.birth_date(like) or date(1970, 1, 1)
    sex = codes.sex(like) or "M"
    while True:
        code = codes.make_code(sex, born, rng.randrange(1000))
        if code not in taken:
            taken.add(code)
            return code


def change(document: dict[str, Any], variant: str, taken: set[str], rng: Any) -> bool:
    """Change one thing of a person; whether it is a kind of change."""
    if variant == "death" and document["death"] is None:
        document["death"] = {"dateOfDeath": "2026-11-04"}
    elif variant == "document":
        document["identityDocuments"] = [
            *document["identityDocuments"],
            {
                "type": "PASSPORT",
                "number": f"9{rng.randrange(10**7):07d}",
                "issuedOn": "2026-11-03",
                "validUntil": "2036-11-03",
                "status": "VALID",
                "invalidReason": None,
            },
        ]
    elif variant == "residence" and document["declaredResidence"]["address"]:
        address = document["declaredResidence"]["address"]
        address["house"] = f"{rng.randrange(1, 200)}"
        address["flat"] = None if address["flat"] else "7"
        document["declaredResidence"]["since"] = "2026-11-03"
    elif variant == "marital":
        document["maritalStatus"] = {"status": "DIVORCED", "since": "2026-11-03"}
    elif variant == "children":
        document["childrenCount"] += 1
    elif variant == "photo":
        photo_id = f"ph-bench{rng.randrange(10**9)}"
        document["photo"] = {"photoId": photo_id, "takenOn": "2026-11-03"}
    elif variant == "permit" and document["citizenship"] != "LT":
        document["residencePermit"] = {
            "type": "PERMANENT",
            "number": f"LT-PRM-{rng.randrange(10**6)}",
            "issuedOn": "2026-11-03",
            "validUntil": "2031-11-03",
            "status": "VALID",
        }
    elif variant == "code" and codes.birth_date(document["personalCode"]):
        old = document["personalCode"]
        document["personalCode"] = unused_code(old, taken, rng)
        document["previousCodes"] = [*document["previousCodes"], old]
    elif variant == "citizenship":
        document["citizenship"] = "LV" if document["citizenship"] != "LV" else "EE"
        return False
    else:  # the variant does not fit this person: a new surname instead
        name = document["name"]
        document["name"] = {**name, "surname": name["surname"] + "ė"}
    return True


def write_snapshot(export: Path, snapshot: Path, changes: int, seed: int) -> Changes:
    rng = random.Random(seed)
    taken = all_codes(export)
    total = len(taken)
    step = max(1, total // max(1, changes))
    done = Changes()
    template: dict[str, Any] | None = None
    with export.open("rb") as lines, snapshot.open("w", encoding="utf-8") as out:
        for number, line in enumerate(lines):
            if number % step == step // 2 and number // step % 50 == 7:
                done.left_out += 1
                continue
            if number % step == 0:
                document = json.loads(line)
                variant = VARIANTS[(number // step) % len(VARIANTS)]
                if change(document, variant, taken, rng):
                    done.kinds += 1
                else:
                    done.citizenship += 1
                template = template or document
                out.write(json.dumps(document, ensure_ascii=False) + "\n")
                continue
            out.write(line.decode("utf-8"))
        assert template is not None
        for _ in range(max(1, changes // 50)):
            new = json.loads(json.dumps(template))
            new["personalCode"] = unused_code(template["personalCode"], taken, rng)
            new["previousCodes"] = []
            new["family"] = {
                "spouse": None,
                "mother": None,
                "father": None,
                "children": [],
            }
            out.write(json.dumps(new, ensure_ascii=False) + "\n")
            done.added += 1
    return done


# --- watching the load ---------------------------------------------------------


def high_water_kb(pid: int) -> int:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def children_of(pid: int) -> Iterator[int]:
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            yield from (int(c) for c in (task / "children").read_text().split())
    except OSError:
        return


class PeakMemory(threading.Thread):
    """Polls the peak resident memory of a process and of its children."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.main_kb = 0
        self.helpers_kb: dict[int, int] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            self.main_kb = max(self.main_kb, high_water_kb(self.pid))
            for child in children_of(self.pid):
                peak = high_water_kb(child)
                self.helpers_kb[child] = max(self.helpers_kb.get(child, 0), peak)

    @property
    def total_mb(self) -> float:
        return (self.main_kb + sum(self.helpers_kb.values())) / 1024


def load(url: str, snapshot: Path, recorded_at: str, missing: Path) -> dict[str, Any]:
    env = {**os.environ, "REGWATCH_DATABASE_URL": url, "REGWATCH_LOG_LEVEL": "WARNING"}
    command = [
        sys.executable,
        "-m",
        "regwatch.cli",
        "register",
        "load-snapshot",
        str(snapshot),
        "--full",
        "--recorded-at",
        recorded_at,
        "--missing",
        str(missing),
    ]
    began = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    watch = PeakMemory(child.pid)
    watch.start()
    output = child.stdout.read() if child.stdout else ""
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - began
    child.returncode = os.waitstatus_to_exitcode(status)
    watch.done.set()
    watch.join()
    if child.returncode:
        raise SystemExit(f"load-snapshot failed ({child.returncode}):\n{output}")
    return {
        "wall": wall,
        "output": output,
        "main_mb": watch.main_kb / 1024,
        "helper_mb": sum(watch.helpers_kb.values()) / 1024,
        "total_mb": watch.total_mb,
        "maxrss_mb": usage.ru_maxrss / 1024,
        "cpu": usage.ru_utime + usage.ru_stime,
    }


def last_batch(path: Path) -> sqlite3.Row:
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        row = conn.execute(
            "SELECT * FROM feed_batches ORDER BY batch_id DESC LIMIT 1"
        ).fetchone()
    return row


# --- the run -------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument(
        "--from-db", type=Path, help="copy this mirror, do not generate"
    )
    parser.add_argument(
        "--keep", type=Path, help="keep (and reuse) files in this folder"
    )
    parser.add_argument("--changes", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    folder = args.keep or Path(tempfile.mkdtemp(prefix="regwatch-snapshot-"))
    folder.mkdir(parents=True, exist_ok=True)
    base, export = folder / "base.db", folder / "export.jsonl"
    snapshot, run_db = folder / "snapshot.jsonl", folder / "run.db"
    figures: list[tuple[str, str]] = []

    if not base.exists():
        if args.from_db:
            copy_database(args.from_db, base)
            regwatch(sqlite_url(base), "init")  # brings the schema up to date
        else:
            regwatch(sqlite_url(base), "init", "--simulated-clock", START)
            timed(
                f"generate {args.persons:,} persons",
                figures,
                lambda: regwatch(
                    sqlite_url(base),
                    "register",
                    "generate",
                    "--persons",
                    str(args.persons),
                ),
            )
    if not export.exists():
        timed(
            "export the mirror",
            figures,
            lambda: regwatch(
                sqlite_url(base), "register", "export", "--out", str(export)
            ),
        )
    changed = timed(
        "change the export",
        figures,
        lambda: write_snapshot(export, snapshot, args.changes, args.seed),
    )
    copy_database(base, run_db)

    first = load(sqlite_url(run_db), snapshot, RECORDED, folder / "missing.txt")
    found = last_batch(run_db)
    again = load(sqlite_url(run_db), snapshot, AGAIN, folder / "missing-again.txt")
    second = last_batch(run_db)

    lines = found["lines"]
    updated = re.search(r"(\d+) updated without a change", first["output"])
    figures += [
        ("load-snapshot --full, wall", f"{first['wall']:.1f} s"),
        ("persons per second", f"{lines / first['wall']:,.0f}"),
        ("CPU (process and helper)", f"{first['cpu']:.1f} s"),
        ("persons read", f"{lines:,}"),
        ("changes found / made", f"{found['changes']:,} / {changed.kinds:,}"),
        (
            "updated without a change / citizenship changed",
            f"{updated.group(1) if updated else '?'} / {changed.citizenship:,}",
        ),
        ("new persons found / added", f"{found['new_persons']:,} / {changed.added:,}"),
        ("missing found / left out", f"{found['missing']:,} / {changed.left_out:,}"),
        ("peak memory, process (VmHWM)", f"{first['main_mb']:.0f} MB"),
        ("peak memory, parsing helper (VmHWM)", f"{first['helper_mb']:.0f} MB"),
        ("peak memory, both", f"{first['total_mb']:.0f} MB"),
        ("ru_maxrss of the process", f"{first['maxrss_mb']:.0f} MB"),
        ("the same file again, wall", f"{again['wall']:.1f} s"),
        ("changes the second time", f"{second['changes']:,}"),
    ]

    print(
        f"\n{platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"
    )
    print(first["output"].strip())
    width = max(len(label) for label, _ in figures)
    for label, value in figures:
        print(f"{label:<{width}}  {value}")
    ok = (
        found["changes"] == changed.kinds
        and found["new_persons"] == changed.added
        and found["missing"] == changed.left_out
        and second["changes"] == 0
    )
    print("the load found what was changed" if ok else "MISMATCH: see the figures")
    if not args.keep:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
