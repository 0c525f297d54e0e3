"""The ``attributionhub`` command line (README.md, "Using it"): serve, sites create, import.

Every command opens the store named by ``--store`` / ``ATTRIBUTIONHUB_STORE`` through
``attributionhub.stores.open_store`` and works through ``AttributionService``, the same
use cases the HTTP layers call. Failures end in a one-line message and a non-zero exit
code, never a traceback (set ``ATTRIBUTIONHUB_DEBUG=1`` to get the traceback).
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Final, TypeVar

import click
import orjson
from aiohttp import web
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from adapters.bots import CrawlerDetectBots
from adapters.clock import SystemClock
from adapters.http.server import run_app
from attributionhub.config import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_STORE, Settings
from attributionhub.demo import DEFAULT_DEMO_DAYS, DEFAULT_DEMO_EVENTS, fill_demo
from attributionhub.logs import configure_logging
from attributionhub.stores import open_store
from domain.model import Site
from domain.parameters import format_instant
from domain.services import AttributionService, IngestReport, NewSite

T = TypeVar("T")

# Exit codes: 1 a failure (store unreachable, port taken, ...), 2 a usage error (click's
# own convention, also used for an unknown site id).
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2

# A bulk import is local and trusted: larger transactions than the HTTP API's batches
# mean fewer commits (each one writes the touched index pages and syncs), measured ~17%
# faster at 25,000 events than at 5,000.
DEFAULT_BATCH_SIZE: Final = 20_000
_SWITCH_INTERVAL_SECONDS: Final = 0.001
MAX_IMPORT_BATCH_EVENTS: Final = 50_000
# Rejections kept for the summary; a file of nothing but garbage must not fill memory.
MAX_KEPT_REJECTIONS: Final = 10_000
SHUTDOWN_TIMEOUT_SECONDS: Final = 10.0

_BOM: Final = b"\xef\xbb\xbf"
_CREDENTIALS_IN_URL: Final = re.compile(r"(?<=://)[^@/]*@")


class CliError(click.ClickException):
    """A failure the user can act on: printed as ``Error: <message>``, no traceback."""

    exit_code = EXIT_FAILURE


class CliUsageError(CliError):
    """The command was asked for something that cannot be (an unknown site, a bad name)."""

    exit_code = EXIT_USAGE


def display_store(store: str) -> str:
    """The store as it may be printed: a MongoDB URL loses its password."""
    return _CREDENTIALS_IN_URL.sub("***@", store)


# --- plumbing ---------------------------------------------------------------------------
def _settings(ctx: click.Context) -> Settings:
    settings = ctx.find_object(Settings)
    if settings is None:  # only when a subcommand is invoked on its own, as in tests
        settings = _settings_from_env()
    return settings


def _settings_from_env() -> Settings:
    try:
        return Settings.from_env()
    except ValueError as err:  # a setting the environment gets wrong: it names itself
        raise CliUsageError(str(err)) from err


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; an unexpected exception becomes a clean error."""
    try:
        return asyncio.run(coroutine)
    except click.ClickException:
        raise
    except KeyboardInterrupt:
        raise click.Abort() from None
    except Exception as exc:
        if os.environ.get("ATTRIBUTIONHUB_DEBUG"):
            raise
        raise CliError(f"{type(exc).__name__}: {exc}") from exc


@asynccontextmanager
async def _service(settings: Settings) -> AsyncIterator[AttributionService]:
    try:
        store = await open_store(settings)
    except Exception as exc:
        # Whatever the driver raises (a directory in the way, a file that is not a
        # database, an unreachable server) the user needs to know which store and why.
        raise CliError(f"cannot open the store {display_store(settings.store)!r}: {exc}") from exc
    try:
        yield AttributionService(
            store,
            SystemClock(),
            CrawlerDetectBots(),
            session_timeout=settings.session_timeout,
            report_concurrency=settings.report_concurrency,
        )
    finally:
        await store.close()


def _stderr() -> Console:
    return Console(stderr=True)


# --- the group --------------------------------------------------------------------------
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--store",
    envvar="ATTRIBUTIONHUB_STORE",
    metavar="PATH|URL",
    help=(
        "Where the data lives: a file path selects the embedded SQLite store (created "
        "when missing), a mongodb:// URL selects MongoDB. "
        f"[env: ATTRIBUTIONHUB_STORE; default: {DEFAULT_STORE}]"
    ),
)
@click.pass_context
def cli(ctx: click.Context, store: str | None) -> None:
    """AttributionHub: marketing attribution sessions and page roles over REST and GraphQL."""
    settings = _settings_from_env()
    if store:
        settings = replace(settings, store=store)
    ctx.obj = settings


def main(argv: Sequence[str] | None = None) -> None:
    """The console script ``attributionhub`` and ``python -m attributionhub``."""
    cli.main(args=argv, prog_name="attributionhub")


# --- sites ------------------------------------------------------------------------------
@cli.group()
def sites() -> None:
    """Manage sites (tenants) and their keys."""


@sites.command("create")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, for scripts.")
@click.pass_context
def sites_create(ctx: click.Context, name: str, as_json: bool) -> None:
    """Create a site called NAME and print its id, API key and tracker token.

    The API key is shown only this once: the store keeps nothing but its hash.
    """
    settings = _settings(ctx)

    async def create() -> NewSite:
        async with _service(settings) as service:
            try:
                return await service.create_site(name)
            except ValueError as err:
                raise CliUsageError(str(err)) from err

    created = _run(create())
    if as_json:
        click.echo(orjson.dumps(_site_json(created)).decode())
        return
    click.echo(f"Created site {created.site.name!r}.")
    click.echo(f"  site id:        {created.site.site_id}")
    click.echo(f"  API key:        {created.api_key}")
    click.echo(f"  tracker token:  {created.tracker_token}")
    click.echo(
        "Keep the API key now: it is stored only as a hash and cannot be shown again. "
        "It reads the site's data and ingests events (header `Authentication: <key>`); "
        "the tracker token only sends events from browsers."
    )


@sites.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON array, for scripts.")
@click.pass_context
def sites_list(ctx: click.Context, as_json: bool) -> None:
    """List the sites of the store, oldest first (keys are never shown: only hashes are
    kept)."""
    settings = _settings(ctx)

    async def listed() -> list[Site]:
        async with _service(settings) as service:
            return await service.sites()

    found = _run(listed())
    if as_json:
        rows = [
            {"site_id": s.site_id, "name": s.name, "created_at": format_instant(s.created_at)}
            for s in found
        ]
        click.echo(orjson.dumps(rows).decode())
        return
    if not found:
        click.echo("No sites yet: create one with `attributionhub sites create NAME`.")
    for s in found:
        click.echo(f"{s.site_id}  {format_instant(s.created_at)}  {s.name}")


@sites.command("rotate-keys")
@click.argument("site_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, for scripts.")
@click.pass_context
def sites_rotate_keys(ctx: click.Context, site_id: str, as_json: bool) -> None:
    """Give SITE_ID a new API key and tracker token; the old ones stop working at once.

    For a lost or leaked key. Pages carrying the old tracker token must be updated.
    """
    settings = _settings(ctx)

    async def rotate() -> NewSite | None:
        async with _service(settings) as service:
            return await service.rotate_keys(site_id)

    rotated = _run(rotate())
    if rotated is None:
        raise CliUsageError(f"no site with id {site_id!r} in this store")
    if as_json:
        click.echo(orjson.dumps(_site_json(rotated)).decode())
        return
    click.echo(f"New keys for site {rotated.site.name!r} ({rotated.site.site_id}):")
    click.echo(f"  API key:        {rotated.api_key}")
    click.echo(f"  tracker token:  {rotated.tracker_token}")
    click.echo("The previous key and token no longer work. Keep the API key now: it is shown once.")


def _site_json(created: NewSite) -> dict[str, str]:
    return {
        "site_id": created.site.site_id,
        "name": created.site.name,
        "api_key": created.api_key,
        "tracker_token": created.tracker_token,
    }


# --- import -----------------------------------------------------------------------------
@dataclass(slots=True)
class ImportSummary:
    """What an import did. ``rejected`` holds the first ``MAX_KEPT_REJECTIONS`` rejects
    as (line number, error); ``rejected_count`` counts them all."""

    lines: int = 0
    blank: int = 0
    accepted: int = 0
    duplicates: int = 0
    bots: int = 0
    rejected_count: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    elapsed_seconds: float = 0.0

    def reject(self, line: int, error: str) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_KEPT_REJECTIONS:
            self.rejected.append((line, error))

    def add(self, report: IngestReport, lines: Sequence[int]) -> None:
        self.accepted += report.accepted
        self.duplicates += report.duplicates
        self.bots += report.bots
        for rejection in report.rejected:
            self.reject(lines[rejection.index], rejection.error)

    def as_json(self) -> dict[str, object]:
        return {
            "lines": self.lines,
            "blank": self.blank,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "bots": self.bots,
            "rejected_count": self.rejected_count,
            "rejected": [{"line": line, "error": error} for line, error in self.rejected],
            "elapsed_seconds": round(self.elapsed_seconds, 3),
        }


async def import_ndjson(
    service: AttributionService,
    site_id: str,
    lines: Iterable[bytes],
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportSummary:
    """Stream NDJSON events into a site, ``batch_size`` events per ``ingest`` call.

    Line numbers start at 1; blank lines are skipped; a line that is not JSON is
    rejected with the parser's message. ``on_progress(bytes, events)`` is called after
    every batch is handed over. One batch is stored while the next is read, decoded and
    validated, and batches are stored strictly in file order, so the outcome is that of a plain
    sequential import.
    """
    if not 1 <= batch_size <= MAX_IMPORT_BATCH_EVENTS:
        raise ValueError(f"batch_size: expected 1..{MAX_IMPORT_BATCH_EVENTS}, got {batch_size}")
    summary = ImportSummary()
    started = time.perf_counter()
    in_flight: tuple[asyncio.Task[IngestReport], list[int]] | None = None

    async def settle() -> None:
        nonlocal in_flight
        if in_flight is not None:
            task, numbers = in_flight
            in_flight = None
            summary.add(await task, numbers)

    async def submit(batch: list[object], numbers: list[int]) -> None:
        nonlocal in_flight
        # Validated while the previous batch is being stored, and stored only after it:
        # batches keep their file order and the writer does not wait for the parser.
        validated = service.validate_batch(site_id, batch, max_events=MAX_IMPORT_BATCH_EVENTS)
        await settle()
        in_flight = (asyncio.ensure_future(service.store_batch(validated)), numbers)
        # Let the task hand its batch to the store's writer thread before this coroutine
        # goes back to (blocking) reading.
        await asyncio.sleep(0)

    batch: list[object] = []
    numbers: list[int] = []
    pending_bytes = 0
    try:
        for number, line in enumerate(lines, start=1):
            summary.lines = number
            pending_bytes += len(line)
            if number == 1 and line.startswith(_BOM):
                line = line[len(_BOM) :]
            if not line or line.isspace():  # no copy of every line, as strip() makes
                summary.blank += 1
                continue
            try:
                batch.append(orjson.loads(line))
            except orjson.JSONDecodeError as err:
                # The parser's own "line 1" would be misleading: it is this line.
                summary.reject(number, f"invalid JSON at column {err.colno}: {err.msg}")
                continue
            numbers.append(number)
            if len(batch) >= batch_size:
                await submit(batch, numbers)
                if on_progress is not None:
                    on_progress(pending_bytes, len(batch))
                batch, numbers, pending_bytes = [], [], 0
        if batch:
            await submit(batch, numbers)
        await settle()
    finally:
        if in_flight is not None:  # an error while reading: do not leave the task behind
            with suppress(Exception):
                await in_flight[0]
    if on_progress is not None:
        on_progress(pending_bytes, len(batch))
    summary.elapsed_seconds = time.perf_counter() - started
    return summary


@cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, exists=True))
@click.option("--site", "site_id", required=True, metavar="SITE_ID", help="Target site id.")
@click.option(
    "--batch-size",
    type=click.IntRange(1, MAX_IMPORT_BATCH_EVENTS),
    default=DEFAULT_BATCH_SIZE,
    show_default=True,
    help="Events per stored batch.",
)
@click.option(
    "--max-errors",
    type=click.IntRange(0),
    default=50,
    show_default=True,
    help="Rejected lines listed in the summary (all of them are counted).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.pass_context
def import_command(
    ctx: click.Context,
    file: str,
    site_id: str,
    batch_size: int,
    max_errors: int,
    as_json: bool,
) -> None:
    """Load events from FILE (NDJSON, one event per line; - for stdin).

    The file is streamed, never loaded whole. Events already stored (same event_id) count
    as duplicates, so an interrupted import can simply be run again. Lines that are not
    JSON, or events with an invalid field, are rejected by line number while the rest is
    stored; the exit code is then still 0. An unknown site exits with code 2.
    """
    settings = _settings(ctx)

    async def run() -> ImportSummary:
        async with _service(settings) as service:
            if await service.store.get_site(site_id) is None:
                raise CliUsageError(
                    f"site {site_id!r} does not exist in {display_store(settings.store)!r}; "
                    "create one with `attributionhub sites create NAME`"
                )
            with _InputFile(file) as (stream, size), _ImportProgress(size) as (progress, task):
                imported = 0

                def advance(read: int, events: int) -> None:
                    nonlocal imported
                    imported += events
                    progress.update(task, advance=read, events=imported)

                return await import_ndjson(
                    service, site_id, stream, batch_size=batch_size, on_progress=advance
                )

    summary = _run(run())
    if as_json:
        click.echo(orjson.dumps(summary.as_json()).decode())
        return
    _print_summary(summary, file, site_id, max_errors)


class _InputFile:
    def __init__(self, file: str) -> None:
        self._file = file
        self._owned: IO[bytes] | None = None

    def __enter__(self) -> tuple[IO[bytes], int | None]:
        if self._file == "-":
            return sys.stdin.buffer, None
        self._owned = Path(self._file).open("rb")
        return self._owned, os.fstat(self._owned.fileno()).st_size

    def __exit__(self, *exc: object) -> None:
        if self._owned is not None:
            self._owned.close()


class _ImportProgress:
    """A progress bar by bytes on stderr, shown only when stderr is a terminal."""

    def __init__(self, total: int | None) -> None:
        console = _stderr()
        self.progress = Progress(
            TextColumn("importing"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TextColumn("{task.fields[events]:,} events"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self.task = self.progress.add_task("import", total=total, events=0)

    def __enter__(self) -> tuple[Progress, TaskID]:
        self.progress.start()
        return self.progress, self.task

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()


def _print_summary(summary: ImportSummary, file: str, site_id: str, max_errors: int) -> None:
    source = "stdin" if file == "-" else file
    table = Table(title=f"Imported {source} into {site_id}", title_justify="left")
    table.add_column("lines", justify="right")
    table.add_column("accepted", justify="right")
    table.add_column("duplicates", justify="right")
    table.add_column("bots", justify="right")
    table.add_column("rejected", justify="right")
    table.add_column("blank", justify="right")
    table.add_row(
        *(
            f"{n:,}"
            for n in (
                summary.lines,
                summary.accepted,
                summary.duplicates,
                summary.bots,
                summary.rejected_count,
                summary.blank,
            )
        )
    )
    Console(highlight=False).print(table)
    rate = summary.lines / summary.elapsed_seconds if summary.elapsed_seconds else 0.0
    click.echo(f"{summary.elapsed_seconds:.1f} s, {rate:,.0f} lines/s")
    if summary.rejected_count:
        click.echo("Rejected lines:")
        for line, error in summary.rejected[:max_errors]:
            click.echo(f"  line {line}: {error}")
        hidden = summary.rejected_count - min(max_errors, len(summary.rejected))
        if hidden:
            click.echo(f"  … and {hidden:,} more (--max-errors N or --json to see more)")


# --- serve ------------------------------------------------------------------------------
@cli.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option(
    "--demo",
    is_flag=True,
    help=(
        "Fill a site called 'Demo' with months of generated traffic (once: later runs "
        "reuse it with fresh keys), print its API key with example requests, and turn "
        "GraphiQL and introspection on."
    ),
)
@click.option(
    "--demo-events",
    type=click.IntRange(1),
    default=DEFAULT_DEMO_EVENTS,
    show_default=True,
    help="Events generated by --demo.",
)
@click.option(
    "--rate-limit",
    metavar="LIMIT",
    help="Requests per API key, e.g. '600/minute' or '10/second;600/minute'; 'off' for none. "
    "[env: ATTRIBUTIONHUB_RATE_LIMIT; default: off]",
)
@click.option(
    "--graphql-ide/--no-graphql-ide",
    default=None,
    help="Serve GraphiQL at GET /graphql (turns introspection on too). "
    "[env: ATTRIBUTIONHUB_GRAPHQL_IDE; default: off, on with --demo]",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    demo: bool,
    demo_events: int,
    rate_limit: str | None,
    graphql_ide: bool | None,
) -> None:
    """Run the HTTP service (REST, GraphQL, ingestion, /healthz) until Ctrl+C or SIGTERM.

    With no --store it uses the embedded store in attributionhub-data/attributionhub.db.

    --demo fills a site called 'Demo' with generated traffic the first time. Later runs
    on the same store reuse that site and its data, and renew its keys: API keys are
    stored only as hashes, so a key can be printed only when it is made. Other sites of
    the store are left alone.
    """
    settings = replace(_settings(ctx), host=host, port=port)
    if rate_limit is not None:
        settings = replace(settings, rate_limit=None if rate_limit == "off" else rate_limit)
    ide = graphql_ide if graphql_ide is not None else (settings.graphql_ide or demo)
    settings = replace(
        settings,
        graphql_ide=ide,
        # GraphiQL is of little use without introspection.
        graphql_introspection=settings.graphql_introspection or ide or demo,
    )

    async def prepare() -> NewSite | None:
        # Opening the store here (and closing it) reports an unreachable store before the
        # server binds, and applies schema migrations once.
        async with _service(settings) as service:
            if not demo:
                return None
            return await _create_demo(service, demo_events)

    created = _run(prepare())
    try:
        app = init_app(settings)
    except ValueError as err:  # a configuration error, e.g. an unparsable rate limit
        raise CliUsageError(str(err)) from err
    base = f"http://{_client_host(host)}:{port}"
    if created is not None:
        _print_demo(created, base)

    def listening(_: str) -> None:
        click.echo(
            f"AttributionHub is serving on http://{_url_host(host)}:{port} "
            f"(store: {display_store(settings.store)}). Press Ctrl+C to stop."
        )
        sys.stdout.flush()

    configure_logging()  # JSON lines on stderr (docs/deployment.md, "Logs")
    # A report's work runs on threads that hold the GIL; handing it over every
    # millisecond (instead of every 5) lets the event loop answer listings meanwhile.
    sys.setswitchinterval(_SWITCH_INTERVAL_SECONDS)
    try:
        # The edge's runner: aiohttp's own parser errors answer JSON too.
        run_app(
            app, host=host, port=port, shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS, print=listening
        )
    except OSError as err:
        raise CliError(f"cannot listen on {host}:{port}: {err.strerror or err}") from err
    except Exception as exc:
        if os.environ.get("ATTRIBUTIONHUB_DEBUG"):
            raise
        raise CliError(f"the server stopped: {type(exc).__name__}: {exc}") from exc
    click.echo("AttributionHub stopped.")


def init_app(settings: Settings) -> web.Application:
    # Imported here: the app pulls in the REST and GraphQL layers, which the other
    # commands do not need.
    from attributionhub.app import init

    return init(settings)


DEMO_SITE_NAME: Final = "Demo"


async def _create_demo(service: AttributionService, count: int) -> NewSite:
    existing = [s for s in await service.sites() if s.name == DEMO_SITE_NAME]
    if existing:
        renewed = await service.rotate_keys(existing[0].site_id)
        if renewed is not None:
            click.echo(
                f"Reusing the demo site {renewed.site.site_id} and its data "
                f"(generated up to the moment of its first run); its keys were renewed."
            )
            return renewed
    now = service.now()
    created = await service.create_site(DEMO_SITE_NAME)
    console = _stderr()
    with Progress(
        TextColumn(f"loading {DEFAULT_DEMO_DAYS} days of demo traffic"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("demo", total=count)
        filled = await fill_demo(
            service,
            created.site.site_id,
            now=now,
            count=count,
            on_batch=lambda n: progress.update(task, advance=n),
        )
    click.echo(
        f"Loaded {filled.accepted:,} demo events into site {created.site.name!r} "
        f"({filled.bots:,} crawler events dropped)."
    )
    return created


def _print_demo(created: NewSite, base: str) -> None:
    key = created.api_key
    click.echo(
        f"""
Demo site:      {created.site.site_id}
API key:        {key}
Tracker token:  {created.tracker_token}
(The key is shown only now; it is stored as a hash.)

Try:
  curl -s -X POST {base}/api/v1/sessions -H 'Authentication: {key}' \\
       -H 'Content-Type: application/json' -d '{{"page": 1, "medium": "cpc"}}'
  curl -s -X POST {base}/api/v1/pages -H 'Authentication: {key}' \\
       -H 'Content-Type: application/json' -d '{{"touch_scope": "first"}}'
  curl -s -X POST {base}/graphql -H 'Authentication: {key}' \\
       -H 'Content-Type: application/json' \\
       -d '{{"query": "{{ pages {{ summaryTotals {{ totalSessions totalConversionUsers }} }} }}"}}'
GraphiQL: {base}/graphql (send the key in the Authentication header)
"""
    )
    sys.stdout.flush()


def _client_host(host: str) -> str:
    # A wildcard address is where the server listens, not an address to call.
    if host in {"0.0.0.0", "", "::"}:
        return "127.0.0.1"
    return _url_host(host)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
