"""The command line: regwatch init | register | days | customers | audit |
subject-report | serve | demo."""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import typing
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import replace
from datetime import date, datetime, time
from time import perf_counter
from typing import Any, BinaryIO, TextIO

import click
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from regwatch import logs
from regwatch.clock import VILNIUS, format_instant, parse_instant
from regwatch.config import ConfigError, Settings
from regwatch.errors import ServiceError
from regwatch.kinds import UnknownKindError, describe, parse_kinds
from regwatch.setup import (
    AlreadyInitialised,
    DatabaseNotReady,
    check_ready,
    initialise,
    open_database,
)
from regwatch.store.engine import Database


def _db(ctx: click.Context, *, ready: bool = True) -> Database:
    """The database of the command line; by default one that is initialised.

    Checked here, when a command first needs it, rather than by the group, so
    that --help of any command works without a database.
    """
    db: Database = ctx.find_root().obj["db"]
    if ready and not ctx.find_root().obj.get("checked"):
        check_ready(db)
        ctx.find_root().obj["checked"] = True
    return db


def parse_start(text: str) -> datetime:
    """A date (meaning Vilnius midnight) or an instant with its offset."""
    try:
        return datetime.combine(date.fromisoformat(text), time(0), tzinfo=VILNIUS)
    except ValueError:
        pass
    try:
        return parse_instant(text)
    except ValueError as error:
        raise click.BadParameter(
            f"{text!r}: give a date (2026-11-02) or an instant with an offset "
            f"(2026-11-02T08:00:00+02:00): {error}"
        ) from None


class _Cli(click.Group):
    """Turns database and configuration failures into one-line errors."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (ConfigError, DatabaseNotReady) as error:
            raise click.ClickException(str(error)) from None
        except SQLAlchemyError as error:
            cause = getattr(error, "orig", None) or error
            where = ctx.obj["db"].engine.url.render_as_string(hide_password=True)
            raise click.ClickException(f"database error ({where}): {cause}") from None
        except BrokenPipeError:
            # The reader stopped reading (`regwatch register export | head`):
            # not an error to report. Quiet, and the status a shell gives a
            # writer that SIGPIPE ended; later writes go nowhere.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(141)
        except OSError as error:
            # A file given on the command line that cannot be read or written;
            # the transaction it happened in (if any) has been rolled back.
            where = f": {error.filename}" if error.filename else ""
            raise click.ClickException(f"{error.strerror or error}{where}") from None


@click.group(cls=_Cli)
@click.option(
    "--database",
    envvar="REGWATCH_DATABASE_URL",
    default=Settings.database_url,
    show_default=True,
    help="SQLAlchemy URL of the database (or REGWATCH_DATABASE_URL).",
)
@click.pass_context
def main(ctx: click.Context, database: str) -> None:
    """regwatch: change monitoring for a population register."""
    logs.configure()
    settings = replace(Settings.from_env(), database_url=database)
    try:
        db = open_database(settings)
    except (ArgumentError, ImportError) as error:
        raise click.ClickException(
            f"cannot use the database URL {database!r}: {error}"
        ) from None
    ctx.obj = {"settings": settings, "db": db}
    # Close the pool's connections when the command ends, rather than leaving
    # PostgreSQL to log each one as dropped.
    ctx.call_on_close(db.engine.dispose)


@main.command()
@click.option(
    "--simulated-clock",
    "start",
    metavar="START",
    help="Keep the database's own time, starting at START; "
    "it moves only with 'register simulate'.",
)
@click.pass_context
def init(ctx: click.Context, start: str | None) -> None:
    """Create the database (or bring its schema up to date)."""
    db = _db(ctx, ready=False)
    try:
        created = initialise(db, simulated_clock=parse_start(start) if start else None)
    except AlreadyInitialised as error:
        raise click.ClickException(str(error)) from None
    clock = "simulated" if start else "wall"
    if created:
        click.echo(f"initialised {db.engine.url!r} on the {clock} clock")
        click.echo(f"time now: {format_instant(db.now())}")
    else:
        click.echo("already initialised; schema is up to date")


@main.group()
def register() -> None:
    """The register mirror: generate, simulate, export."""


@register.command("generate")
@click.option("--persons", type=click.IntRange(1), required=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.pass_context
def register_generate(ctx: click.Context, persons: int, seed: int) -> None:
    """Fill an empty mirror with a generated register of PERSONS persons."""
    from regwatch.register.synth.population import GenerationRefused, generate_register

    db = _db(ctx)
    try:
        summary = generate_register(db, persons, seed, start=db.now())
    except GenerationRefused as error:
        raise click.ClickException(str(error)) from None
    click.echo(_summary_text("generated", summary))


@register.command("simulate")
@click.option("--days", type=click.IntRange(1), required=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--rate-scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Multiply every event rate (e.g. 25 for a busy day).",
)
@click.option(
    "--out",
    type=click.File("wb", lazy=False),
    default=None,
    help="Also write the events to this file, in the format of 'ingest' "
    "(- for standard output; the summary then goes to standard error).",
)
@click.pass_context
def register_simulate(
    ctx: click.Context, days: int, seed: int, rate_scale: float, out: BinaryIO | None
) -> None:
    """Record DAYS days of register activity and move the simulated clock.

    The events go through the same door as a real feed: written as an event
    file and ingested.
    """
    from regwatch.register.feed import FeedRefused
    from regwatch.register.synth.activity import simulate
    from regwatch.register.synth.planner import SimulationRefused

    db = _db(ctx)
    try:
        summary = simulate(db, days, seed, rate_scale=rate_scale, out=out)
    except (SimulationRefused, FeedRefused) as error:
        raise click.ClickException(str(error)) from None
    # With the events on standard output, the summary must not mix into them.
    to_stderr = out is not None and getattr(out, "name", "") == "<stdout>"
    click.echo(_summary_text("simulated", summary), err=to_stderr)
    click.echo(f"time now: {format_instant(db.now())}", err=to_stderr)


def _feed_options(command: Callable[..., None]) -> Callable[..., None]:
    """--administrative and --skip-invalid, the same for every kind of feed."""
    command = click.option(
        "--skip-invalid",
        "rejects",
        metavar="REJECTS",
        type=click.Path(dir_okay=False, allow_dash=True),
        help="Apply the good lines; write each refused line and why to REJECTS "
        "(written anew, empty when nothing was refused).",
    )(command)
    return click.option(
        "--administrative",
        is_flag=True,
        help="A register clean-up: its changes are reported but never charged.",
    )(command)


def _open_output(stack: ExitStack, path: str | None) -> TextIO | None:
    """A text file given on the command line, opened now (and closed by stack)."""
    if path is None:
        return None
    out = stack.enter_context(click.open_file(path, "w", encoding="utf-8"))
    return typing.cast(TextIO, out)


def _not_the_input(file: BinaryIO, path: str | None, option: str) -> None:
    """Refuse an output path that names the input file: it would be emptied."""
    name = getattr(file, "name", None)
    if path is None or path == "-" or not isinstance(name, str):
        return
    try:
        same = os.path.samefile(name, path)
    except OSError:
        return  # the output does not exist yet
    if same:
        raise click.UsageError(f"{option} {path} is the input file itself")


def _source_of(file: BinaryIO) -> str:
    """How a feed's file is named in reports and the feed log."""
    name = str(getattr(file, "name", "-"))
    return "-" if name in ("<stdin>", "-") else name


@register.command("ingest")
@click.argument("file", type=click.File("rb"))
@_feed_options
@click.pass_context
def register_ingest(
    ctx: click.Context, file: BinaryIO, administrative: bool, rejects: str | None
) -> None:
    """Apply a file of register events (JSON Lines; - for standard input).

    Events are applied in order of recording time. An event recorded before is
    skipped, so a file fed twice changes nothing the second time. A file with a
    bad line is refused whole, every problem listed by line number, unless
    --skip-invalid is given.
    """
    from regwatch.register.feed import FeedRefused, write_rejects
    from regwatch.register.ingest import ingest_events

    db = _db(ctx)
    source = _source_of(file)
    started = perf_counter()
    _not_the_input(file, rejects, "--skip-invalid")
    try:
        with ExitStack() as stack, db.write() as conn:
            # Opened first, written before the commit: a rejects file that
            # cannot be written leaves nothing applied.
            out = _open_output(stack, rejects)
            report = ingest_events(
                conn,
                file,
                source=source,
                received_at=db.now(conn),
                administrative=administrative,
                skip_invalid=out is not None,
            )
            if out is not None:
                write_rejects(out, report.rejected)
                out.flush()
    except FeedRefused as refusal:
        raise click.ClickException(str(refusal)) from None
    click.echo(_ingest_text(report, perf_counter() - started))


def _ingest_text(report: Any, seconds: float) -> str:
    if report.nothing_new and report.duplicates:
        return (
            f"nothing new: all {report.duplicates} events of {report.source} "
            f"were recorded before; the mirror is unchanged (took {seconds:.1f} s)"
        )
    label = "administrative changes" if report.administrative else "changes"
    lines = [
        f"{report.source}: {report.lines} lines, {report.applied} events applied, "
        f"{report.duplicates} recorded before, {report.refused} refused "
        f"(took {seconds:.1f} s)",
        f"{report.changes} {label} written, {report.new_persons} new persons",
    ]
    lines += [f"  {day}: {count} changes" for day, count in report.days.items()]
    if report.refused:
        lines.append(f"refused lines written to the rejects file ({report.refused})")
    return "\n".join(lines)


@register.command("export")
@click.option("--limit", type=click.IntRange(1), default=None)
@click.option("--out", type=click.File("w", encoding="utf-8"), default="-")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    help="JSON Lines, or the flat CSV of snapshot files.",
)
@click.pass_context
def register_export(
    ctx: click.Context, limit: int | None, out: TextIO, file_format: str
) -> None:
    """Write the mirror, one person a line (the format of snapshot files).

    The whole register leaves the service this way, so each export is an
    audit record (how many persons, in which format, to which file).
    """
    from regwatch.audit import trail
    from regwatch.register.export import dump_line, export_persons
    from regwatch.register.snapshot_csv import write_csv

    db = _db(ctx)
    exported = 0

    def counted(documents: Iterable[dict]) -> Iterator[dict]:
        nonlocal exported
        for document in documents:
            exported += 1
            yield document

    finished = False
    try:
        with db.snapshot() as conn:
            documents = counted(export_persons(conn, limit))
            if file_format == "csv":
                write_csv(out, documents)
            else:
                for document in documents:
                    out.write(dump_line(document) + "\n")
        finished = True
    finally:  # a reader that stopped early (| head) still got some persons
        trail.append_alone(
            db,
            "ExportRegister",
            customer_id=None,
            actor=trail.OPERATOR,
            outcome="OK" if finished else "STOPPED",
            persons=exported,
            detail={"format": file_format, "to": out.name, "limit": limit},
        )


@register.command("load-snapshot")
@click.argument("file", type=click.File("rb"))
@click.option(
    "--recorded-at",
    "recorded_text",
    metavar="TIME",
    required=True,
    help="When the register stood as the file shows, with its offset "
    "(2026-11-05T06:00:00+02:00); the changes are recorded then.",
)
@click.option(
    "--full",
    is_flag=True,
    help="The file holds the whole register: count the mirror's persons it lacks "
    "(they are not deleted).",
)
@click.option(
    "--missing",
    metavar="FILE",
    type=click.File("w", encoding="utf-8", lazy=True),
    help="With --full: write the personal codes of the persons the file lacks here.",
)
@_feed_options
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["jsonl", "csv"]),
    default=None,
    help="The file's format; by default CSV for a .csv file, else JSON Lines.",
)
@click.pass_context
def register_load_snapshot(
    ctx: click.Context,
    file: BinaryIO,
    recorded_text: str,
    full: bool,
    missing: TextIO | None,
    administrative: bool,
    rejects: str | None,
    file_format: str | None,
) -> None:
    """Compare a snapshot of the register (FILE; - for standard input) with the
    mirror, and write each difference as a change recorded at --recorded-at.

    Persons the mirror does not know are added. A file with a bad line is
    refused whole, every problem listed by line number, unless --skip-invalid
    is given.
    """
    from regwatch.register.feed import FeedRefused
    from regwatch.register.snapshot import format_of, load_snapshot

    if missing is not None and not full:
        raise click.UsageError("--missing lists what a --full snapshot lacks")
    try:
        recorded_at = parse_instant(recorded_text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--recorded-at") from None
    source = _source_of(file)
    _not_the_input(file, rejects, "--skip-invalid")
    db = _db(ctx)
    try:
        with ExitStack() as stack, db.write() as conn:
            out = _open_output(stack, rejects)
            report = load_snapshot(
                conn,
                file,
                source=source,
                file_format=file_format or format_of(source),
                recorded_at=recorded_at,
                received_at=db.now(conn),
                full=full,
                administrative=administrative,
                rejects=out,
                missing=missing,
            )
    except FeedRefused as refusal:
        raise click.ClickException(str(refusal)) from None
    if missing is not None:
        missing.write("")  # the file exists even when nobody is missing
    click.echo(_snapshot_text(report, recorded_at))


def _snapshot_text(report: Any, recorded_at: datetime) -> str:
    label = "administrative changes" if report.administrative else "changes"
    lines = [
        f"{report.source}: snapshot of {format_instant(recorded_at)}"
        + (" (full)" if report.full else ""),
        f"{report.lines} persons read: {report.unchanged} unchanged, "
        f"{report.changed} changed, {report.new_persons} new, "
        f"{report.updated} updated without a change, {report.refused} refused",
        f"{report.changes} {label} written",
    ]
    lines += [f"  {day}: {count} changes" for day, count in report.days.items()]
    if report.full:
        lines.append(f"{report.missing} persons of the mirror missing from the file")
    if report.refused or report.links_left_out:
        lines.append(
            f"refused lines written to the rejects file ({report.refused}), "
            f"and lines applied without a link to nobody ({report.links_left_out})"
        )
    return "\n".join(lines)


@main.group()
def days() -> None:
    """Publishing days and what they hold."""


@days.command("publish")
@click.pass_context
def days_publish(ctx: click.Context) -> None:
    """Publish every day that has ended and is not yet published."""
    from regwatch.monitoring.days import publish_pending

    published = publish_pending(_db(ctx))
    if not published:
        click.echo("nothing to publish")
    for day in published:
        click.echo(
            f"published {day.day}: changed persons "
            f"{_apart(day.changed_persons, day.administrative_persons)}; "
            f"reported to customers {_apart(day.answers, day.administrative_answers)}"
        )


@days.command("show")
@click.argument("day", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.pass_context
def days_show(ctx: click.Context, day: datetime) -> None:
    """Show a published DAY (YYYY-MM-DD): who changed, who was told, what it cost.

    Administrative changes (register clean-ups) are reported but never charged,
    so they are counted apart.
    """
    from regwatch.monitoring.days import day_figures

    try:
        figures = day_figures(_db(ctx), day.date())
    except ServiceError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{figures.day}, published {format_instant(figures.published_at)}")
    click.echo(
        "changed persons: "
        f"{_apart(figures.changed_persons, figures.administrative_persons)}"
    )
    if not figures.customers:
        click.echo("no person was reported to any customer")
        return
    width = max(len("customer"), *(len(c.customer_id) for c in figures.customers))
    click.echo(
        f"{'customer':<{width}}  {'reported':>9}  {'administrative':>14}  "
        f"{'charged':>9}  {'amount':>12}"
    )
    for c in figures.customers:
        euros = f"{c.charged_cents // 100}.{c.charged_cents % 100:02d} EUR"
        click.echo(
            f"{c.customer_id:<{width}}  {c.persons:>9}  {c.administrative:>14}  "
            f"{c.charged_persons:>9}  {euros:>12}"
        )


def _apart(total: int, administrative: int) -> str:
    return f"{total - administrative} ordinary, {administrative} administrative"


@main.group()
def customers() -> None:
    """Customers and their contracts."""


@customers.command("add")
@click.argument("name")
@click.option("--kinds", required=True, help="ALL or a list such as NAME,DEATH")
@click.option("--company-code", default=None, help="9-digit company code")
@click.option("--secret", default=None, help="Use this secret instead of a new one")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON")
@click.pass_context
def customers_add(
    ctx: click.Context,
    name: str,
    kinds: str,
    company_code: str | None,
    secret: str | None,
    as_json: bool,
) -> None:
    """Add a customer; its secret is shown this once and never again."""
    from regwatch.monitoring.customers import add_customer

    try:
        mask = parse_kinds(kinds)
        customer, secret = add_customer(
            _db(ctx), name, kinds=mask, company_code=company_code, secret=secret
        )
    except (UnknownKindError, ServiceError) as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "customerId": customer.customer_id,
                    "name": customer.name,
                    "companyCode": customer.company_code,
                    "kinds": describe(customer.kinds).split(","),
                    "secret": secret,
                }
            )
        )
        return
    click.echo(f"customer id: {customer.customer_id}")
    click.echo(f"kinds:       {describe(customer.kinds)}")
    click.echo(f"secret:      {secret}")
    click.echo("(the secret is not stored and cannot be shown again)")


@customers.command("rotate-secret")
@click.argument("customer_id")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON")
@click.pass_context
def customers_rotate_secret(
    ctx: click.Context, customer_id: str, as_json: bool
) -> None:
    """Give CUSTOMER_ID a new secret, shown this once; the old one stops at once."""
    from regwatch.monitoring.customers import rotate_secret

    secret = _customer_call(rotate_secret, _db(ctx), customer_id)
    if as_json:
        click.echo(json.dumps({"customerId": customer_id, "secret": secret}))
        return
    click.echo(f"customer id: {customer_id}")
    click.echo(f"secret:      {secret}")
    click.echo("(the old secret no longer works; the new one is not stored)")


@customers.command("disable")
@click.argument("customer_id")
@click.pass_context
def customers_disable(ctx: click.Context, customer_id: str) -> None:
    """Refuse every call of CUSTOMER_ID from now on (its data is kept)."""
    from regwatch.monitoring.customers import disable_customer

    if _customer_call(disable_customer, _db(ctx), customer_id):
        click.echo(f"{customer_id} is disabled: its calls are refused from now on")
    else:
        click.echo(f"{customer_id} was already disabled")


@customers.command("enable")
@click.argument("customer_id")
@click.pass_context
def customers_enable(ctx: click.Context, customer_id: str) -> None:
    """Accept the calls of a disabled CUSTOMER_ID again, with its secret."""
    from regwatch.monitoring.customers import enable_customer

    if _customer_call(enable_customer, _db(ctx), customer_id):
        click.echo(f"{customer_id} is enabled")
    else:
        click.echo(f"{customer_id} was not disabled")


@customers.command("set-certificate")
@click.argument("customer_id")
@click.argument("pem_file", type=click.File("r", encoding="ascii"))
@click.pass_context
def customers_set_certificate(
    ctx: click.Context, customer_id: str, pem_file: TextIO
) -> None:
    """Require CUSTOMER_ID to present the TLS client certificate in PEM_FILE.

    Only its SHA-256 fingerprint is stored. The certificate reaches the service
    through a trusted proxy (REGWATCH_TRUSTED_PROXIES, REGWATCH_CLIENT_CERT_HEADER);
    the customer's secret is still needed as well.
    """
    from regwatch.monitoring.customers import set_certificate

    fingerprint = _customer_call(
        set_certificate, _db(ctx), customer_id, pem_file.read()
    )
    click.echo(f"{customer_id} must present the certificate with SHA-256 {fingerprint}")


@customers.command("remove-certificate")
@click.argument("customer_id")
@click.pass_context
def customers_remove_certificate(ctx: click.Context, customer_id: str) -> None:
    """Stop requiring a client certificate of CUSTOMER_ID (its secret still is)."""
    from regwatch.monitoring.customers import remove_certificate

    if _customer_call(remove_certificate, _db(ctx), customer_id):
        click.echo(f"{customer_id} no longer needs a client certificate")
    else:
        click.echo(f"{customer_id} had no client certificate on record")


@customers.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object a line")
@click.pass_context
def customers_list(ctx: click.Context, as_json: bool) -> None:
    """List the customers: contract, state and whether a certificate is required.

    Secrets are never shown: they are not stored.
    """
    from regwatch.monitoring.customers import list_customers

    entries = list_customers(_db(ctx))
    if as_json:
        for entry in entries:
            click.echo(json.dumps(_customer_json(entry)))
        return
    if not entries:
        click.echo("no customers yet; add one with `regwatch customers add`")
        return
    rows = [
        (
            entry.customer_id,
            "disabled" if entry.disabled_at else "active",
            "required" if entry.certificate_required else "-",
            describe(entry.kinds),
            entry.name,
        )
        for entry in entries
    ]
    header = ("customer", "state", "certificate", "kinds", "name")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        click.echo("  ".join([*cells, row[4]]))


def _customer_json(entry: Any) -> dict[str, Any]:
    return {
        "customerId": entry.customer_id,
        "name": entry.name,
        "companyCode": entry.company_code,
        "kinds": describe(entry.kinds).split(","),
        "createdAt": format_instant(entry.created_at),
        "disabledAt": format_instant(entry.disabled_at) if entry.disabled_at else None,
        "certificateRequired": entry.certificate_required,
    }


def _customer_call(service: Callable[..., Any], *args: Any) -> Any:
    """Run a service on one customer; a ServiceError (an unknown id, a bad
    certificate) becomes a one-line error."""
    try:
        return service(*args)
    except ServiceError as error:
        raise click.ClickException(str(error)) from None


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="API processes sharing the one address. Run several on PostgreSQL: "
    "SQLite allows them, but lets only one of them write at a time.",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Serve the SOAP web service at /soap (WSDL at /soap?wsdl)."""
    from regwatch.api.server import serve as serve_api

    db = _db(ctx)
    # Checked, and let go: each API process opens its own engine.
    db.engine.dispose()
    if workers > 1 and db.engine.dialect.name == "sqlite":
        click.echo(
            f"note: {workers} workers on SQLite take turns to write; "
            "PostgreSQL is the database for several workers",
            err=True,
        )
    _check_free(host, port)
    processes = f"{workers} worker processes" if workers > 1 else "one process"
    click.echo(
        f"serving http://{host}:{port}/soap (WSDL at /soap?wsdl) in {processes}; "
        "Ctrl-C stops"
    )
    serve_api(ctx.obj["settings"], host, port, workers)


def _check_free(host: str, port: int) -> None:
    """Fail before saying "serving" when the address cannot be listened on."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as error:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {error.strerror or error}"
        ) from None


@main.command()
@click.option("--persons", type=click.IntRange(1000), default=50_000, show_default=True)
@click.option(
    "--days", "day_count", type=click.IntRange(1), default=7, show_default=True
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--keep", is_flag=True, help="Keep the demo database and print its path")
def demo(persons: int, day_count: int, seed: int, keep: bool) -> None:
    """Run the whole service once, end to end, in a fresh temporary database."""
    from regwatch.demo import run_demo

    sys.exit(run_demo(persons=persons, days=day_count, seed=seed, keep=keep))


@register.command("restrict")
@click.argument("code")
@click.option("--lift", is_flag=True, help="Lift the restriction instead")
@click.option("--reason", default=None, help="Why, for the audit trail")
@click.pass_context
def register_restrict(
    ctx: click.Context, code: str, lift: bool, reason: str | None
) -> None:
    """Restrict the data of the person with CODE: no extract returns them.

    The person stays on customers' lists and is reported as changed as usual;
    GetPersonData answers RESTRICTED. --lift ends the restriction.
    """
    from regwatch.register.restrictions import set_restricted

    try:
        done = set_restricted(_db(ctx), code, not lift, reason=reason)
    except ServiceError as error:
        raise click.ClickException(str(error)) from None
    state = "restricted" if done.restricted else "not restricted"
    note = "" if done.changed else " (it already was; nothing changed)"
    click.echo(f"person {done.current_code} is {state}{note}")


@main.group()
def audit() -> None:
    """The audit trail: check it, hand it to an auditor."""


def _anchor(text: str | None) -> tuple[int, str] | None:
    if text is None:
        return None
    seq, _, digest = text.partition(":")
    if not re.fullmatch(r"[0-9]{1,18}", seq) or len(digest) != 64:
        raise click.BadParameter(
            f"{text!r}: give RECORD:HASH as `audit verify` printed it",
            param_hint="--anchor",
        )
    return int(seq), digest.lower()


@audit.command("verify")
@click.option(
    "--anchor",
    default=None,
    help="RECORD:HASH printed by an earlier verify and kept elsewhere; "
    "the chain must still hold it",
)
@click.pass_context
def audit_verify(ctx: click.Context, anchor: str | None) -> None:
    """Check the hash chain of the whole trail; name every record that breaks it.

    Exits with 1 when a record was edited, removed or inserted.
    """
    from regwatch.audit.trail import verify

    result = verify(_db(ctx), anchor=_anchor(anchor))
    for seq, problem in result.problems:
        click.echo(f"record {seq}: {problem}")
    if not result.ok:
        click.echo(
            f"audit trail BROKEN: {len(result.problems)} problem(s) in "
            f"{result.records} records",
            err=True,
        )
        sys.exit(1)
    click.echo(
        f"audit trail intact: {result.records} records; head "
        f"{result.head_seq}:{result.head_hash} (keep this line elsewhere and "
        "check it later with --anchor)"
    )


@audit.command("export")
@click.option(
    "--from", "since", required=True, type=click.DateTime(formats=["%Y-%m-%d"])
)
@click.option("--to", "until", required=True, type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--out", default=None, help="Write to this file instead of stdout")
@click.pass_context
def audit_export(
    ctx: click.Context, since: datetime, until: datetime, out: str | None
) -> None:
    """Records of the Vilnius days --from to --to (both included), as JSON Lines.

    Each line carries its hash and the hash before it, so an auditor can check
    the chain of the span with nothing but SHA-256 (see README). The span is
    the unbroken run of records from the first of --from to the last of --to.
    """
    from regwatch.audit import trail
    from regwatch.audit.trail import records, span
    from regwatch.clock import day_bounds_micros

    if until < since:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    try:
        start = day_bounds_micros(since.date())[0]
    except OverflowError:  # a day before the calendar's first in Vilnius
        start = 0
    try:
        end = day_bounds_micros(until.date())[1]
    except OverflowError:  # the calendar's last day
        end = 2**63 - 1
    count, found = 0, None
    with ExitStack() as stack:
        target = _open_output(stack, out) or sys.stdout
        with _db(ctx).snapshot() as conn:
            found = span(conn, start, end)
            if found is not None:
                first, last = found
                for record in records(conn, after=first - 1, through=last):
                    line = json.dumps(record.as_json(), ensure_ascii=False)
                    target.write(line + "\n")
                    count += 1
    trail.append_alone(
        _db(ctx),
        "ExportAudit",
        customer_id=None,
        actor=trail.OPERATOR,
        detail={
            "from": since.date().isoformat(),
            "to": until.date().isoformat(),
            "records": count,
            "first": found[0] if found else None,
            "last": found[1] if found else None,
        },
    )
    click.echo(f"exported {count} audit records", err=True)


@main.command("subject-report")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="The complete report as JSON")
@click.pass_context
def subject_report_command(ctx: click.Context, code: str, as_json: bool) -> None:
    """What the service did with the data of the person with CODE (GDPR art. 15).

    Who follows or followed them, which day answers named them, which extracts
    asked for them. Making the report is recorded in the audit trail.
    """
    from regwatch.audit.subject import render_text, subject_report

    try:
        report = subject_report(_db(ctx), code)
    except ServiceError as error:
        raise click.ClickException(str(error)) from None
    if as_json:
        click.echo(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(render_text(report), nl=False)


def _summary_text(verb: str, summary: object) -> str:
    fields = getattr(summary, "__dict__", {})
    parts = [f"{key}={value}" for key, value in fields.items() if key != "days"]
    return f"{verb}: " + " ".join(parts)


if __name__ == "__main__":
    main()
