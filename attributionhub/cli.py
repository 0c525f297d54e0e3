"""The ``attributionhub`` command line (README.md, "Using it"): serve, sites, import,
erase and purge.

Every command checks every setting first (``attributionhub.config``), opens the store
named by ``--store`` / ``ATTRIBUTIONHUB_STORE`` through ``attributionhub.stores``, says
on stderr which store it opened, and works through the application services, the same
use cases the HTTP layers call. Failures end in a one-line message and a non-zero exit
code, never a traceback (set ``ATTRIBUTIONHUB_DEBUG=1`` to get the traceback).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any, Final, TypeVar

import click
import orjson
from aiohttp import web
from aiohttp.web_runner import GracefulExit
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
from attributionhub import config
from attributionhub.config import DEFAULT_HOST, DEFAULT_PORT, SettingError, Settings
from attributionhub.demo import (
    DEFAULT_DEMO_DAYS,
    DEFAULT_DEMO_EVENTS,
    DemoSite,
    demo_credentials_file,
    open_demo_site,
)
from attributionhub.logs import configure_logging
from attributionhub.stores import StoreOpenError, display_store, open_store
from domain.bulk_import import (
    DEFAULT_BATCH_SIZE,
    MAX_IMPORT_BATCH_EVENTS,
    ImportSummary,
    import_lines,
)
from domain.model import Site
from domain.parameters import ParameterError, format_instant
from domain.ports import Erased
from domain.services import AttributionService, NewSite

T = TypeVar("T")

# Exit codes: 1 a failure (store unreachable, port taken, ...), 2 a usage error (click's
# own convention, also used for a bad setting and an unknown site id).
EXIT_FAILURE: Final = 1
EXIT_USAGE: Final = 2

_SWITCH_INTERVAL_SECONDS: Final = 0.001
SHUTDOWN_TIMEOUT_SECONDS: Final = 10.0
_STORE_OVERRIDE: Final = "attributionhub.store"


class CliError(click.ClickException):
    """A failure the user can act on: printed as ``Error: <message>``, no traceback."""

    exit_code = EXIT_FAILURE


class CliUsageError(CliError):
    """The command was asked for something that cannot be (an unknown site, a bad name,
    a setting out of range)."""

    exit_code = EXIT_USAGE


# --- plumbing ---------------------------------------------------------------------------
def _settings(ctx: click.Context) -> Settings:
    """The environment's settings, checked, with ``--store`` applied from wherever it was
    given (before or after the subcommand; the later one wins)."""
    try:
        settings = Settings.from_env()
    except SettingError as err:  # a setting the environment gets wrong: it names itself
        raise CliUsageError(str(err)) from err
    store: str | None = ctx.meta.get(_STORE_OVERRIDE)
    return settings if store is None else replace(settings, store=store)


class _Checked(click.ParamType[Any]):
    """A command-line value checked by the same parser as its environment variable."""

    def __init__(self, name: str, parse: Callable[[str, str], object]) -> None:
        self.name = name
        self._parse = parse

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        option = param.opts[0] if param is not None and param.opts else self.name
        try:
            return self._parse(option, value)
        except SettingError as err:
            raise click.UsageError(str(err), ctx) from None


def _remember_store(ctx: click.Context, _: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.meta[_STORE_OVERRIDE] = value


def _store_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--store``, accepted on the group and on every command alike."""
    return click.option(
        "--store",
        metavar="PATH|URL",
        type=_Checked("store", config.parse_store),
        expose_value=False,
        is_eager=True,
        callback=_remember_store,
        help=(
            "Where the data lives: a file path selects the embedded SQLite store (its "
            "folder must exist), a mongodb:// URL selects MongoDB. "
            f"[env: ATTRIBUTIONHUB_STORE; default: {config.default_store()}, in the per-user "
            "data folder (README.md, 'Choosing the store')]"
        ),
    )(f)


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; an unexpected exception becomes a clean error."""
    try:
        return asyncio.run(coroutine)
    except click.ClickException:
        raise
    except KeyboardInterrupt:
        raise click.Abort() from None
    except Exception as exc:
        if config.debug_enabled():
            raise
        raise CliError(f"{type(exc).__name__}: {exc}") from exc


@asynccontextmanager
async def _service(
    settings: Settings, *, announce: bool = True
) -> AsyncIterator[AttributionService]:
    try:
        store = await open_store(settings)
    except StoreOpenError as exc:  # already names the store and says why
        raise CliError(str(exc)) from exc
    except Exception as exc:
        # Whatever the driver raises (a directory in the way, a file that is not a
        # database, an unreachable server) the user needs to know which store and why.
        raise CliError(f"cannot open the store {display_store(settings.store)!r}: {exc}") from exc
    if announce:
        # On stderr, so that --json output stays one parseable document.
        click.echo(f"Store: {display_store(settings.store)}", err=True)
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
@click.version_option(package_name="attributionhub", prog_name="attributionhub")
@_store_option
@click.pass_context
def cli(ctx: click.Context) -> None:
    """AttributionHub: marketing attribution sessions and page roles over REST and GraphQL.

    Settings come from ATTRIBUTIONHUB_* environment variables (README.md, "Settings");
    each is checked before any command runs.
    """
    # Checked here, whatever the command: a bad setting stops every command alike.
    _settings(ctx)


def main(argv: Sequence[str] | None = None) -> None:
    """The console script ``attributionhub`` and ``python -m attributionhub``."""
    cli.main(args=argv, prog_name="attributionhub")


# --- sites ------------------------------------------------------------------------------
@cli.group()
def sites() -> None:
    """Manage sites (tenants) and their keys."""


@sites.command("create")
@_store_option
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
@_store_option
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
        return
    table = [_SITES_HEADER, *((s.site_id, format_instant(s.created_at), s.name) for s in found)]
    widths = [max(len(row[i]) for row in table) for i in range(2)]
    for site_id, created_at, name in table:
        click.echo(f"{site_id:<{widths[0]}}  {created_at:<{widths[1]}}  {name}")


_SITES_HEADER: Final[tuple[str, str, str]] = ("SITE ID", "CREATED", "NAME")


@sites.command("rotate-keys")
@_store_option
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


# --- import ---------------------------------------------------------------------------
@cli.command("import")
@_store_option
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
    """Load events from FILE (NDJSON; - for stdin) into the site SITE_ID.

    \b
    Each line is one event: one JSON object, as in POST /api/v1/events, e.g.
      {"type": "pageview", "visitor_id": "v-1", "timestamp": "2025-07-15T10:00:00Z",
       "url": "https://example.com/pricing", "referrer": "https://www.google.com/"}
    type is pageview, conversion or exit; every event needs type, visitor_id, timestamp
    and an absolute url; event_id makes re-imports safe. The fields of each type are in
    docs/concepts.md, "Sites, visitors, events".

    The file is streamed, never loaded whole. Events already stored (same event_id) count
    as duplicates, so an interrupted import can simply be run again. Lines that are not
    JSON, or not a valid event, are rejected by line number while the rest is stored;
    the exit code is then still 0. An unknown site exits with code 2.
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

                return await import_lines(
                    service,
                    site_id,
                    stream,
                    batch_size=batch_size,
                    # orjson: the same answers as json.loads, several times faster.
                    decode=orjson.loads,
                    on_progress=advance,
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
# --- privacy (docs/privacy.md) -----------------------------------------------------------
@cli.command()
@_store_option
@click.option("--site", "site_id", required=True, metavar="SITE_ID", help="The site erased from.")
@click.option("--visitor", "visitor_id", metavar="VISITOR_ID", help="Erase this visitor.")
@click.option(
    "--email", metavar="EMAIL", help="Erase every visitor with a conversion with this email."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, for scripts.")
@click.pass_context
def erase(
    ctx: click.Context, site_id: str, visitor_id: str | None, email: str | None, as_json: bool
) -> None:
    """Erase a visitor of SITE_ID, or every visitor holding a conversion with an email
    (exact, case ignored): all their events and sessions, for good (backups aside).

    Give exactly one of --visitor and --email. Running it again erases nothing more. An
    unknown site exits with code 2.
    """
    if (visitor_id is None) == (email is None):
        raise CliUsageError("give exactly one of --visitor VISITOR_ID and --email EMAIL")
    settings = _settings(ctx)

    async def run() -> Erased:
        async with _service(settings) as service:
            if await service.store.get_site(site_id) is None:
                raise CliUsageError(
                    f"site {site_id!r} does not exist in {display_store(settings.store)!r}"
                )
            try:
                if visitor_id is not None:
                    return await service.erase_visitor(site_id, visitor_id)
                return await service.erase_email(site_id, email)
            except ParameterError as err:
                option = "--visitor" if err.parameter == "visitor_id" else "--email"
                raise CliUsageError(f"{option}: {err.message}") from err

    erased = _run(run())
    _print_erased(erased, as_json, f"Erased from site {site_id}")


@cli.command()
@_store_option
@click.option(
    "--days",
    type=_Checked("days", config.parse_retention_days),
    metavar="N",
    help="Delete events older than N days. [env: ATTRIBUTIONHUB_RETENTION_DAYS]",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, for scripts.")
@click.pass_context
def purge(ctx: click.Context, days: int | None, as_json: bool) -> None:
    """Delete the events older than the retention period, on every site, with the
    sessions made only of them; a session straddling the cut-off is re-cut from the
    events left. `serve` does the same every hour when ATTRIBUTIONHUB_RETENTION_DAYS is
    set.
    """
    settings = _settings(ctx)
    kept_days = days if days is not None else settings.retention_days
    if kept_days is None:
        raise CliUsageError(
            "no retention period: pass --days N or set ATTRIBUTIONHUB_RETENTION_DAYS"
        )

    async def run() -> Erased:
        async with _service(settings) as service:
            return await service.purge_all(kept_days)

    purged = _run(run())
    _print_erased(purged, as_json, f"Purged events older than {kept_days} days")


@cli.command()
@_store_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object, for scripts.")
@click.pass_context
def repair(ctx: click.Context, as_json: bool) -> None:
    """Re-cut the sessions of visitors that an ingest which failed half-way left behind
    their events (MongoDB only: the embedded store never leaves any). `serve` does the
    same at start and every minute; see docs/deployment.md.
    """
    settings = _settings(ctx)

    async def run() -> int:
        async with _service(settings) as service:
            return await service.repair_pending()

    repaired = _run(run())
    if as_json:
        click.echo(orjson.dumps({"visitors": repaired}).decode())
    else:
        click.echo(f"Re-cut {repaired} visitors left pending.")


def _print_erased(erased: Erased, as_json: bool, done: str) -> None:
    if as_json:
        click.echo(orjson.dumps({"visitors": erased.visitors, "events": erased.events}).decode())
        return
    click.echo(f"{done}: {erased.events} events of {erased.visitors} visitors.")


def _check_rate_limit(name: str, value: str) -> str:
    config.parse_rate_limit(name, value)
    return value


@cli.command()
@_store_option
@click.option(
    "--host",
    type=_Checked("host", config.parse_host),
    default=DEFAULT_HOST,
    show_default=True,
    help="Interface to listen on (an IP address or a host name).",
)
@click.option("--port", type=click.IntRange(1, 65535), default=DEFAULT_PORT, show_default=True)
@click.option(
    "--demo",
    is_flag=True,
    help=(
        "Fill a site called 'Demo' with months of generated traffic (once: later runs "
        "reuse it and its keys), print its API key with example requests, and turn "
        "GraphiQL and introspection on."
    ),
)
@click.option(
    "--demo-events",
    type=click.IntRange(1, 10_000_000),
    default=DEFAULT_DEMO_EVENTS,
    show_default=True,
    help="Events generated by --demo.",
)
@click.option(
    "--rate-limit",
    metavar="LIMIT",
    type=_Checked("rate-limit", _check_rate_limit),
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

    The first Ctrl+C (or SIGTERM) stops taking connections and lets requests in flight
    finish (at most 10 s); pressing it again meanwhile changes nothing.

    With ATTRIBUTIONHUB_RETENTION_DAYS set, events older than that are deleted at start
    and then every hour, in the background (docs/privacy.md).

    --demo fills a site called 'Demo' with generated traffic the first time. Later runs
    on the same store reuse that site, its data and its keys: the clear-text keys are
    kept in a file readable only by you, beside the SQLite file (for MongoDB, in the
    per-user data folder); see README.md, "The demo". Other sites are left alone.
    """
    settings = replace(_settings(ctx), host=host, port=port)
    if rate_limit is not None:
        settings = replace(settings, rate_limit=config.parse_rate_limit("--rate-limit", rate_limit))
    ide = graphql_ide if graphql_ide is not None else (settings.graphql_ide or demo)
    settings = replace(
        settings,
        graphql_ide=ide,
        # GraphiQL is of little use without introspection.
        graphql_introspection=settings.graphql_introspection or ide or demo,
    )

    async def prepare() -> DemoSite | None:
        # Opening the store here (and closing it) reports an unreachable store before the
        # server binds, and applies schema migrations once. The store is named in the
        # "serving on" line instead: the server's stderr is its log.
        async with _service(settings, announce=False) as service:
            if not demo:
                return None
            return await _open_demo(service, settings, demo_events)

    prepared = _run(prepare())
    try:
        app = init_app(settings)
    except ValueError as err:  # a configuration error the settings could not see
        raise CliUsageError(str(err)) from err
    app.on_startup.append(_quiet_second_signal)
    base = f"http://{_client_host(host)}:{port}"
    if prepared is not None:
        _print_demo(prepared, base, demo_credentials_file(settings.store))

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
        if config.debug_enabled():
            raise
        raise CliError(f"the server stopped: {type(exc).__name__}: {exc}") from exc
    click.echo("AttributionHub stopped.")


_server_log = logging.getLogger("attributionhub.server")


async def _quiet_second_signal(app: web.Application) -> None:
    """Replace aiohttp's SIGINT/SIGTERM handlers (installed before the app starts) with
    ones that stop the server once: aiohttp's handler would raise again during the
    graceful shutdown, which then dies with "Event loop stopped before Future
    completed". A second Ctrl+C is ignored; the shutdown is bounded anyway."""
    loop = asyncio.get_running_loop()
    stopping = False

    def stop() -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        # A log line, not a print: while serving, the output is the JSON-lines log.
        _server_log.info(
            "stopping: letting requests in flight finish (at most %g s)",
            SHUTDOWN_TIMEOUT_SECONDS,
            extra={"event": "signal"},
        )
        raise GracefulExit()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)


def init_app(settings: Settings) -> web.Application:
    # Imported here: the app pulls in the REST and GraphQL layers, which the other
    # commands do not need.
    from attributionhub.app import init

    return init(settings)


async def _open_demo(service: AttributionService, settings: Settings, count: int) -> DemoSite:
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
        try:
            demo = await open_demo_site(
                service,
                demo_credentials_file(settings.store),
                count=count,
                on_batch=lambda n: progress.update(task, advance=n),
            )
        except OSError as err:
            raise CliError(f"cannot keep the demo credentials: {err}") from err
    site = demo.credentials.site
    if demo.filled is not None:
        click.echo(
            f"Loaded {demo.filled.accepted:,} demo events into site {site.name!r} "
            f"({demo.filled.bots:,} crawler events dropped)."
        )
    elif demo.keys_renewed:
        click.echo(
            f"Reusing the demo site {site.site_id} and its data; its kept keys were missing "
            "or no longer valid, so they were renewed."
        )
    else:
        click.echo(f"Reusing the demo site {site.site_id}, its data and its keys.")
    return demo


def _print_demo(demo: DemoSite, base: str, kept_in: Path) -> None:
    created = demo.credentials
    key = created.api_key
    click.echo(
        f"""
Demo site:      {created.site.site_id}
API key:        {key}
Tracker token:  {created.tracker_token}
(Kept for the next runs in {kept_in}, readable only by you.)"""
    )
    if demo.first_day is not None and demo.last_day is not None:
        end = demo.last_day
        # A week inside the data for /sessions; the last 30 days (the /pages limit).
        week = _iso(max(demo.first_day, end - timedelta(days=6)))
        month = _iso(max(demo.first_day, end - timedelta(days=29)))
        graphql = (
            f'{{ sessions(filter: {{startDate: \\"{week}\\", endDate: \\"{_iso(end)}\\"}}) '
            "{ pagination { totalRecords } } }"
        )
        click.echo(
            f"""Demo data:      sessions from {_iso(demo.first_day)} to {_iso(end)}

Try:
  curl -s -X POST {base}/api/v1/sessions -H 'Authentication: {key}' \\
       -H 'Content-Type: application/json' \\
       -d '{{"start_date": "{week}", "end_date": "{_iso(end)}", "medium": "cpc"}}'
  curl -s -X POST {base}/api/v1/pages -H 'Authentication: {key}' \\
       -H 'Content-Type: application/json' \\
       -d '{{"start_date": "{month}", "end_date": "{_iso(end)}", "touch_scope": "first"}}'
  curl -s -X POST {base}/graphql -H 'Authentication: {key}' \\
       -H 'Content-Type: application/json' \\
       -d '{{"query": "{graphql}"}}'
  curl -s -X POST {base}/api/v1/attribution -H 'Authentication: {key}' \\
       -H 'Content-Type: application/json' \\
       -d '{{"start_date": "{month}", "end_date": "{_iso(end)}", "dimension": "channel"}}'
Dashboard:      {base}/ (sign in with the API key)
GraphiQL:       {base}/graphql (send the key in the Authentication header)
REST API docs:  {base}/api/docs   (OpenAPI document: {base}/api/v1/openapi.json)
"""
        )
    sys.stdout.flush()


def _iso(day: date) -> str:
    return day.isoformat()


def _client_host(host: str) -> str:
    # A wildcard address is where the server listens, not an address to call.
    if host in {"0.0.0.0", "", "::"}:
        return "127.0.0.1"
    return _url_host(host)


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
