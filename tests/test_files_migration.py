"""Migration 0007 (stored files and blobs) on a database made by 0006 with reports in it, and back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from storage import migrate
from storage.db import Database

PREVIOUS = "0006"
FILES = "0007"


async def _seed_previous(db: Database) -> None:
    """Rows as 0001 knew them: a unit, a liaison, a message with an attachment and a version holding it."""
    async with db.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO unit (id, name, division, active, created_at, updated_at)"
                " VALUES (1, '省商务厅', '外贸处', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
        )
        await connection.execute(
            text(
                "INSERT INTO person (id, name, role, unit_id, active, wecom_userid, mobile, created_at, updated_at)"
                " VALUES (1, '张伟', 'A', 1, true, 'zhangwei', '13800000001', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
        )
        await connection.execute(
            text(
                "INSERT INTO submission (id, unit_id, period, version, text, attachments, is_supplement, person_id,"
                " received_at, on_time) VALUES (1, 1, '2026-10', 1, '十月进展', :attachments, false, 1,"
                " '2026-11-20 02:00:00', true)"
            ),
            {"attachments": '[{"kind": "file", "media_id": "M1", "name": "a.docx"}]'},
        )


async def _upgrade_from_previous(url: str) -> None:
    await asyncio.to_thread(migrate.upgrade, url, PREVIOUS)
    db = Database(url)
    try:
        await _seed_previous(db)
    finally:
        await db.close()
    await asyncio.to_thread(migrate.upgrade, url, FILES)
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            kept = (await connection.execute(text("SELECT text, attachments FROM submission"))).one()
            files = (await connection.execute(text("SELECT count(*) FROM stored_file"))).scalar()
            await connection.execute(text("SELECT sha256, seq, data FROM blob_chunk"))
        assert kept[0] == "十月进展" and "M1" in str(kept[1])
        assert files == 0
        assert (await migrate.schema_state(db)).current == FILES
    finally:
        await db.close()
    await asyncio.to_thread(migrate.downgrade, url, PREVIOUS)
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            assert (await connection.execute(text("SELECT count(*) FROM submission"))).scalar() == 1
    finally:
        await db.close()


async def test_files_migration_on_a_previous_sqlite_database(tmp_path: Path) -> None:
    await _upgrade_from_previous(f"sqlite+aiosqlite:///{tmp_path / 'previous.db'}")


@pytest.mark.postgres
async def test_files_migration_on_a_previous_postgres_database(empty_pg_url: str) -> None:
    await _upgrade_from_previous(empty_pg_url)
