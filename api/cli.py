"""The ``arrears`` command: serve, migrate, demo, token, schema, audit.

No SQL here: what touches the database lives in ``store``."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TextIO, TypeVar

import typer
from pydantic import ValidationError

from api.settings import (
    DEVELOPMENT_KEY,
    ConfigurationError,
    Settings,
    say_development_warnings,
)

if TYPE_CHECKING:
    from domain.clock import Clock
    from store.db import Clause, Engine

T = TypeVar("T")

app = typer.Typer(
    name="arrears",
    help="Arrears: case management for overdue-loan collection.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"arrears {version('arrears')}")
        except PackageNotFoundError:
            _fail("the arrears distribution is not installed (pip install .)")
        raise typer.Exit(0)


@app.callback()
def _main(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Arrears: case management for overdue-loan collection."""


class CommandError(Exception):
    """An expected failure: printed as one line on stderr, exit status 1."""


def _fail(message: str) -> NoReturn:
    typer.echo(f"arrears: {message}", err=True)
    raise typer.Exit(1)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        _fail(f"invalid configuration: {'.'.join(map(str, first['loc']))}: {first['msg']}")


def _run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Runs async work, turning expected failures into one-line errors."""
    from store.db import DatabaseUrlError
    from store.errors import database_error_message
    from store.schema_state import SchemaNotReady

    try:
        return asyncio.run(work())
    except (CommandError, ConfigurationError, DatabaseUrlError, SchemaNotReady) as exc:
        _fail(str(exc))
    except BrokenPipeError:
        raise typer.Exit(0) from None  # the reader went away (e.g. `| head`)
    except OSError as exc:
        _fail(f"cannot reach the database: {exc.strerror or exc}")
    except Exception as exc:
        message = database_error_message(exc)
        if message is None:
            raise
        _fail(message)


async def _require_schema(url: str) -> None:
    """Refuses a database that is missing or not migrated to the newest revision, naming it;
    creates and changes nothing (a SQLite file is not created, and opened read-only)."""
    from store.schema_state import require_current_schema

    await require_current_schema(url)


async def _migrate(url: str) -> str | None:
    from store.db import create_engine
    from store.migrate import current_revision, upgrade

    engine = create_engine(url)
    try:
        await upgrade(engine)
        return await current_revision(engine)
    finally:
        await engine.dispose()


async def _seed(url: str, cases: int, seed: int, only_if_empty: bool) -> int:
    """Migrates and seeds; returns the number of cases seeded (0 if skipped)."""
    from rich.progress import Progress

    from store.db import create_engine
    from store.demo import DatabaseNotEmpty, seed_demo
    from store.migrate import upgrade

    engine = create_engine(url)
    try:
        await upgrade(engine)
        with Progress(transient=True) as bar:
            task = bar.add_task("Seeding demo portfolio", total=cases)
            try:
                summary = await seed_demo(
                    engine, cases=cases, seed=seed, progress=lambda n: bar.advance(task, n)
                )
            except DatabaseNotEmpty as exc:
                if only_if_empty:
                    return 0
                raise CommandError(str(exc)) from None
        return summary.cases
    finally:
        await engine.dispose()


def _print_logins() -> None:
    from store.demo import DEMO_LOGINS

    typer.echo("Demo logins (get a token with `arrears token LOGIN`):")
    for login, roles in DEMO_LOGINS:
        typer.echo(f"  {login:<15} {roles}")


def _loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    demo: Annotated[
        bool, typer.Option("--demo", help="Migrate and seed demo data if empty.")
    ] = False,
) -> None:
    """Runs the GraphQL service with uvicorn."""
    import uvicorn

    settings = _settings()
    try:
        settings.signing_key  # noqa: B018 - refuse to start with a bad key
    except ConfigurationError as exc:
        _fail(str(exc))
    if settings.secret_key == DEVELOPMENT_KEY and not _loopback(host):
        # Anyone who can reach the port could mint an admin token with the published key.
        _fail(
            f"refusing to serve on {host} with the development key: set ARREARS_SECRET_KEY "
            "or bind to 127.0.0.1"
        )
    if demo:
        seeded = _run(lambda: _seed(settings.database_url, 1000, 42, only_if_empty=True))
        typer.echo(
            f"Demo data: {'seeded ' + str(seeded) + ' cases' if seeded else 'already present'}"
        )
        _print_logins()
        typer.echo(f"GraphQL: http://{host}:{port}/graphql")
    else:
        _run(lambda: _require_schema(settings.database_url))
    from api.logging import configure_logging

    configure_logging(settings.log_level, json=settings.is_production)
    # The workers read it: with several, limits are shared (Settings.shared_limits).
    os.environ["ARREARS_WORKERS"] = str(workers)
    # On SIGTERM uvicorn stops accepting, lets the requests in flight finish (at most
    # ARREARS_SHUTDOWN_TIMEOUT_SECONDS), then raises the signal again to end the process: this
    # handler makes that end a clean exit 0, as a service manager expects of a graceful stop.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(
        "api.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        factory=False,
        # The client address is ours to decide (ARREARS_TRUSTED_PROXIES); uvicorn would
        # otherwise believe X-Forwarded-For from any loopback peer.
        proxy_headers=False,
        forwarded_allow_ips="",
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
    )


def _exit_cleanly(_signal: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


@app.command()
def migrate() -> None:
    """Upgrades the database to the newest Alembic revision."""
    settings = _settings()
    revision = _run(lambda: _migrate(settings.database_url))
    typer.echo(f"database at revision {revision}")


@app.command("demo")
def demo_command(
    cases: Annotated[int, typer.Option(min=1, help="Number of cases.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 42,
) -> None:
    """Migrates, then seeds a deterministic demo portfolio into an empty database."""
    settings = _settings()
    seeded = _run(lambda: _seed(settings.database_url, cases, seed, only_if_empty=False))
    typer.echo(f"seeded {seeded} demo cases")
    _print_logins()


@app.command()
def token(
    login: Annotated[str, typer.Argument(help="Staff login.")],
    ttl: Annotated[int | None, typer.Option(min=1, help="Lifetime in seconds.")] = None,
) -> None:
    """Prints a signed bearer token for a staff login."""
    from api.auth import mint_token

    settings = _settings()
    try:
        settings.signing_key  # noqa: B018 - refuse a bad key before touching the database
    except ConfigurationError as exc:
        _fail(str(exc))
    say_development_warnings(settings)

    async def check() -> None:
        from store.db import create_engine, session_factory
        from store.loaders import staff_by_login

        await _require_schema(settings.database_url)
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session:
                staff = await staff_by_login(session, login)
        finally:
            await engine.dispose()
        if staff is None:
            raise CommandError(f"unknown staff login {login!r}")
        if not staff.active:
            raise CommandError(f"staff login {login!r} is deactivated")

    _run(check)
    typer.echo(mint_token(settings, login, ttl))


@app.command()
def schema() -> None:
    """Prints the GraphQL SDL (schema.graphql must equal it byte for byte)."""
    from api.schema import schema as graphql_schema

    sys.stdout.write(graphql_schema.as_str() + "\n")


audit_app = typer.Typer(help="Verify and export the audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


def _when(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        _fail(f"--{name} is not an ISO-8601 date or time: {value!r}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@audit_app.command("verify")
def audit_verify() -> None:
    """Recomputes every audit chain and checks every checkpoint; exits 1 naming what fails."""
    from store import audit_checkpoints as checkpoints
    from store.audit import AUDIT_CHAINS, Break, verify
    from store.audit_keys import CheckpointError
    from store.db import create_engine

    settings = _settings()
    try:
        key = settings.audit_key
        # Read before the database: a checkpoint written while verify runs is then never ahead
        # of the snapshot verify reads.
        found = checkpoints.load(
            settings.audit_checkpoint_dir,
            settings.audit_verify_key_file,
            settings.audit_signing_key_file,
            development=settings.env == "development",
        )
    except (ConfigurationError, CheckpointError) as exc:
        _fail(str(exc))
    say_development_warnings(settings)

    async def check() -> tuple[int, list[Break], list[str]]:
        await _require_schema(settings.database_url)
        engine = create_engine(settings.database_url)
        try:
            async with engine.connect() as conn:
                checked, breaks = await verify(conn, key)
                return checked, breaks, await checkpoints.compare(conn, found.valid)
        finally:
            await engine.dispose()

    checked, breaks, shortfalls = _run(check)
    problems = [f"audit trail broken at {b}" for b in breaks[:1]] + found.invalid + shortfalls
    if problems:
        for extra in [*map(str, breaks[1:]), *problems[1:]]:
            typer.echo(f"also broken: {extra}", err=True)
        _fail(problems[0])
    verified = f"audit trail verified: {checked} entries in {AUDIT_CHAINS} chains"
    if found.valid:
        count = len(found.valid)
        typer.echo(f"{verified}, against {count} checkpoint{'s' if count > 1 else ''}")
        return
    typer.echo(verified)
    where = (
        f"none in {found.directory}" if found.directory else "ARREARS_AUDIT_CHECKPOINT_DIR unset"
    )
    typer.echo(
        f"arrears: WARNING: no audit checkpoints ({where}): "
        "truncation of a chain cannot be detected without checkpoints",
        err=True,
    )


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Writes an Ed25519-signed checkpoint of every chain head to ARREARS_AUDIT_CHECKPOINT_DIR."""
    from store import audit_checkpoints as checkpoints
    from store.audit_keys import CheckpointError
    from store.db import create_engine

    settings = _settings()
    try:
        directory, signer = checkpoints.signing_key(
            settings.audit_checkpoint_dir, settings.audit_signing_key_file, settings.env
        )
        key = settings.audit_key
    except (ConfigurationError, CheckpointError) as exc:
        _fail(str(exc))
    say_development_warnings(settings)

    async def heads() -> list[checkpoints.Head]:
        from store.audit import verify

        await _require_schema(settings.database_url)
        engine = create_engine(settings.database_url)
        try:
            async with engine.connect() as conn:
                # Never vouch for a trail that is already broken: a checkpoint of a cut or
                # edited chain would make the damage look original.
                _checked, breaks = await verify(conn, key)
                if breaks:
                    raise CommandError(f"audit trail broken at {breaks[0]}; no checkpoint written")
                return await checkpoints.read_heads(conn)
        finally:
            await engine.dispose()

    read = _run(heads)
    try:
        path = checkpoints.write(directory, signer, read, datetime.now(UTC))
    except CheckpointError as exc:
        _fail(str(exc))
    entries = sum(head.seq for head in read)
    typer.echo(f"audit checkpoint written: {path} ({len(read)} chains, {entries} entries)")


EXPORT_COLUMNS = (
    "id",
    "at",
    "actor_login",
    "actor_roles",
    "action",
    "outcome",
    "resource_type",
    "resource_ids",
    "borrower_ids",
    "case_ids",
    "fields",
    "reason_code",
    "reason_text",
    "client_ip",
    "user_agent",
    "request_id",
    "operation_name",
    "operation_type",
    "document_hash",
    "changes",
    "chain",
    "seq",
    "prev_hash",
    "hash",
)


@audit_app.command("export")
def audit_export(
    since: Annotated[str | None, typer.Option(help="From this time (ISO-8601, inclusive).")] = None,
    until: Annotated[str | None, typer.Option(help="Up to this time (exclusive).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv.")] = "jsonl",
    output: Annotated[str | None, typer.Option(help="File to write (default: stdout).")] = None,
) -> None:
    """Streams audit entries oldest first as JSON lines or CSV, with a progress bar."""
    import csv
    import json

    from rich.console import Console
    from rich.progress import Progress

    from store import audit_queries
    from store.audit_queries import AuditFilterSpec
    from store.db import create_engine

    if fmt not in ("jsonl", "csv"):
        _fail(f"--format must be jsonl or csv, not {fmt!r}")
    spec = AuditFilterSpec(since=_when(since, "since"), until=_when(until, "until"))
    settings = _settings()

    def plain(row: Any) -> dict[str, Any]:
        data = {name: getattr(row, name) for name in EXPORT_COLUMNS}
        data["at"] = row.at.isoformat()
        return data

    async def export(sink: TextIO) -> int:
        await _require_schema(settings.database_url)
        engine = create_engine(settings.database_url)
        written = 0
        try:
            async with engine.connect() as conn:
                total = await audit_queries.stream_count(conn, spec)
            writer = csv.DictWriter(sink, fieldnames=EXPORT_COLUMNS) if fmt == "csv" else None
            if writer:
                writer.writeheader()
            async with engine.connect() as conn:
                # A bar only for a person watching: piped or logged, stderr gets one line.
                console = Console(stderr=True)
                with Progress(
                    console=console, transient=True, disable=not console.is_terminal
                ) as bar:
                    task = bar.add_task("Exporting audit entries", total=total)
                    async for row in audit_queries.stream(conn, spec):
                        data = plain(row)
                        if writer:
                            writer.writerow(
                                {
                                    k: json.dumps(v, ensure_ascii=False)
                                    if isinstance(v, (list, dict))
                                    else v
                                    for k, v in data.items()
                                }
                            )
                        else:
                            sink.write(json.dumps(data, ensure_ascii=False, default=str) + "\n")
                        written += 1
                        bar.advance(task)
        finally:
            await engine.dispose()
        return written

    if output:
        with open(output, "w", newline="", encoding="utf-8") as sink:
            written = _run(lambda: export(sink))
    else:
        written = _run(lambda: export(sys.stdout))
    typer.echo(f"exported {written} audit entries", err=True)


SHOWN_PROBLEMS = 50  # problems printed by `arrears import` (all go to the rejects file)


@app.command("import")
def import_command(
    path: Annotated[
        str, typer.Argument(help="A JSON Lines feed file, or a directory of CSV files.")
    ],
    fmt: Annotated[
        str | None, typer.Option("--format", help="jsonl or csv (default: csv for a directory).")
    ] = None,
    skip_invalid: Annotated[
        bool,
        typer.Option("--skip-invalid", help="Import the valid rows; write the rejected ones."),
    ] = False,
    rejects: Annotated[
        str | None,
        typer.Option(help="Where --skip-invalid writes rejected rows (<PATH>.rejects.jsonl)."),
    ] = None,
) -> None:
    """Imports a core banking feed in one transaction; exits 1 naming each rejected row (file,
    line, field, problem) — without --skip-invalid nothing is imported then."""
    from pathlib import Path

    from rich.console import Console
    from rich.progress import Progress

    from jobs.importing import ImportReport, import_feed
    from jobs.locks import JobLocked
    from store.db import create_engine

    if fmt not in (None, "jsonl", "csv"):
        _fail(f"--format must be jsonl or csv, not {fmt!r}")
    if rejects is not None and not skip_invalid:
        _fail("--rejects needs --skip-invalid (without it nothing is imported)")
    feed = Path(path)
    if not feed.exists():
        _fail(f"no such file or directory: {path}")
    settings = _settings()
    try:
        key = settings.audit_key
    except ConfigurationError as exc:
        _fail(str(exc))

    async def work() -> ImportReport:
        await _require_schema(settings.database_url)
        engine = create_engine(settings.database_url)
        console = Console(stderr=True)
        try:
            with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
                task = bar.add_task("Reading", total=None)
                try:
                    return await import_feed(
                        engine,
                        feed,
                        audit_key=key,
                        fmt=fmt,
                        skip_invalid=skip_invalid,
                        rejects=Path(rejects) if rejects else None,
                        progress=lambda phase, done, total: bar.update(
                            task, description=phase, completed=done, total=total
                        ),
                    )
                except (JobLocked, ValueError, FileNotFoundError) as exc:
                    raise CommandError(str(exc)) from None
        finally:
            await engine.dispose()

    report = _run(work)
    for problem in report.errors[:SHOWN_PROBLEMS]:
        typer.echo(f"  {problem}", err=True)
    if len(report.errors) > SHOWN_PROBLEMS:
        typer.echo(f"  … and {len(report.errors) - SHOWN_PROBLEMS} more problems", err=True)
    if not report.imported:
        _fail(
            f"nothing imported: {report.rejected} of {report.records} rows have problems "
            "(fix them, or pass --skip-invalid to import the rest)"
        )
    header = report.header
    assert header is not None
    typer.echo(
        f"imported the {header.source} feed of {header.as_of}: "
        f"{report.records - report.rejected} rows, {report.rejected} rejected"
    )
    summary = report.summary
    for kind, counts in summary["types"].items():
        typer.echo(
            f"  {kind}: {counts['rows']} rows, {counts['inserted']} inserted, "
            f"{counts['updated']} updated, {counts['unchanged']} unchanged"
        )
    typer.echo(
        f"  cases: {summary['casesOpened']} opened, {summary['casesReopened']} reopened, "
        f"{summary['casesRenewed']} new episodes, {summary['casesRefigured']} refigured; "
        f"{summary['debtsAttached']} debts attached"
    )
    typer.echo(
        f"  payments: {summary['paymentsDeduplicated']} deduplicated; "
        f"reversals: {summary['reversalsApplied']} applied"
    )
    if report.rejects_path is not None:
        typer.echo(f"rejected rows written to {report.rejects_path}", err=True)
        raise typer.Exit(1)


export_app = typer.Typer(help="Feeds out to other systems.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command("decisions")
def export_decisions(
    after: Annotated[
        str | None,
        typer.Option(help="The cursor the previous export printed (default: from the start)."),
    ] = None,
    output: Annotated[str | None, typer.Option(help="File to write (default: stdout).")] = None,
) -> None:
    """Writes the decisions after a cursor as JSON Lines, oldest first; prints on stderr how many,
    and, as its last line, the cursor to pass as --after next time."""
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from api.common.ids import to_global_id
    from jobs.export_decisions import ExportSummary
    from jobs.export_decisions import export_decisions as export
    from store.db import create_engine
    from store.decisions import decode_cursor
    from store.keyset import InvalidCursor

    if after:
        try:
            decode_cursor(after)  # before --output is created
        except InvalidCursor as exc:
            _fail(f"--after: {exc}")
    settings = _settings()
    try:
        key = settings.audit_key
    except ConfigurationError as exc:
        _fail(str(exc))

    async def work(sink: TextIO) -> ExportSummary:
        await _require_schema(settings.database_url)
        engine = create_engine(settings.database_url)
        # A bar only for a person watching: piped or logged, stderr gets the summary alone.
        console = Console(stderr=True)
        try:
            with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
                task: TaskID = bar.add_task("Exporting decisions", total=None)
                return await export(
                    engine,
                    sink,
                    after=after,
                    audit_key=key,
                    case_global_id=lambda pk: to_global_id("Case", pk),
                    now=lambda: datetime.now(UTC),
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        except InvalidCursor as exc:
            raise CommandError(f"--after: {exc}") from None
        finally:
            await engine.dispose()

    if output:
        with open(output, "w", encoding="utf-8") as sink:
            summary = _run(lambda: work(sink))
    else:
        summary = _run(lambda: work(sys.stdout))
    typer.echo(f"exported {summary.written} decisions; next time pass --after:", err=True)
    typer.echo(summary.cursor, err=True)


@app.command()
def daily(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="The date to run for (ISO-8601; default: today, UTC)."),
    ] = None,
) -> None:
    """Runs the daily cycle for a date, catching up missed dates one by one: re-ageing,
    classification history, snapshots, promises, placement expiry, early warnings, the
    strategies' steps, decisions, then the purge of what is past retention (``arrears purge``) and
    an audit checkpoint. Exits 1 when another daily run is in progress."""
    from datetime import date

    from rich.console import Console
    from rich.progress import Progress

    from domain.clock import SystemClock
    from jobs.daily import CheckpointConfig, DailyOutcome, DailyRefused, Step, run_daily
    from jobs.locks import JobLocked
    from store.db import create_engine

    day: date | None = None
    if as_of is not None:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            _fail(f"--as-of is not an ISO-8601 date: {as_of!r}")
    settings = _settings()
    try:
        key = settings.audit_key
    except ConfigurationError as exc:
        _fail(str(exc))
    checkpoints = CheckpointConfig(
        settings.audit_checkpoint_dir, settings.audit_signing_key_file, settings.env
    )

    async def work() -> DailyOutcome:
        await _require_schema(settings.database_url)
        engine = create_engine(settings.database_url)
        # A bar only for a person watching: from cron, stderr gets the summary alone.
        console = Console(stderr=True)
        try:
            with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
                task = bar.add_task("Daily run", total=None)

                def progress(step: Step) -> None:
                    bar.update(
                        task,
                        description=f"{step.as_of}: {step.name}",
                        completed=step.index,
                        total=step.total,
                    )

                try:
                    return await run_daily(
                        engine,
                        SystemClock(),
                        key,
                        as_of=day,
                        checkpoints=checkpoints,
                        progress=progress,
                        retention=settings.retention,
                    )
                except (JobLocked, DailyRefused) as exc:
                    raise CommandError(str(exc)) from None
        finally:
            await engine.dispose()

    outcome = _run(work)
    if outcome.nothing_to_do:
        typer.echo(f"nothing to do: {outcome.nothing_to_do}")
    for result in outcome.days:
        warnings = sum(result.warnings_raised.values())
        typer.echo(
            f"{result.as_of}: {result.debts_reaged} debts re-aged, {result.cases_aged} cases aged "
            f"({result.cases_reclassified} reclassified, {result.escalated} escalated, "
            f"{result.cured} cured, {result.reopened} reopened), "
            f"{result.periods_opened} classification periods opened, {result.snapshots} "
            f"snapshots, {result.promises_resolved} promises resolved, "
            f"{result.placements_expired} placements expired, {result.charge_offs_applied} "
            f"charge-offs applied, {result.restructurings_broken} restructurings broken, "
            f"{warnings} warnings raised, {result.cases_treated} cases treated "
            f"({result.segments_entered} entered a segment, {result.notices_queued} notices "
            f"queued, {result.notices_suppressed} suppressed, {result.tasks_created} tasks "
            f"created, {result.cases_placed_by_strategy} placed and "
            f"{result.cases_recalled_by_strategy} recalled by strategy), "
            f"{result.decisions} decisions"
        )
    if outcome.purge is not None:
        typer.echo(outcome.purge.summary())
    if outcome.checkpoint:
        typer.echo(f"audit checkpoint {outcome.checkpoint}")
    if outcome.checkpoint_error:
        _fail(f"the run completed, but no audit checkpoint was written: {outcome.checkpoint_error}")


@app.command()
def outbox(
    limit: Annotated[
        int,
        typer.Option("--limit", min=1, help="The most notices to take from the queue."),
    ] = 1000,
) -> None:
    """Hands the queued notices that are due to the notice gateway (ARREARS_NOTICE_WEBHOOK_URL),
    or, in development without one, prints them with the destination masked. Exits 1 when
    another outbox run is in progress, when the gateway's configuration is unusable, and when
    the gateway was unavailable (the run stopped; the notices stay queued)."""
    from functools import partial

    from rich.console import Console
    from rich.progress import Progress

    from api.common.ids import to_global_id
    from domain.clock import SystemClock
    from jobs.locks import JobLocked
    from jobs.notice_gateways import PrintAdapter, WebhookAdapter, webhook_problem
    from jobs.outbox import OutboxResult, run_outbox
    from jobs.outbox import Progress as OutboxProgress
    from store.db import create_engine

    settings = _settings()
    try:
        key = settings.audit_key
    except ConfigurationError as exc:
        _fail(str(exc))
    url = settings.notice_webhook_url
    if not url and settings.env != "development":
        _fail(
            f"ARREARS_NOTICE_WEBHOOK_URL must be set when ARREARS_ENV={settings.env} (the "
            "notice gateway; only development prints notices instead of sending them)"
        )
    if url:
        development = settings.env == "development"
        problem = webhook_problem(url, settings.notice_webhook_secret, development=development)
        if problem is not None:
            _fail(problem)
    notice_id = partial(to_global_id, "Notice")

    async def work() -> OutboxResult:
        await _require_schema(settings.database_url)
        engine = create_engine(settings.database_url)
        # A bar only for a person watching: from cron, the summary alone.
        console = Console(stderr=True)
        try:
            with Progress(console=console, transient=True, disable=not console.is_terminal) as bar:
                task = bar.add_task("Outbox", total=limit)

                def progress(step: OutboxProgress) -> None:
                    bar.update(task, description=f"batch {step.batch}", completed=step.taken)

                if url:
                    async with WebhookAdapter(
                        url, settings.notice_webhook_secret, notice_id=notice_id
                    ) as gateway:
                        return await run_outbox(
                            engine, SystemClock(), key, gateway, limit=limit, progress=progress
                        )
                printer = PrintAdapter(sys.stdout, notice_id=notice_id)
                return await run_outbox(
                    engine, SystemClock(), key, printer, limit=limit, progress=progress
                )
        except JobLocked as exc:
            raise CommandError(str(exc)) from None
        finally:
            await engine.dispose()

    result = _run(work)
    typer.echo(
        f"outbox: {result.sent} sent, {result.deferred} deferred, {result.suppressed} "
        f"suppressed, {result.failed} failed, {result.retrying} to retry",
        err=not url,  # printed notices own stdout (one JSON line each)
    )
    if result.gateway_unavailable:
        _fail(
            f"the notice gateway is unavailable: the run stopped, {result.untried} notices left "
            "queued untried"
        )


@app.command()
def purge(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="The date retention is judged on (ISO-8601; default: today)."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Count what would be anonymised; change and audit nothing."),
    ] = False,
) -> None:
    """Anonymises the personal data past retention (ARREARS_RETENTION_*; docs/API.md, "Data life
    cycle"), in one transaction, audited with its counts; prints the count per record kind. Exits
    1 when an import or a daily run is in progress."""
    from datetime import date

    from domain.clock import SystemClock
    from jobs.locks import JobLocked
    from jobs.purge import PurgeResult, run_purge
    from store.db import create_engine

    day: date | None = None
    if as_of is not None:
        try:
            day = date.fromisoformat(as_of)
        except ValueError:
            _fail(f"--as-of is not an ISO-8601 date: {as_of!r}")
        # A mistyped year must not anonymise everyone now: the latest date anywhere (UTC+14).
        if day > (datetime.now(UTC) + timedelta(hours=14)).date():
            _fail(f"--as-of {day} has not come yet: a purge is judged on a day that has")
    settings = _settings()
    try:
        key = settings.audit_key
    except ConfigurationError as exc:
        _fail(str(exc))

    async def work() -> PurgeResult:
        await _require_schema(settings.database_url)
        engine = create_engine(settings.database_url)
        try:
            return await run_purge(
                engine,
                SystemClock(),
                key,
                as_of=day,
                periods=settings.retention,
                dry_run=dry_run,
            )
        except JobLocked as exc:
            raise CommandError(str(exc)) from None
        finally:
            await engine.dispose()

    typer.echo(_run(work).summary())


@app.command()
def report(
    start: Annotated[
        str, typer.Option("--from", help="The period's first day (ISO-8601).", show_default=False)
    ],
    end: Annotated[
        str, typer.Option("--to", help="The period's last day, included.", show_default=False)
    ],
    fmt: Annotated[str, typer.Option("--format", help="csv, xlsx or html.", show_default=False)],
    output: Annotated[str, typer.Option(help="The file to write.", show_default=False)],
    group_by: Annotated[
        str | None,
        typer.Option(
            "--group-by",
            help="PORTFOLIO, PRODUCT, CLASSIFICATION, TEAM, AGENCY or VARIANT (default: the "
            "totals per currency only).",
        ),
    ] = None,
    login: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="The report this staff login may read (report:read): only the cases they may "
            "see (default: every case).",
        ),
    ] = None,
) -> None:
    """Writes the portfolio report of a period: CSV or XLSX for analysts, or a self-contained
    HTML page with charts for managers. Every case counts, or with --as only the cases that
    staff member may see, if their roles may read reports at all (figures over the loan book
    then apply only if that is every case); the file says whose cases it counts."""
    from datetime import date
    from pathlib import Path

    from api.reports.queries import EARLIEST, LATEST
    from domain.reports.model import Grouping, Period, PortfolioReport, ReportPeriodInvalid
    from jobs.report_export import ALL_CASES, ReportFormat, portfolio_report, write_report
    from store.db import create_engine

    def day(value: str, name: str) -> date:
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            _fail(f"--{name} is not an ISO-8601 date: {value!r}")
        if not EARLIEST <= parsed <= LATEST:
            # A period reads the days either side of it, which must be dates too.
            _fail(f"--{name} is out of range: years {EARLIEST.year} to {LATEST.year}")
        return parsed

    try:
        period = Period(day(start, "from"), day(end, "to"))
    except ReportPeriodInvalid as exc:
        _fail(f"invalid period: {exc}")
    groupings = ", ".join(Grouping)
    if group_by is not None and group_by.upper() not in Grouping.__members__:
        _fail(f"--group-by must be one of {groupings}, not {group_by!r}")
    grouping = Grouping(group_by.upper()) if group_by else None
    if fmt.lower() not in tuple(ReportFormat):
        _fail(f"--format must be csv, xlsx or html, not {fmt!r}")
    file_format = ReportFormat(fmt.lower())
    target = Path(output)
    if not target.parent.is_dir():
        _fail(f"--output: no such directory: {target.parent}")
    settings = _settings()

    async def work() -> tuple[PortfolioReport, str]:
        await _require_schema(settings.database_url)
        engine = create_engine(settings.database_url)
        try:
            scope, view = (None, ALL_CASES) if login is None else await _reader(engine, login)
            found = await portfolio_report(engine, period, grouping, settings.goals, scope)
            return found, view
        finally:
            await engine.dispose()

    computed, view = _run(work)
    try:
        write_report(computed, file_format, target, view)
    except OSError as exc:
        _fail(f"cannot write {target}: {exc.strerror or exc}")
    held = ", ".join(total.currency for total in computed.totals) or "no figures"
    if grouping:
        count = len(computed.groups)
        held += f", {count} group{'s' if count != 1 else ''}"
    typer.echo(f"wrote the report of {period.start} to {period.end} ({held}) to {target}")


async def _reader(engine: Engine, login: str) -> tuple[Clause | None, str]:
    """The cases a staff member's report counts (None: every case) and its label saying so;
    refuses a login that is unknown, deactivated, or whose roles may not read reports (the
    API's decision for portfolioReport: report:read in the policy the database holds)."""
    from authz.enforcer import Authorizer
    from authz.scopes import scope_for
    from jobs.report_export import ALL_CASES, view_of
    from store.db import session_factory
    from store.loaders import agencies_by_id, staff_by_login

    async with session_factory(engine)() as session:
        staff = await staff_by_login(session, login)
        if staff is None:
            raise CommandError(f"unknown staff login {login!r}")
        if not staff.active:
            raise CommandError(f"staff login {login!r} is deactivated")
        if not (await Authorizer.load(engine)).allows(staff.roles, "report:read"):
            raise CommandError(f"staff login {login!r} may not read reports (report:read)")
        seen = scope_for(staff, datetime.now(UTC))
        if seen.every_case:
            return None, ALL_CASES
        agency = None
        if staff.agency_id is not None:
            [found] = await agencies_by_id(session, [staff.agency_id])
            agency = found.name if found else None
    return seen.case, view_of(login, staff.team, agency)


client_app = typer.Typer(
    help="API clients of partner agencies (OAuth 2.0 client credentials).", no_args_is_help=True
)
app.add_typer(client_app, name="client")


def _operator_command(
    work: Callable[[Settings], Coroutine[Any, Any, T]], fields_are_options: bool = False
) -> T:
    """Runs the operator's work (API clients, staff, agencies; audited as system:cli) after
    checking the configuration; a refusal (a DomainError) is one line on stderr, exit 1, led by
    the option it concerns when ``fields_are_options``."""
    from domain.errors import DomainError

    settings = _settings()
    try:
        settings.audit_key  # noqa: B018 - refuse a bad configuration before any change
    except ConfigurationError as exc:
        _fail(str(exc))

    async def guarded() -> T:
        try:
            return await work(settings)
        except DomainError as error:
            option = f"--{error.field}: " if fields_are_options and error.field else ""
            raise CommandError(f"{option}{error.message}") from None

    return _run(guarded)


def _print_credentials(client_id: str, secret: str) -> None:
    import json

    typer.echo(json.dumps({"clientId": client_id, "clientSecret": secret}))


@client_app.command("create")
def client_create(
    agency: Annotated[str, typer.Option(help="The agency's name, e.g. 'Acme Recovery'.")],
    name: Annotated[str | None, typer.Option(help="What the client is.")] = None,
) -> None:
    """Creates an API client of an agency; prints {"clientId", "clientSecret"} (the secret is
    shown this once)."""
    from api.clients import operator

    async def work(settings: Settings) -> operator.Issued:
        try:
            return await operator.create(settings, agency, name)
        except operator.AgencyNotFound:
            raise CommandError(f"unknown agency {agency!r}") from None

    issued = _operator_command(work)
    _print_credentials(issued.client.client_id, issued.secret)


@client_app.command("rotate")
def client_rotate(
    client_id: Annotated[str, typer.Argument(help="The client's id (ac_…).")],
) -> None:
    """Gives an API client a new secret and prints {"clientId", "clientSecret"}; the old secret
    keeps working for ARREARS_CLIENT_SECRET_OVERLAP_SECONDS."""
    from api.clients import operator

    async def work(settings: Settings) -> operator.Issued:
        try:
            return await operator.rotate(settings, client_id)
        except operator.ApiClientNotFound:
            raise CommandError(f"unknown API client {client_id!r}") from None

    issued = _operator_command(work)
    _print_credentials(issued.client.client_id, issued.secret)


@client_app.command("operations")
def client_operations(
    client_id: Annotated[str, typer.Argument(help="The client's id (ac_…).")],
    files: Annotated[
        list[str] | None,
        typer.Argument(
            help="Files of one GraphQL document each: the exact text the client will send.",
            show_default=False,
        ),
    ] = None,
    any_operation: Annotated[
        bool, typer.Option("--any", help="Clear the allow-list: any operation again.")
    ] = False,
) -> None:
    """Holds an API client to an allow-list of persisted operations (or, with --any, lets it
    send any operation again); prints the count and the digests (hex SHA-256 of each file's
    exact text), one a line."""
    from pathlib import Path

    from api.clients import operator
    from domain.errors import DomainError

    paths = [Path(name) for name in files or ()]
    if any_operation == bool(paths):
        _fail("give the files of the documents the client may send, or --any (not both)")
    documents: list[str] | None = None
    if paths:
        documents = []
        for path in paths:
            try:
                documents.append(path.read_bytes().decode())
            except OSError as exc:
                _fail(f"cannot read {path}: {exc.strerror or exc}")
            except UnicodeDecodeError:
                _fail(f"{path} is not UTF-8 text")

    async def work(settings: Settings) -> operator.ApiClient:
        try:
            return await operator.set_operations(settings, client_id, documents)
        except operator.ApiClientNotFound:
            raise CommandError(f"unknown API client {client_id!r}") from None
        except DomainError as error:
            index = _document_index(error.field)
            if index is None:
                raise
            raise CommandError(f"{paths[index]}: {error.message}") from None

    client = _operator_command(work)
    allowed = client.allowed_operations
    if allowed is None:
        typer.echo(f"API client {client.client_id} may send any operation")
        return
    count = f"{len(allowed)} operation" + ("" if len(allowed) == 1 else "s")
    typer.echo(f"API client {client.client_id} may send {count}:")
    for digest in allowed:
        typer.echo(digest)


def _document_index(field: str | None) -> int | None:
    """The index in ``documents[i]``, the field of a refused document, or None."""
    if field is None or not (field.startswith("documents[") and field.endswith("]")):
        return None
    index = field.removeprefix("documents[").removesuffix("]")
    return int(index) if index.isdigit() else None


@client_app.command("revoke")
def client_revoke(
    client_id: Annotated[str, typer.Argument(help="The client's id (ac_…).")],
    reason: Annotated[str | None, typer.Option(help="Why, for the audit trail.")] = None,
) -> None:
    """Revokes an API client: its secrets and the tokens issued to it stop working at once."""
    from api.clients import operator

    async def work(settings: Settings) -> operator.ApiClient:
        try:
            return await operator.revoke(settings, client_id, reason)
        except operator.ApiClientNotFound:
            raise CommandError(f"unknown API client {client_id!r}") from None

    client = _operator_command(work)
    typer.echo(f"revoked API client {client.client_id}")


@client_app.command("list")
def client_list() -> None:
    """Lists every API client: id, agency, state, created, name (never a secret)."""
    from api.clients import operator

    async def work(settings: Settings) -> list[tuple[operator.ApiClient, str]]:
        return await operator.every(settings)

    for client, agency in _operator_command(work):
        state = f"revoked {client.revoked_at:%Y-%m-%dT%H:%M:%SZ}" if client.revoked_at else "active"
        created = f"{client.created_at:%Y-%m-%dT%H:%M:%SZ}"
        typer.echo(f"{client.client_id}\t{agency}\t{state}\tcreated {created}\t{client.name}")


staff_app = typer.Typer(help="Staff, as the operator adds them.", no_args_is_help=True)
app.add_typer(staff_app, name="staff")
agency_app = typer.Typer(help="Partner agencies, as the operator adds them.", no_args_is_help=True)
app.add_typer(agency_app, name="agency")


def _operator_job(job: Callable[[Engine, Clock, bytes], Coroutine[Any, Any, T]]) -> T:
    """Runs an operator's addition (a job on the engine, the clock and the audit key) on a
    database at the newest revision."""
    from domain.clock import SystemClock
    from store.db import create_engine

    async def work(settings: Settings) -> T:
        await _require_schema(settings.database_url)
        engine = create_engine(settings.database_url)
        try:
            return await job(engine, SystemClock(), settings.audit_key)
        finally:
            await engine.dispose()

    return _operator_command(work, fields_are_options=True)


@staff_app.command("add")
def staff_add(
    login: Annotated[str, typer.Argument(help="The login, as the identity provider names it.")],
    name: Annotated[str, typer.Option(help="The person's name.")],
    role: Annotated[
        list[str], typer.Option(help="A role (repeat for several): admin, manager, collector, …")
    ],
    team: Annotated[str | None, typer.Option(help="The team (internal staff).")] = None,
    agency: Annotated[str | None, typer.Option(help="The agency's name (agency staff).")] = None,
    capacity: Annotated[int, typer.Option(help="Open cases the person may carry.")] = 0,
) -> None:
    """Adds an active staff member (the first administrator of a new database, say); audited as
    staff.create by system:cli. Role changes after that go through grantRole and its approval."""
    from jobs.staffing import add_staff

    staff = _operator_job(
        lambda engine, clock, key: add_staff(
            engine,
            clock,
            key,
            login=login,
            name=name,
            roles=role,
            team=team,
            agency=agency,
            capacity=capacity,
        )
    )
    typer.echo(f"added staff {staff.login} (roles {', '.join(staff.roles)})")


@agency_app.command("add")
def agency_add(
    name: Annotated[str, typer.Argument(help="The agency's name.")],
    commission_rate: Annotated[
        str, typer.Option(help="Commission on amounts collected, a fraction (0.15 = 15%).")
    ],
    placement_days: Annotated[int, typer.Option(help="How long a placement lasts, in days.")],
    tail_days: Annotated[
        int, typer.Option(help="Days after a recall in which payments still earn commission.")
    ] = 0,
) -> None:
    """Adds a partner agency with its contract terms; audited as agency.create by system:cli."""
    from jobs.staffing import add_agency

    agency = _operator_job(
        lambda engine, clock, key: add_agency(
            engine,
            clock,
            key,
            name=name,
            commission_rate=commission_rate,
            placement_days=placement_days,
            tail_days=tail_days,
        )
    )
    typer.echo(f"added agency {agency.name}")


def main() -> None:
    """Entry point of the console script."""
    app()


if __name__ == "__main__":
    main()
