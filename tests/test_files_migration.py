"""Migration 0007 (stored files and blobs) on a database made by 0006 with reports in it, and back."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.migration_kit import COMMERCE, current_revision, downgrade, transaction, upgrade

PREVIOUS = "0006"
FILES = "0007"


async def _seed_previous(connection: AsyncConnection) -> None:
    """Rows as 0001 knew them: a unit, a liaison, a message with an attachment and a version holding it."""
    await connection.execute(text(COMMERCE))
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


async def test_files_migration_on_a_database_of_the_previous_revision(migration_url: str) -> None:
    await upgrade(migration_url, PREVIOUS)
    async with transaction(migration_url) as connection:
        await _seed_previous(connection)
    await upgrade(migration_url, FILES)
    async with transaction(migration_url) as connection:
        kept = (await connection.execute(text("SELECT text, attachments FROM submission"))).one()
        files = (await connection.execute(text("SELECT count(*) FROM stored_file"))).scalar()
        await connection.execute(text("SELECT sha256, seq, data FROM blob_chunk"))
    assert kept[0] == "十月进展" and "M1" in str(kept[1])
    assert files == 0
    assert await current_revision(migration_url) == FILES
    await downgrade(migration_url, PREVIOUS)
    async with transaction(migration_url) as connection:
        assert (await connection.execute(text("SELECT count(*) FROM submission"))).scalar() == 1
