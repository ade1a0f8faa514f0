"""Migration 0013 (outbox rows carry a file) on a database made by 0012 with queued and sent rows, and back."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.migration_kit import current_revision, downgrade, transaction, upgrade

PREVIOUS = "0012"
FILES = "0013"
DIGEST = "a" * 64


async def _seed_previous(connection: AsyncConnection) -> None:
    """A sent row and a pending one as 0012 knew them (no file columns), the sandbox line of the sent one, and a
    stored blob."""
    for outbox_id, state in ((1, "sent"), (2, "pending")):
        await connection.execute(
            text(
                "INSERT INTO outbox (id, channel, target, rate_key, address, message, origin, state, attempts,"
                " parts_sent, due_at, created_at) VALUES (:id, 'wecom_app', 'zhaomin', 'wecom_app:zhaomin',"
                ' \'{"touser": "zhaomin"}\', \'{"body": "已生成"}\', \'reply\', :state, 0, 0,'
                " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"id": outbox_id, "state": state},
        )
    # The sandbox's transcript points at outbox rows: rebuilding the table must not trip their foreign key.
    await connection.execute(
        text(
            "INSERT INTO sandbox_message (id, chat, text, mentions, outbox_id, at) VALUES (1, '工作群',"
            " '已生成', '[]', 1, CURRENT_TIMESTAMP)"
        )
    )
    await connection.execute(
        text("INSERT INTO blob (sha256, size, backend, created_at) VALUES (:d, 12, 'directory', CURRENT_TIMESTAMP)"),
        {"d": DIGEST},
    )


async def test_outbox_files_migration_on_a_database_of_the_previous_revision(migration_url: str) -> None:
    await upgrade(migration_url, PREVIOUS)
    async with transaction(migration_url) as connection:
        await _seed_previous(connection)
    await upgrade(migration_url, FILES)
    async with transaction(migration_url) as connection:
        kept = await connection.execute(
            text("SELECT id, state, file_sha256, file_name, media_id, media_uploaded_at FROM outbox ORDER BY id")
        )
        assert [tuple(row) for row in kept] == [
            (1, "sent", None, None, None, None),
            (2, "pending", None, None, None, None),
        ]
        transcript = await connection.execute(text("SELECT id, outbox_id FROM sandbox_message"))
        assert [tuple(row) for row in transcript] == [(1, 1)]
        await connection.execute(
            text(
                "UPDATE outbox SET file_sha256 = :d, file_name = '月度通报-2026-10.docx', media_id = 'm1' WHERE id = 2"
            ),
            {"d": DIGEST},
        )
    with pytest.raises(IntegrityError):  # the file must be in the blob store
        async with transaction(migration_url) as connection:
            await connection.execute(text("UPDATE outbox SET file_sha256 = :d WHERE id = 1"), {"d": "b" * 64})
    assert await current_revision(migration_url) == FILES
    await downgrade(migration_url, PREVIOUS)
    async with transaction(migration_url) as connection:
        rows = (await connection.execute(text("SELECT id, state, message FROM outbox ORDER BY id"))).all()
    assert [(row[0], row[1]) for row in rows] == [(1, "sent"), (2, "pending")]
