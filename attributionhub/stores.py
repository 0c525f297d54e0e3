"""Opening the configured store: the one place that knows every store adapter."""

from __future__ import annotations

import sqlite3

from adapters.sqlite import MigrationError, SchemaVersionError, SqliteStore
from attributionhub.config import Settings, is_mongodb_url
from domain.ports import Store


class StoreUnavailableError(RuntimeError):
    """The configured store cannot be opened; the message says why."""


async def open_store(settings: Settings) -> Store:
    if is_mongodb_url(settings.store):
        # Imported here so the embedded store never loads the MongoDB driver.
        from adapters.mongo_store import MongoStore, MongoUnavailableError

        try:
            return await MongoStore.open(settings.store, write_concern=settings.mongo_write_concern)
        except (MongoUnavailableError, ValueError) as exc:
            raise StoreUnavailableError(str(exc)) from exc
    try:
        return await SqliteStore.open(settings.store)
    except (OSError, sqlite3.Error, SchemaVersionError, MigrationError) as exc:
        raise StoreUnavailableError(
            f"cannot open the embedded store {settings.store!r}: {exc}"
        ) from exc
