"""The embedded store: SQLite on disk, the zero-setup default.

Modules along the adapter's seams: ``schema`` (tables and migrations), ``connections``
(opening, tuning, checkpoints, statistics), ``codec`` (rows and dictionaries),
``ingest`` (storing and re-cutting), ``queries`` (read statements) and ``store`` (the
``Store`` itself). This package is the only place that imports ``sqlite3``.
"""

from adapters.sqlite.schema import MIGRATIONS, Migration, MigrationError, SchemaVersionError
from adapters.sqlite.store import SqliteSnapshot, SqliteStore

__all__ = [
    "MIGRATIONS",
    "Migration",
    "MigrationError",
    "SchemaVersionError",
    "SqliteSnapshot",
    "SqliteStore",
]
