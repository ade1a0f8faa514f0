"""Reading the SQLite database through Python's own ``sqlite3``, for a command that must answer at once.

``duban status`` on the embedded database reads one statement (:data:`storage.standing.STANDING_SQL`, the one the
service runs through SQLAlchemy) and the schema's version; loading SQLAlchemy, its asyncio layer and the models
for that took three times as long as the read. Only plain file URLs are read here
(``sqlite+aiosqlite:///var/duban.db``, ``sqlite+aiosqlite:////srv/duban/duban.db``); a URL with options, escapes or
an in-memory database is left to SQLAlchemy, which reads it as the service does.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from urllib.parse import quote

SQLITE_URL_PREFIX = "sqlite+aiosqlite:///"
BUSY_TIMEOUT_SECONDS = 15.0  # as the service's engines (``storage.db.SQLITE_BUSY_TIMEOUT_MS``)


class NoDatabase(Exception):
    """The file is not there (or cannot be opened): nothing was ever migrated into it."""


def sqlite_file(url: str) -> str | None:
    """The database file a plain SQLite URL names, or ``None`` for any other URL."""
    if not url.startswith(SQLITE_URL_PREFIX):
        return None
    path = url.removeprefix(SQLITE_URL_PREFIX)
    if not path or path == ":memory:" or any(mark in path for mark in "?#%"):
        return None
    return path


@contextmanager
def reading(path: str) -> Iterator[sqlite3.Connection]:
    """A connection to an existing database file (never creating one), closed afterwards."""
    try:
        connection = sqlite3.connect(f"file:{quote(path)}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_SECONDS)
    except sqlite3.OperationalError:
        raise NoDatabase(path) from None
    with closing(connection):
        yield connection


def schema_revision(connection: sqlite3.Connection) -> str | None:
    """The revision ``alembic_version`` records (``None``: an empty database), as ``storage.migrate`` reads it."""
    found = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'")
    if found.fetchone() is None:
        return None
    versions = [row[0] for row in connection.execute("SELECT version_num FROM alembic_version")]
    if len(versions) > 1:
        raise RuntimeError(f"alembic_version holds {len(versions)} rows; the database has several heads")
    return str(versions[0]) if versions else None
