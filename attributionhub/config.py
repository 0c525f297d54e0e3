"""Settings, read from the command line and the environment (``ATTRIBUTIONHUB_*``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from adapters.http.bodies import DEFAULT_BODY_TIMEOUT_SECONDS, DEFAULT_MAX_PENDING_BODIES
from domain.services import DEFAULT_REPORT_CONCURRENCY

DEFAULT_STORE = str(Path("attributionhub-data") / "attributionhub.db")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


@dataclass(frozen=True, slots=True)
class Settings:
    # A file path selects the embedded SQLite store; a mongodb:// URL selects MongoDB.
    store: str = DEFAULT_STORE
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    session_timeout: timedelta = timedelta(minutes=30)
    # e.g. "600/minute" (the ``limits`` notation); None turns rate limiting off.
    rate_limit: str | None = None
    max_body_bytes: int = 10 * 1024 * 1024
    graphql_ide: bool = False
    graphql_introspection: bool = False
    mongo_write_concern: str = "majority"
    access_log: bool = True
    # Page reports computed at once; more wait their turn (docs/deployment.md).
    report_concurrency: int = DEFAULT_REPORT_CONCURRENCY
    # A request body must arrive within this many seconds; at most this many may be
    # arriving at once (docs/deployment.md, "Timeouts and slow clients").
    body_timeout_seconds: float = DEFAULT_BODY_TIMEOUT_SECONDS
    max_pending_bodies: int = DEFAULT_MAX_PENDING_BODIES

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        settings = cls()
        if value := env.get("ATTRIBUTIONHUB_STORE"):
            settings = replace(settings, store=value)
        if value := env.get("ATTRIBUTIONHUB_SESSION_TIMEOUT_MINUTES"):
            settings = replace(settings, session_timeout=timedelta(minutes=int(value)))
        if value := env.get("ATTRIBUTIONHUB_RATE_LIMIT"):
            settings = replace(settings, rate_limit=None if value == "off" else value)
        if value := env.get("ATTRIBUTIONHUB_GRAPHQL_IDE"):
            settings = replace(settings, graphql_ide=_flag(value))
        if value := env.get("ATTRIBUTIONHUB_GRAPHQL_INTROSPECTION"):
            settings = replace(settings, graphql_introspection=_flag(value))
        if value := env.get("ATTRIBUTIONHUB_MONGO_WRITE_CONCERN"):
            settings = replace(settings, mongo_write_concern=value)
        if value := env.get("ATTRIBUTIONHUB_REPORT_CONCURRENCY"):
            settings = replace(settings, report_concurrency=_positive(REPORT_CONCURRENCY, value))
        if value := env.get(BODY_TIMEOUT):
            settings = replace(
                settings, body_timeout_seconds=_positive_seconds(BODY_TIMEOUT, value)
            )
        if value := env.get(MAX_PENDING_BODIES):
            settings = replace(settings, max_pending_bodies=_positive(MAX_PENDING_BODIES, value))
        return settings

    @property
    def uses_mongodb(self) -> bool:
        return is_mongodb_url(self.store)


def is_mongodb_url(store: str) -> bool:
    return store.startswith(("mongodb://", "mongodb+srv://"))


REPORT_CONCURRENCY = "ATTRIBUTIONHUB_REPORT_CONCURRENCY"
BODY_TIMEOUT = "ATTRIBUTIONHUB_BODY_TIMEOUT_SECONDS"
MAX_PENDING_BODIES = "ATTRIBUTIONHUB_MAX_PENDING_BODIES"


def _positive_seconds(name: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = 0.0
    if not 0 < number < float("inf"):
        raise ValueError(f"{name}: expected a number of seconds > 0, got {value!r}")
    return number


def _positive(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
    return number


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}
