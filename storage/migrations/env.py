"""Alembic environment: runs migrations on the async engine that duban itself uses."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from storage.db import create_engine
from storage.models import Base

config = context.config
target_metadata = Base.metadata


def _sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    """Switch SQLite's foreign-key enforcement; only takes effect outside a transaction, hence the raw cursor
    (a statement through the connection would begin one first)."""
    cursor = connection.connection.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    finally:
        cursor.close()


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        tables = sorted({str(row[0]) for row in broken})
        raise RuntimeError(f"migration left {len(broken)} rows with dangling references in {', '.join(tables)}")


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    # SQLite alters a table in batch mode by copying it and dropping the old one; with enforcement on, that DROP
    # fails (or cascades) for every table pointing at it. Enforcement is off for the migration, and every
    # reference is checked before it commits.
    if sqlite and not connection.in_transaction():
        _sqlite_foreign_keys(connection, on=False)
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        compare_type=True,
    )
    try:
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Several instances may upgrade at once (each one's ExecStartPre): one migrates, the others wait
                # here, then read the new version and find nothing left to do.
                connection.execute(text("SELECT pg_advisory_xact_lock(hashtextextended('duban.migrate', 0))"))
            context.run_migrations()
            if sqlite:
                _check_foreign_keys(connection)
    finally:
        if sqlite and not connection.in_transaction():
            _sqlite_foreign_keys(connection, on=True)


async def _run_online(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    asyncio.run(_run_online(config.attributes["database_url"]))


if context.is_offline_mode():
    context.configure(url=config.attributes["database_url"], target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
