"""`regwatch demo`: the whole service once, end to end, as a customer sees it.

In a fresh temporary database it generates a register, creates a bank and a
telecom, loads their lists through real SOAP calls to a server it starts,
simulates a week of register activity, publishes the days, fetches every day's
changes and a few extracts over SOAP, and prints what each customer was told
and charged.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select
from zeep import Client
from zeep.transports import Transport

from regwatch import logs
from regwatch.api.app import create_app
from regwatch.api.server import run_in_thread
from regwatch.audit.trail import verify
from regwatch.billing.charges import totals
from regwatch.billing.prices import Item
from regwatch.clock import VILNIUS, day_of
from regwatch.codes import make_code
from regwatch.config import Settings
from regwatch.kinds import ALL_KINDS, ALL_MASK, Kind, describe, to_mask
from regwatch.monitoring.customers import add_customer
from regwatch.monitoring.days import publish_pending
from regwatch.register.synth.activity import simulate
from regwatch.register.synth.population import generate_register
from regwatch.setup import initialise, open_database
from regwatch.store.engine import Database
from regwatch.store.tables import personal_codes, persons

START = datetime(2026, 11, 9, 0, 0, tzinfo=VILNIUS)  # a Monday of an ordinary week
CALL_SIZE = 5_000
PAGE_SIZE = 1_000


@dataclass
class DemoCustomer:
    label: str
    customer_id: str
    secret: str
    kinds: int
    list_size: int
    client: Client | None = None
    codes: list[str] = field(default_factory=list)
    load_counts: Counter = field(default_factory=Counter)
    first_answer: list[str] = field(default_factory=list)
    per_day: dict[date, Counter] = field(default_factory=dict)
    reported: list[str] = field(default_factory=list)

    @property
    def service(self) -> Any:
        """The customer's SOAP operations (zeep's service proxy)."""
        if self.client is None:
            raise RuntimeError(f"{self.label} has no SOAP client yet")
        return self.client.service


def run_demo(*, persons: int, days: int, seed: int, keep: bool) -> int:
    logs.configure("WARNING")  # the report is the output; access logs would drown it
    console = Console()
    folder = Path(tempfile.mkdtemp(prefix="regwatch-demo-"))
    began = time.monotonic()
    try:
        db = open_database(Settings(database_url=f"sqlite:///{folder / 'demo.db'}"))
        initialise(db, simulated_clock=START)
        console.rule("[bold]regwatch demo")
        console.print(
            f"database: {folder / 'demo.db'} (simulated clock {START:%Y-%m-%d})"
        )

        with console.status(f"generating a register of {persons:,} persons..."):
            generate_register(db, persons, seed, start=START)
        console.print(f"[green]✓[/] generated {persons:,} persons")

        customers = _create_customers(db, persons)
        _choose_lists(db, customers, seed)
        with run_in_thread(create_app(db), "127.0.0.1", 0) as base_url:
            console.print(f"[green]✓[/] SOAP service at {base_url}/soap")
            for customer in customers:
                customer.client = _soap_client(base_url, customer)
            _load_lists(console, customers)
            _simulate(console, db, days, seed)
            published = publish_pending(db)
            console.print(f"[green]✓[/] published {len(published)} days")
            _fetch_days(console, customers, [d.day for d in published])
            refetch = _refetch_is_frozen(customers[0], published[0].day)
            extracts = _fetch_extracts(customers[0])
            walks = {c.label: _walk_list(c) for c in customers}

        _report(console, db, customers, [d.day for d in published], walks, extracts)
        console.print(
            f"first day fetched again: {'identical' if refetch else 'DIFFERENT'}, "
            "and charged nothing more"
        )
        checked = verify(db)
        console.print(
            f"audit trail: {checked.records:,} records, "
            + ("chain intact" if checked.ok else f"BROKEN: {checked.problems[:3]}")
        )
        console.print(f"demo finished in {time.monotonic() - began:.0f} s")
        return 0
    finally:
        if keep:
            console.print(f"kept: {folder / 'demo.db'}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def _create_customers(db: Database, register_size: int) -> list[DemoCustomer]:
    made = []
    plans = [
        ("Demo Bank", ALL_MASK, min(25_000, register_size // 2)),
        (
            "Demo Telecom",
            to_mask([Kind.NAME, Kind.DEATH, Kind.DECLARED_RESIDENCE]),
            min(15_000, register_size * 3 // 10),
        ),
    ]
    for name, kinds, size in plans:
        customer, secret = add_customer(db, name, kinds=kinds)
        made.append(DemoCustomer(name, customer.customer_id, secret, kinds, size))
    return made


def _choose_lists(db: Database, customers: list[DemoCustomer], seed: int) -> None:
    """Overlapping samples of the living register, one per customer."""
    with db.read() as conn:
        living = list(
            conn.execute(
                select(persons.c.personal_code)
                .where(persons.c.died_on.is_(None))
                .order_by(persons.c.person_id)
            ).scalars()
        )
    rng = random.Random(seed)
    for customer in customers:
        customer.codes = rng.sample(living, min(customer.list_size, len(living)))
    # A few codes a real client base holds: mistyped ones and one of nobody.
    customers[0].codes[:0] = ["3330924006", "33309240065", _unused_code(db)]


def _unused_code(db: Database) -> str:
    """A valid personal code that no person of the register has."""
    with db.read() as conn:
        for serial in range(1000):
            code = make_code("M", date(1931, 2, 3), serial)
            taken = conn.execute(
                select(personal_codes.c.code).where(personal_codes.c.code == code)
            ).first()
            if taken is None:
                return code
    raise RuntimeError("every code of 1931-02-03 is taken")


def _soap_client(base_url: str, customer: DemoCustomer) -> Client:
    session = requests.Session()
    session.auth = (customer.customer_id, customer.secret)
    return Client(f"{base_url}/soap?wsdl", transport=Transport(session=session))


def _progress(console: Console) -> Progress:
    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _load_lists(console: Console, customers: list[DemoCustomer]) -> None:
    with _progress(console) as progress:
        for customer in customers:
            task = progress.add_task(
                f"LoadClients {customer.label}", total=len(customer.codes)
            )
            for n, start in enumerate(range(0, len(customer.codes), CALL_SIZE)):
                part = customer.codes[start : start + CALL_SIZE]
                answer = customer.service.LoadClients(
                    requestId=f"demo-load-{n}", add=part
                )
                customer.load_counts.update(r.outcome for r in answer.result)
                if n == 0:
                    customer.first_answer = [r.outcome for r in answer.result]
                progress.advance(task, len(part))
    # The bank's first call again: the first answer comes back, nothing changes.
    bank = customers[0]
    again = bank.service.LoadClients(
        requestId="demo-load-0", add=bank.codes[:CALL_SIZE]
    )
    same = [r.outcome for r in again.result] == bank.first_answer
    console.print(
        "[green]✓[/] LoadClients repeated with the same requestId: "
        + ("the first answer came back, nothing changed" if same else "DIFFERENT")
    )


def _simulate(console: Console, db: Database, days: int, seed: int) -> None:
    with _progress(console) as progress:
        task = progress.add_task("simulating register activity", total=days)
        simulate(db, days, seed, progress=lambda _day, _n: progress.advance(task))


def _fetch_days(
    console: Console, customers: list[DemoCustomer], published: list[date]
) -> None:
    with _progress(console) as progress:
        for customer in customers:
            task = progress.add_task(
                f"GetClientsDataChanges {customer.label}", total=len(published)
            )
            for day in published:
                tally: Counter = Counter()
                for person in _day_answer(customer, day):
                    tally["persons"] += 1
                    tally.update(person.changes)
                    customer.reported.append(person.currentPersonalCode)
                customer.per_day[day] = tally
                progress.advance(task)


def _day_answer(customer: DemoCustomer, day: date) -> list:
    persons_, token = [], None
    while True:
        page = customer.service.GetClientsDataChanges(
            date=day, pageSize=PAGE_SIZE, pageToken=token
        )
        persons_ += page.person
        token = page.nextPageToken
        if not token:
            return persons_


def _refetch_is_frozen(customer: DemoCustomer, day: date) -> bool:
    again: Counter = Counter()
    for person in _day_answer(customer, day):
        again["persons"] += 1
        again.update(person.changes)
    return again == customer.per_day[day]


def _fetch_extracts(customer: DemoCustomer) -> list:
    codes = list(dict.fromkeys(customer.reported))[:3]
    if not codes:
        return []
    answer = customer.service.GetPersonData(
        personalCodes=codes, purpose="demo: refresh client records after changes"
    )
    return list(answer or [])  # zeep unwraps the lone repeated element


def _walk_list(customer: DemoCustomer) -> Counter:
    statuses: Counter = Counter()
    token = None
    while True:
        page = customer.service.GetAllClients(pageSize=10_000, pageToken=token)
        statuses.update(client.status for client in page.client)
        token = page.nextPageToken
        if not token:
            return statuses


def _report(
    console: Console,
    db: Database,
    customers: list[DemoCustomer],
    days: list[date],
    walks: dict[str, Counter],
    extracts: list,
) -> None:
    console.rule("[bold]report")
    for customer in customers:
        loaded = ", ".join(
            f"{k} {v:,}" for k, v in sorted(customer.load_counts.items())
        )
        console.print(
            f"\n[bold]{customer.label}[/] ({customer.customer_id}), contract: "
            f"{describe(customer.kinds)}\n  LoadClients: {loaded}\n  GetAllClients: "
            + ", ".join(f"{k} {v:,}" for k, v in sorted(walks[customer.label].items()))
        )
        console.print(_day_table(customer, days))
        with db.read() as conn:
            charged = totals(conn, customer.customer_id)
        lines = [
            f"{t.persons:,} {'reported' if t.item is Item.CHANGES else 'extracted'}"
            f" {t.cents / 100:.2f}"
            for t in charged
        ]
        total = sum(t.cents for t in charged) / 100
        console.print(f"  charged (EUR): {', '.join(lines)}; total {total:.2f}")
    if extracts:
        console.print("\n[bold]GetPersonData[/] (bank, 3 persons):")
        for person in extracts:
            console.print("  " + _extract_line(person))
    console.print(f"\nsimulated clock now: {day_of(db.now())}")


def _day_table(customer: DemoCustomer, days: list[date]) -> Table:
    """Kinds down, days across: fits an 80-column terminal."""
    span = f"{days[0]:%Y-%m-%d} to {days[-1]:%Y-%m-%d}" if days else "no days"
    table = Table(title=f"{customer.label}: changed persons per day, {span}")
    table.add_column("kind of change", no_wrap=True)
    for day in days:
        table.add_column(f"{day:%a}\n{day:%d}", justify="right")
    table.add_column("week", justify="right")
    rows = [("persons", "persons")] + [
        (kind.value, kind.value) for kind in ALL_KINDS if customer.kinds & kind.bit
    ]
    for label, key in rows:
        counts = [customer.per_day.get(day, Counter())[key] for day in days]
        table.add_row(label, *(str(n or "") for n in counts), str(sum(counts)))
    return table


def _extract_line(person) -> str:  # type: ignore[no-untyped-def]
    """One extract in a line, the code masked: demo output is shown around."""
    name = f"{person.name.givenNames} {person.name.surname}" if person.name else "-"
    residence = person.declaredResidence
    if residence is None:
        place = "-"
    elif residence.address is not None:
        place = residence.address.place
    else:
        place = residence.status
    marital = person.maritalStatus.status if person.maritalStatus else "-"
    return (
        f"{person.currentPersonalCode[:3]}******** {name}, {place}, "
        f"marital status {marital}"
    )
