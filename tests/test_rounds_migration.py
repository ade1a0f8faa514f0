"""Migration 0009 (rounds) on a database made by the previous head, with reports and people in it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from storage import migrate
from storage.db import Database

PREVIOUS = "0008"


async def test_rounds_migrate_up_and_down_over_existing_data(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'previous.db'}"
    await asyncio.to_thread(migrate.upgrade, url, PREVIOUS)
    db = Database(url)
    now = datetime(2026, 11, 20, 2, tzinfo=UTC).isoformat()
    try:
        async with db.engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO unit (id, name, division, active, created_at, updated_at)"
                    " VALUES (1, '省商务厅', '', 1, :t, :t)"
                ),
                {"t": now},
            )
            await connection.execute(
                text(
                    "INSERT INTO submission (unit_id, period, version, text, attachments, is_supplement, received_at,"
                    " on_time) VALUES (1, '2026-10', 1, '十月工作进展', '[]', 0, :t, 1)"
                ),
                {"t": now},
            )
        await asyncio.to_thread(migrate.upgrade, url)
        assert (await migrate.schema_state(db)).up_to_date
        async with db.engine.begin() as connection:
            assert (await connection.execute(text("SELECT text FROM submission"))).scalar() == "十月工作进展"
            await connection.execute(
                text(
                    'INSERT INTO round (id, kind, title, instructions, fields, "group", deadline, state, code,'
                    " created_at) VALUES (91, 'collection', '联系人', '', '[\"姓名\"]', '', :t, 'open', 'K7Q2', :t)"
                ),
                {"t": now},
            )
            await connection.execute(
                text(
                    'INSERT INTO round_answer (round_id, unit_id, version, text, "values", parsed, late, received_at)'
                    " VALUES (91, 1, 1, '姓名：张三', '{\"姓名\": \"张三\"}', 1, 0, :t)"
                ),
                {"t": now},
            )
        await asyncio.to_thread(migrate.downgrade, url, PREVIOUS)
        async with db.engine.connect() as connection:
            tables = {row[0] for row in await connection.execute(text("SELECT name FROM sqlite_master"))}
            assert "round" not in tables and "round_answer" not in tables
            assert (await connection.execute(text("SELECT count(*) FROM submission"))).scalar() == 1
    finally:
        await db.close()
