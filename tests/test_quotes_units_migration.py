"""Migration 0012 (inbox.quoted, round.units) on a database made by 0011 with messages and a round in it, and back."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.migration_kit import COMMERCE, current_revision, downgrade, transaction, upgrade

PREVIOUS = "0011"
THIS = "0012"


async def _seed_previous(connection: AsyncConnection) -> None:
    """A unit, a stored message and an open round with one answer, as 0011 knew them."""
    await connection.execute(text(COMMERCE))
    await connection.execute(
        text(
            "INSERT INTO inbox (id, platform, channel, message_id, sender_id, sender_name, chat_id, chat_type,"
            " msgtype, text, attachments, reply, raw, received_at, state, attempts) VALUES (1, 'wecom',"
            " 'wecom_bot', 'm1', 'lina', '', 'g1', 'group', 'text', '#1 张三', '[]', '{}', '{}',"
            " CURRENT_TIMESTAMP, 'done', 1)"
        )
    )
    await connection.execute(
        text(
            'INSERT INTO round (id, kind, title, instructions, fields, "group", deadline, state, code,'
            " created_at) VALUES (1, 'collection', '联系人', '', '[\"姓名\"]', '', CURRENT_TIMESTAMP, 'open',"
            " 'K7Q2', CURRENT_TIMESTAMP)"
        )
    )
    await connection.execute(
        text(
            'INSERT INTO round_answer (round_id, unit_id, version, text, "values", parsed, late, inbox_id,'
            " received_at) VALUES (1, 1, 1, '张三', '{\"姓名\": \"张三\"}', true, false, 1, CURRENT_TIMESTAMP)"
        )
    )


async def test_the_migration_on_a_database_of_the_previous_revision(migration_url: str) -> None:
    await upgrade(migration_url, PREVIOUS)
    async with transaction(migration_url) as connection:
        await _seed_previous(connection)
    await upgrade(migration_url, THIS)
    assert await current_revision(migration_url) == THIS
    async with transaction(migration_url) as connection:
        assert (await connection.execute(text("SELECT text, quoted FROM inbox"))).one() == ("#1 张三", "")
        units = (await connection.execute(text("SELECT title, units FROM round"))).one()
        assert units[0] == "联系人" and units[1] in ([], "[]")
        await connection.execute(text("UPDATE inbox SET quoted = '征集#1：联系人' WHERE id = 1"))
        await connection.execute(text("UPDATE round SET units = '[1]' WHERE id = 1"))
        assert (await connection.execute(text("SELECT count(*) FROM round_answer"))).scalar() == 1
    await downgrade(migration_url, PREVIOUS)
    async with transaction(migration_url) as connection:
        assert (await connection.execute(text("SELECT text FROM inbox"))).scalar() == "#1 张三"
        assert (await connection.execute(text("SELECT title FROM round"))).scalar() == "联系人"
