"""What the migration tests share: an empty database brought to a revision, and a connection to seed or check it
in SQL (the models describe the head, not the revision under test). The ``migration_url`` fixture (conftest) gives
each such test an empty SQLite file and an empty PostgreSQL database of its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection

from storage import migrate
from storage.db import Database

# The unit most seeds start from, as every revision has known it.
COMMERCE = (
    "INSERT INTO unit (id, name, division, active, created_at, updated_at)"
    " VALUES (1, '省商务厅', '外贸处', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
)


async def upgrade(url: str, revision: str) -> None:
    await asyncio.to_thread(migrate.upgrade, url, revision)


async def downgrade(url: str, revision: str) -> None:
    await asyncio.to_thread(migrate.downgrade, url, revision)


@asynccontextmanager
async def opened(url: str) -> AsyncIterator[Database]:
    db = Database(url)
    try:
        yield db
    finally:
        await db.close()


@asynccontextmanager
async def transaction(url: str) -> AsyncIterator[AsyncConnection]:
    """A connection to the database at ``url`` in one transaction, committed when the block ends."""
    async with opened(url) as db, db.engine.begin() as connection:
        yield connection


async def current_revision(url: str) -> str | None:
    async with opened(url) as db:
        return (await migrate.schema_state(db)).current
