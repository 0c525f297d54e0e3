"""Settings, read from the command line and the environment (``ATTRIBUTIONHUB_*``).

Every setting is checked when a command starts, whichever command it is: a value that
cannot be used is a ``SettingError`` naming the setting, what it expects and what it got
(README.md, "Settings"). An empty variable counts as not set.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs
from limits import parse_many

from adapters.http.bodies import DEFAULT_BODY_TIMEOUT_SECONDS, DEFAULT_MAX_PENDING_BODIES
from domain.services import DEFAULT_REPORT_CONCURRENCY

APP_NAME = "attributionhub"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080

STORE = "ATTRIBUTIONHUB_STORE"
SESSION_TIMEOUT_MINUTES = "ATTRIBUTIONHUB_SESSION_TIMEOUT_MINUTES"
RATE_LIMIT = "ATTRIBUTIONHUB_RATE_LIMIT"
GRAPHQL_IDE = "ATTRIBUTIONHUB_GRAPHQL_IDE"
GRAPHQL_INTROSPECTION = "ATTRIBUTIONHUB_GRAPHQL_INTROSPECTION"
MONGO_WRITE_CONCERN = "ATTRIBUTIONHUB_MONGO_WRITE_CONCERN"
MONGO_QUERY_TIMEOUT_MS = "ATTRIBUTIONHUB_MONGO_QUERY_TIMEOUT_MS"
MONGO_WRITE_TIMEOUT_MS = "ATTRIBUTIONHUB_MONGO_WRITE_TIMEOUT_MS"
MONGO_LOCK_LEASE = "ATTRIBUTIONHUB_MONGO_LOCK_LEASE_SECONDS"
MONGO_LOCK_RENEWAL = "ATTRIBUTIONHUB_MONGO_LOCK_RENEWAL_SECONDS"
MONGO_REPORT_READ_PREFERENCE = "ATTRIBUTIONHUB_MONGO_REPORT_READ_PREFERENCE"
REPORT_CONCURRENCY = "ATTRIBUTIONHUB_REPORT_CONCURRENCY"
DEBUG = "ATTRIBUTIONHUB_DEBUG"
BODY_TIMEOUT = "ATTRIBUTIONHUB_BODY_TIMEOUT_SECONDS"
MAX_PENDING_BODIES = "ATTRIBUTIONHUB_MAX_PENDING_BODIES"
CORS_ORIGINS = "ATTRIBUTIONHUB_CORS_ORIGINS"
RETENTION_DAYS = "ATTRIBUTIONHUB_RETENTION_DAYS"

# A day: a visitor idle longer than that is on a new visit by any definition, and the
# bound keeps a typo (minutes meant as seconds, an extra zero) from merging every visit.
MAX_SESSION_TIMEOUT_MINUTES = 1440
# Reports hold the GIL while they count (docs/decisions.md, "Reads"): more than a few at
# once only adds memory.
MAX_REPORT_CONCURRENCY = 64
# Bounds that only catch typos (a timeout of a day is no timeout).
MAX_SECONDS = 3600.0
MAX_MILLISECONDS = 3_600_000
MAX_PENDING_BODIES_LIMIT = 100_000
# A century: any longer is keeping everything, and the cut-off stays a valid date.
MAX_RETENTION_DAYS = 36_500

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_USERINFO = re.compile(r"(?<=://)[^@/]*@")
_NUMBER_LIKE = re.compile(r"[+-]?\d+(\.\d*)?")
# scheme://host[:port] and nothing after it: no path (not even "/"), query or fragment,
# no user name. The host and port are checked further by _origin.
_ORIGIN = re.compile(r"(?i)https?://[^/?#@\s]+")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# MongoDB's read preference modes, spelled as in a URL's readPreference; the adapter maps
# them onto pymongo's classes (kept here so the embedded store never loads the driver).
MONGO_READ_PREFERENCES = (
    "primary",
    "primaryPreferred",
    "secondary",
    "secondaryPreferred",
    "nearest",
)


class SettingError(ValueError):
    """A setting that cannot be used; the message names it (``NAME: expected ..., got ...``)."""


def default_data_dir() -> Path:
    """The per-user data folder (``platformdirs``' user data dir, e.g.
    ``~/.local/share/attributionhub`` on Linux): the default store lives there, so every
    command finds the same data whatever folder it runs in."""
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def default_store() -> str:
    return str(default_data_dir() / "attributionhub.db")


@dataclass(frozen=True, slots=True)
class Settings:
    # A file path selects the embedded SQLite store; a mongodb:// URL selects MongoDB.
    store: str = field(default_factory=default_store)
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    session_timeout: timedelta = timedelta(minutes=30)
    # e.g. "600/minute" (the ``limits`` notation); None turns rate limiting off.
    rate_limit: str | None = None
    max_body_bytes: int = 10 * 1024 * 1024
    graphql_ide: bool = False
    graphql_introspection: bool = False
    mongo_write_concern: str = "majority"
    # maxTimeMS of every MongoDB read, wtimeout of every write (docs/deployment.md).
    mongo_query_timeout_ms: int = 15_000
    mongo_write_timeout_ms: int = 10_000
    # The visitor locks' lease and how often a working holder renews it; None renews
    # every third of the lease (docs/deployment.md, "Ingestion without transactions").
    mongo_lock_lease_seconds: float = 15.0
    mongo_lock_renewal_seconds: float | None = None
    # Where the reports read (docs/deployment.md, "Running on a replica set"); every
    # other read goes to the primary.
    mongo_report_read_preference: str = "primary"
    access_log: bool = True
    # Page reports computed at once; more wait their turn (docs/deployment.md).
    report_concurrency: int = DEFAULT_REPORT_CONCURRENCY
    # A request body must arrive within this many seconds; at most this many may be
    # arriving at once (docs/deployment.md, "Timeouts and slow clients").
    body_timeout_seconds: float = DEFAULT_BODY_TIMEOUT_SECONDS
    max_pending_bodies: int = DEFAULT_MAX_PENDING_BODIES
    # Browser origins allowed to call /graphql and /api/v1/ (docs/deployment.md, "CORS").
    cors_origins: tuple[str, ...] = ()
    # Events older than this many days are purged (docs/privacy.md); None keeps them.
    retention_days: int | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The defaults overridden by the environment; raises ``SettingError``."""
        env = os.environ if environ is None else environ
        # Any: each parser's own signature types its value; the table pairs them by name.
        changes: dict[str, Any] = {
            setting: parse(name, value)
            for name, setting, parse in _FROM_ENVIRONMENT
            if (value := env.get(name))
        }
        settings = replace(cls(), **changes)
        _check_lock_timing(settings, env)
        if value := env.get(DEBUG):
            parse_flag(DEBUG, value)
        return settings

    @property
    def uses_mongodb(self) -> bool:
        return is_mongodb_url(self.store)


def is_mongodb_url(store: str) -> bool:
    return store.startswith(("mongodb://", "mongodb+srv://"))


def debug_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """``ATTRIBUTIONHUB_DEBUG``: tracebacks instead of one-line errors. Never raises: a bad
    value was already refused when the command started."""
    env = os.environ if environ is None else environ
    return env.get(DEBUG, "").strip().lower() in _TRUE


def parse_seconds(name: str, value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        number = 0.0
    if not 0 < number <= MAX_SECONDS:
        raise SettingError(
            f"{name}: expected a number of seconds above 0, at most {MAX_SECONDS:g}, got {value!r}"
        )
    return number


# --- parsers, shared by the environment and the command-line options ------------------
def parse_int(name: str, value: str, *, low: int, high: int, what: str) -> int:
    text = value.strip()
    try:
        number = int(text)
    except ValueError:
        number = None
    if number is None or not low <= number <= high or not text.lstrip("+-").isdigit():
        raise SettingError(f"{name}: expected {what} from {low} to {high}, got {value!r}")
    return number


def parse_milliseconds(name: str, value: str) -> int:
    return parse_int(
        name, value, low=1, high=MAX_MILLISECONDS, what="a whole number of milliseconds"
    )


def parse_retention_days(name: str, value: str) -> int:
    return parse_int(name, value, low=1, high=MAX_RETENTION_DAYS, what="a whole number of days")


def _check_lock_timing(settings: Settings, env: Mapping[str, str]) -> None:
    """The lease must outlast one write (a live holder must not lose its locks to one
    slow write) and the renewal come round within the lease."""
    lease = settings.mongo_lock_lease_seconds
    write_timeout_ms = settings.mongo_write_timeout_ms
    if not lease * 1000 > write_timeout_ms:
        got = (
            repr(env[MONGO_LOCK_LEASE]) if env.get(MONGO_LOCK_LEASE) else f"{lease:g} (the default)"
        )
        raise SettingError(
            f"{MONGO_LOCK_LEASE}: expected more seconds than the write timeout "
            f"({MONGO_WRITE_TIMEOUT_MS}={write_timeout_ms}, {write_timeout_ms / 1000:g} s), "
            f"so that one slow write cannot make a live ingest lose its visitor locks, got {got}"
        )
    renewal = settings.mongo_lock_renewal_seconds
    if renewal is not None and not renewal < lease:
        raise SettingError(
            f"{MONGO_LOCK_RENEWAL}: expected fewer seconds than the lock lease "
            f"({MONGO_LOCK_LEASE}={lease:g}), so that a working ingest renews its locks "
            f"before they expire, got {env.get(MONGO_LOCK_RENEWAL, renewal)!r}"
        )


def parse_read_preference(name: str, value: str) -> str:
    text = value.strip()
    if text not in MONGO_READ_PREFERENCES:
        allowed = ", ".join(MONGO_READ_PREFERENCES)
        raise SettingError(f"{name}: expected one of {allowed} (in that case), got {value!r}")
    return text


def parse_flag(name: str, value: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SettingError(
        f"{name}: expected a boolean (1/0, true/false, yes/no, on/off), got {value!r}"
    )


def parse_rate_limit(name: str, value: str) -> str | None:
    """``off`` or the ``limits`` notation (``600/minute``, ``10/second;600/minute``),
    parsed here with the library the service counts with, so that a bad value stops the
    start instead of the first request."""
    text = value.strip()
    if text.lower() == "off":
        return None
    expected = "a limit such as '600/minute' or '10/second;600/minute', or 'off'"
    try:
        items = parse_many(text)
    except ValueError:
        raise SettingError(f"{name}: expected {expected}, got {value!r}") from None
    if not items or any(item.amount < 1 for item in items):
        raise SettingError(f"{name}: expected {expected} (at least 1 request), got {value!r}")
    return text


def parse_write_concern(name: str, value: str) -> str:
    """``majority``, a number of members (>= 1), or a tag set name. ``0`` (unacknowledged
    writes) would lose the duplicate-key errors idempotent ingestion relies on
    (docs/deployment.md, "Write concern")."""
    text = value.strip()
    if _NUMBER_LIKE.fullmatch(text) and not (text.isdigit() and int(text) >= 1):
        raise SettingError(
            f"{name}: expected 'majority', a number of members >= 1 or a tag set name, "
            f"got {value!r}"
        )
    return text


def parse_origins(name: str, value: str) -> tuple[str, ...]:
    """Comma-separated origins, each ``http(s)://host[:port]``, written as browsers send
    them in ``Origin`` (lower case, no default port) so that matching is a string compare.
    ``*`` is refused: the contract is an explicit list (docs/deployment.md, "CORS")."""
    expected = (
        "comma-separated origins such as 'https://app.example.com,http://localhost:5173' "
        "(http(s)://host[:port], no path or trailing slash; '*' is not accepted)"
    )
    items = value.split(",")
    origins: list[str] = []
    for item in items:
        origin = _origin(item.strip())
        if origin is None:
            got = f"{item.strip()!r} in {value!r}" if len(items) > 1 else repr(value)
            raise SettingError(f"{name}: expected {expected}, got {got}")
        if origin not in origins:
            origins.append(origin)
    return tuple(origins)


def _origin(text: str) -> str | None:
    """``text`` as a browser serializes the origin, or None when it is no origin."""
    if not _ORIGIN.fullmatch(text):
        return None
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname or ""
    if not host or (port is not None and not 1 <= port <= 65535):
        return None
    try:
        host = f"[{ipaddress.IPv6Address(host).compressed}]"
    except ValueError:
        labels = host.rstrip(".").split(".")
        if not all(_HOST_LABEL.fullmatch(label) for label in labels):
            return None
    scheme = parts.scheme.lower()
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def parse_store(name: str, value: str) -> str:
    if not value.strip():
        raise SettingError(f"{name}: expected a file path or a mongodb:// URL, got {value!r}")
    if "://" in value and not is_mongodb_url(value):
        raise SettingError(
            f"{name}: expected a file path or a mongodb:// or mongodb+srv:// URL, "
            f"got {_USERINFO.sub('***@', value, count=1)!r}"
        )
    return value


def parse_host(name: str, value: str) -> str:
    """An IP address or a host name (RFC 1123 labels); the empty string listens on
    every interface, as aiohttp does."""
    text = value.strip()
    if text == "":
        return text
    try:
        ipaddress.ip_address(text.strip("[]"))
        return text.strip("[]")
    except ValueError:
        pass
    labels = text.rstrip(".").split(".")
    if len(text) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels):
        return text
    raise SettingError(f"{name}: expected an IP address or a host name, got {value!r}")


def _session_timeout(name: str, value: str) -> timedelta:
    minutes = parse_int(
        name, value, low=1, high=MAX_SESSION_TIMEOUT_MINUTES, what="a whole number of minutes"
    )
    return timedelta(minutes=minutes)


def _report_concurrency(name: str, value: str) -> int:
    return parse_int(name, value, low=1, high=MAX_REPORT_CONCURRENCY, what="an integer")


def _max_pending_bodies(name: str, value: str) -> int:
    return parse_int(name, value, low=1, high=MAX_PENDING_BODIES_LIMIT, what="an integer")


# Each environment variable, the setting it gives and how its value is read, in the order
# they are checked (the first bad one is the error reported).
_FROM_ENVIRONMENT: tuple[tuple[str, str, Callable[[str, str], object]], ...] = (
    (STORE, "store", parse_store),
    (SESSION_TIMEOUT_MINUTES, "session_timeout", _session_timeout),
    (RATE_LIMIT, "rate_limit", parse_rate_limit),
    (GRAPHQL_IDE, "graphql_ide", parse_flag),
    (GRAPHQL_INTROSPECTION, "graphql_introspection", parse_flag),
    (MONGO_WRITE_CONCERN, "mongo_write_concern", parse_write_concern),
    (MONGO_QUERY_TIMEOUT_MS, "mongo_query_timeout_ms", parse_milliseconds),
    (MONGO_WRITE_TIMEOUT_MS, "mongo_write_timeout_ms", parse_milliseconds),
    (MONGO_LOCK_LEASE, "mongo_lock_lease_seconds", parse_seconds),
    (MONGO_LOCK_RENEWAL, "mongo_lock_renewal_seconds", parse_seconds),
    (MONGO_REPORT_READ_PREFERENCE, "mongo_report_read_preference", parse_read_preference),
    (REPORT_CONCURRENCY, "report_concurrency", _report_concurrency),
    (BODY_TIMEOUT, "body_timeout_seconds", parse_seconds),
    (MAX_PENDING_BODIES, "max_pending_bodies", _max_pending_bodies),
    (CORS_ORIGINS, "cors_origins", parse_origins),
    (RETENTION_DAYS, "retention_days", parse_retention_days),
)
