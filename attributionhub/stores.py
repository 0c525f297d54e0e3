"""Opening the configured store: the one place that knows every store adapter."""

from __future__ import annotations

import re
import sqlite3
from datetime import timedelta
from pathlib import Path

from adapters.sqlite import MigrationError, SchemaVersionError, SqliteStore
from attributionhub.config import Settings, default_store, is_mongodb_url
from domain.ports import Store

_CREDENTIALS_IN_URL = re.compile(r"(?<=://)([^@/:]*):[^@/]*@")


class StoreOpenError(RuntimeError):
    """The configured store cannot be opened at start-up; the message says why. (Not the
    port's ``domain.ports.StoreUnavailableError``, which an open store raises while it
    cannot be reached, and which the edge answers with a 503.)"""


def display_store(store: str) -> str:
    """The store as it may be printed: a MongoDB URL without its password, a file path
    made absolute (so the user sees which file, whatever folder they are in)."""
    if is_mongodb_url(store):
        return _CREDENTIALS_IN_URL.sub(r"\1:***@", store, count=1)
    return str(sqlite_path(store))


def sqlite_path(store: str) -> Path:
    return Path(store).expanduser().absolute()


async def open_store(settings: Settings, *, mongo_client: object | None = None) -> Store:
    """The store ``settings`` name, opened with the settings that concern it; raises
    ``StoreOpenError``. ``mongo_client`` replaces the connection to a MongoDB URL (tests
    pass a mongomock-motor client)."""
    if is_mongodb_url(settings.store):
        # Imported here so the embedded store never loads the MongoDB driver.
        from adapters.mongo_store import MongoStore, MongoUnavailableError

        renewal = settings.mongo_lock_renewal_seconds
        try:
            return await MongoStore.open(
                settings.store,
                client=mongo_client,
                write_concern=settings.mongo_write_concern,
                query_timeout_ms=settings.mongo_query_timeout_ms,
                write_timeout_ms=settings.mongo_write_timeout_ms,
                lock_lease=timedelta(seconds=settings.mongo_lock_lease_seconds),
                lock_renewal=None if renewal is None else timedelta(seconds=renewal),
                report_read_preference=settings.mongo_report_read_preference,
            )
        except (MongoUnavailableError, ValueError) as exc:
            raise StoreOpenError(str(exc)) from exc
    path = sqlite_path(settings.store)
    if path == sqlite_path(default_store()):
        # The documented default folder (README.md, "Choosing the store") is ours to make.
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreOpenError(
                f"cannot create the default store folder {str(path.parent)!r}: {exc}"
            ) from exc
    elif not path.parent.is_dir():
        # A typo in an explicit path must not silently start a second, empty store.
        raise StoreOpenError(
            f"cannot open the embedded store {str(path)!r}: the folder {str(path.parent)!r} "
            "does not exist (create it first: only the database file is created)"
        )
    try:
        return await SqliteStore.open(path)
    except (OSError, sqlite3.Error, SchemaVersionError, MigrationError) as exc:
        raise StoreOpenError(f"cannot open the embedded store {settings.store!r}: {exc}") from exc
