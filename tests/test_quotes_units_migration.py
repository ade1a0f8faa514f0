"""Migration 0012 (inbox.quoted, round.units) on a database made by 0011 with messages and a round in it, and back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text

from storage import migrate
from storage.db import Database

PREVIOUS = "0011"
THIS = "0012"


async def _seed_previous(db: Database) -> None:
    """A unit, a stored message and an open round with one answer, as 0011 knew them."""
    async with db.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO unit (id, name, division, active, created_at, updated_at)"
                " VALUES (1, '省商务厅', '外贸处', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
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


async def _up_and_down(url: str) -> None:
    await asyncio.to_thread(migrate.upgrade, url, PREVIOUS)
    db = Database(url)
    try:
        await _seed_previous(db)
    finally:
        await db.close()
    await asyncio.to_thread(migrate.upgrade, url, THIS)
    db = Database(url)
    try:
        assert (await migrate.schema_state(db)).current == THIS
        async with db.engine.begin() as connection:
            assert (await connection.execute(text("SELECT text, quoted FROM inbox"))).one() == ("#1 张三", "")
            units = (await connection.execute(text("SELECT title, units FROM round"))).one()
            assert units[0] == "联系人" and units[1] in ([], "[]")
            await connection.execute(text("UPDATE inbox SET quoted = '征集#1：联系人' WHERE id = 1"))
            await connection.execute(text("UPDATE round SET units = '[1]' WHERE id = 1"))
            assert (await connection.execute(text("SELECT count(*) FROM round_answer"))).scalar() == 1
    finally:
        await db.close()
    await asyncio.to_thread(migrate.downgrade, url, PREVIOUS)
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            assert (await connection.execute(text("SELECT text FROM inbox"))).scalar() == "#1 张三"
            assert (await connection.execute(text("SELECT title FROM round"))).scalar() == "联系人"
    finally:
        await db.close()


async def test_the_migration_on_a_previous_sqlite_database(tmp_path: Path) -> None:
    await _up_and_down(f"sqlite+aiosqlite:///{tmp_path / 'previous.db'}")


@pytest.mark.postgres
async def test_the_migration_on_a_previous_postgres_database(empty_pg_url: str) -> None:
    await _up_and_down(empty_pg_url)
