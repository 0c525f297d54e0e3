"""Opening the configured store: the one place that knows every store adapter."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from adapters.sqlite import MigrationError, SchemaVersionError, SqliteStore
from attributionhub.config import Settings, default_store, is_mongodb_url
from domain.ports import Store

_CREDENTIALS_IN_URL = re.compile(r"(?<=://)([^@/:]*):[^@/]*@")


class StoreUnavailableError(RuntimeError):
    """The configured store cannot be opened; the message says why."""


def display_store(store: str) -> str:
    """The store as it may be printed: a MongoDB URL without its password, a file path
    made absolute (so the user sees which file, whatever folder they are in)."""
    if is_mongodb_url(store):
        return _CREDENTIALS_IN_URL.sub(r"\1:***@", store, count=1)
    return str(sqlite_path(store))


def sqlite_path(store: str) -> Path:
    return Path(store).expanduser().absolute()


async def open_store(settings: Settings) -> Store:
    if is_mongodb_url(settings.store):
        # Imported here so the embedded store never loads the MongoDB driver.
        from adapters.mongo_store import MongoStore, MongoUnavailableError

        try:
            return await MongoStore.open(
                settings.store,
                write_concern=settings.mongo_write_concern,
                query_timeout_ms=settings.mongo_query_timeout_ms,
                write_timeout_ms=settings.mongo_write_timeout_ms,
            )
        except (MongoUnavailableError, ValueError) as exc:
            raise StoreUnavailableError(str(exc)) from exc
    path = sqlite_path(settings.store)
    if path == sqlite_path(default_store()):
        # The documented default folder (README.md, "Choosing the store") is ours to make.
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailableError(
                f"cannot create the default store folder {str(path.parent)!r}: {exc}"
            ) from exc
    elif not path.parent.is_dir():
        # A typo in an explicit path must not silently start a second, empty store.
        raise StoreUnavailableError(
            f"cannot open the embedded store {str(path)!r}: the folder {str(path.parent)!r} "
            "does not exist (create it first: only the database file is created)"
        )
    try:
        return await SqliteStore.open(path)
    except (OSError, sqlite3.Error, SchemaVersionError, MigrationError) as exc:
        raise StoreUnavailableError(
            f"cannot open the embedded store {settings.store!r}: {exc}"
        ) from exc
