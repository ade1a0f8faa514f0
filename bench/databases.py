"""The databases the benches run on: a PostgreSQL database of their own, created empty and dropped afterwards
(``DUBAN_BENCH_PG_HOST`` / ``DUBAN_BENCH_PG_PORT``, default 127.0.0.1:5432, user ``postgres``), or a SQLite file in
a temporary folder; and either one migrated and opened."""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]

from storage import migrate
from storage.db import Database

PG_HOST = os.environ.get("DUBAN_BENCH_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("DUBAN_BENCH_PG_PORT", "5432"))


@asynccontextmanager
async def empty_postgres(host: str = PG_HOST, port: int = PG_PORT) -> AsyncIterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped (with any connection left to it) afterwards."""
    name = f"duban_bench_{os.getpid()}_{secrets.token_hex(3)}"
    await _admin(host, port, f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://postgres@{host}:{port}/{name}"
    finally:
        await _admin(host, port, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def sqlite_file(prefix: str = "duban-bench-") -> AsyncIterator[str]:
    """The URL of a SQLite file in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        yield f"sqlite+aiosqlite:///{Path(folder) / 'duban.db'}"


@asynccontextmanager
async def migrated(url: str) -> AsyncIterator[Database]:
    """The database at ``url`` brought to the schema's head, opened until the block ends."""
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    try:
        yield db
    finally:
        await db.close()


async def _admin(host: str, port: int, statement: str) -> None:
    admin = await asyncpg.connect(host=host, port=port, user="postgres", database="postgres", timeout=5)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()
