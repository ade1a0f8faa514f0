"""Migrations: up from empty on SQLite and PostgreSQL, and the models never drift from them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from bot.app import SchemaOutOfDate, check_schema
from bot.cli import main
from storage import migrate, revisions
from storage.db import Database
from storage.models import Base


def _diff(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_migrated_schema_matches_the_models(db: Database) -> None:
    async with db.engine.connect() as connection:
        assert await connection.run_sync(_diff) == []
        assert {table.name for table in Base.metadata.sorted_tables} <= await connection.run_sync(_tables)
    state = await migrate.schema_state(db)
    assert state.up_to_date


async def test_up_from_empty_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'empty.db'}"
    db = Database(url)
    try:
        with pytest.raises(SchemaOutOfDate, match="duban db upgrade"):
            await check_schema(db)
        await asyncio.to_thread(migrate.upgrade, url)
        await check_schema(db)
        async with db.engine.connect() as connection:
            journal = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
        assert journal == "wal"
    finally:
        await db.close()


@pytest.mark.postgres
async def test_up_and_down_from_empty_postgres(empty_pg_url: str) -> None:
    db = Database(empty_pg_url)
    try:
        with pytest.raises(SchemaOutOfDate):
            await check_schema(db)
        await asyncio.to_thread(migrate.upgrade, empty_pg_url)
        await check_schema(db)
        await asyncio.to_thread(migrate.downgrade, empty_pg_url, "base")
        async with db.engine.connect() as connection:
            assert await connection.run_sync(_tables) == {"alembic_version"}
    finally:
        await db.close()


def test_db_cli_upgrade_and_current(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "duban.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/cli.db"\n', encoding="utf-8")
    assert main(["--config", str(config), "db", "current"]) == 3
    assert "duban db upgrade" in capsys.readouterr().err
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert main(["--config", str(config), "db", "current"]) == 0
    assert migrate.head_revision() in capsys.readouterr().out


def test_serve_refuses_an_out_of_date_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "duban.toml"
    config.write_text(f'[database]\nurl = "sqlite+aiosqlite:///{tmp_path}/stale.db"\n', encoding="utf-8")
    assert main(["--config", str(config), "serve", "--port", "1"]) == 3
    err = capsys.readouterr().err
    assert "请先运行 `duban db upgrade`" in err


def test_the_start_up_check_finds_the_head_alembic_finds() -> None:
    """The check reads the revision files without Alembic; it must agree with Alembic's own graph."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(migrate.alembic_config("")).get_heads()
    assert [migrate.head_revision()] == heads


def test_two_heads_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "a.py").write_text('revision: str = "a"\ndown_revision = None\n', encoding="utf-8")
    (versions / "b.py").write_text('revision = "b"\ndown_revision: str | None = "a"\n', encoding="utf-8")
    (versions / "c.py").write_text('revision = "c"\ndown_revision = ("a",)\n', encoding="utf-8")
    monkeypatch.setattr(revisions, "VERSIONS", versions)
    with pytest.raises(RuntimeError, match="2 heads"):
        migrate.head_revision()
    (versions / "d.py").write_text('revision = "d"\ndown_revision = ("b", "c")\n', encoding="utf-8")
    assert migrate.head_revision() == "d"
