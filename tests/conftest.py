"""Fixtures shared by the whole suite: a migrated database on SQLite and, where reachable, PostgreSQL.

The PostgreSQL server on CI machines answers at 127.0.0.1:5432 with trust auth. The suite creates a
database of its own (and drops it at the end), because CI finds the server as the last session left it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text

from storage import migrate
from storage.db import Database
from storage.models import Base

pytest_plugins = ("tests.fakes.plugin",)

# Property tests are deterministic (the same examples on every run and machine), never time-limited (CI
# machines are slow and shared), and write no example database into the work tree. ``HYPOTHESIS_PROFILE=explore``
# draws fresh examples, ten times as many, for a local hunt.
hypothesis_settings.register_profile("duban", derandomize=True, deadline=None, database=None, print_blob=True)
hypothesis_settings.register_profile("explore", deadline=None, database=None, max_examples=1000, print_blob=True)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "duban"))

PG_HOST = os.environ.get("DUBAN_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("DUBAN_TEST_PG_PORT", "5432"))
PG_USERS = ("postgres", "root")


async def _pg_admin() -> asyncpg.Connection | None:
    for user in PG_USERS:
        try:
            return await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=user, database="postgres", timeout=3)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            continue
    return None


async def _create_pg_database(name: str) -> str | None:
    admin = await _pg_admin()
    if admin is None:
        return None
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        user = await admin.fetchval("SELECT current_user")
    finally:
        await admin.close()
    return f"postgresql+asyncpg://{user}@{PG_HOST}:{PG_PORT}/{name}"


async def _drop_pg_database(name: str) -> None:
    admin = await _pg_admin()
    if admin is None:
        return
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str | None]:
    """A freshly created, migrated PostgreSQL database for this run, or ``None`` when no server answers."""
    name = f"duban_test_{os.getpid()}_{secrets.token_hex(4)}"
    url = asyncio.run(_create_pg_database(name))
    if url is None:
        yield None
        return
    try:
        migrate.upgrade(url)
        yield url
    finally:
        asyncio.run(_drop_pg_database(name))


@pytest.fixture
def empty_pg_url(pg_url: str | None) -> Iterator[str]:
    """A new PostgreSQL database of this test's own with no schema (for migration tests), dropped afterwards."""
    require_pg(pg_url)
    name = f"duban_empty_{os.getpid()}_{secrets.token_hex(4)}"
    url = asyncio.run(_create_pg_database(name))
    assert url is not None
    try:
        yield url
    finally:
        asyncio.run(_drop_pg_database(name))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def migration_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database with no schema, for a migration test: a SQLite file, and a PostgreSQL database of its own."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'previous.db'}"
    return str(request.getfixturevalue("empty_pg_url"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once keeps the suite fast)."""
    path = tmp_path_factory.mktemp("template") / "duban.db"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    return path


def require_pg(pg_url: str | None) -> str:
    if pg_url is None:
        pytest.skip(f"no PostgreSQL server answers at {PG_HOST}:{PG_PORT} (users {', '.join(PG_USERS)})")
    return pg_url


async def truncate_all(db: Database) -> None:
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    async with db.engine.begin() as connection:
        await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, pg_url: str | None) -> str:
    """The URL of an empty, migrated database: each test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "duban.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    return require_pg(pg_url)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    if database.dialect == "postgresql":
        await truncate_all(database)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """A migrated SQLite database only (for tests about the embedded default)."""
    path = tmp_path / "duban.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"
