"""Migration 0011 (meeting) on a database made by the previous head, holding a meeting round posted by chat."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from storage import migrate
from storage.db import Database

PREVIOUS = "0010"
INSTRUCTIONS = "时间：1月6日（周三）15:00\n地点：市政府1号楼第三会议室\n参会：各成员单位分管负责同志"


async def test_meeting_rounds_get_their_meeting_read_back_and_lose_it_on_downgrade(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'previous.db'}"
    await asyncio.to_thread(migrate.upgrade, url, PREVIOUS)
    db = Database(url)
    now = datetime(2026, 12, 30, 2, tzinfo=UTC).isoformat()
    due = datetime(2027, 1, 5, 10, tzinfo=UTC).isoformat()  # 1月5日 18:00 in Shanghai: the meeting is in 2027
    try:
        async with db.engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO unit (id, name, division, active, created_at, updated_at)"
                    " VALUES (1, '省商务厅', '', 1, :t, :t)"
                ),
                {"t": now},
            )
            for id_, kind, instructions in ((1, "meeting", INSTRUCTIONS), (2, "collection", "请报送联系人")):
                await connection.execute(
                    text(
                        'INSERT INTO round (id, kind, title, instructions, fields, "group", deadline, state, code,'
                        " created_at) VALUES (:id, :kind, '周会商', :instructions, '[]', '', :due, 'open', :code, :t)"
                    ),
                    {"id": id_, "kind": kind, "instructions": instructions, "due": due, "code": f"K7Q{id_}", "t": now},
                )
            await connection.execute(
                text(
                    'INSERT INTO round_answer (round_id, unit_id, version, text, "values", parsed, late, received_at)'
                    " VALUES (1, 1, 1, '参会人员：张三', '{\"参会人员\": \"张三\"}', 1, 0, :t)"
                ),
                {"t": now},
            )
        await asyncio.to_thread(migrate.upgrade, url)
        assert (await migrate.schema_state(db)).up_to_date
        async with db.engine.connect() as connection:
            rows = (await connection.execute(text("SELECT * FROM meeting"))).mappings().all()
            assert [dict(row) for row in rows] == [
                {
                    "round_id": 1,
                    "starts_at": "2027-01-06 07:00:00.000000",
                    "place": "市政府1号楼第三会议室",
                    "attendees": "各成员单位分管负责同志",
                    "series": None,
                    "nominal": None,
                }
            ]
            assert (await connection.execute(text("SELECT count(*) FROM round_answer"))).scalar() == 1
        await asyncio.to_thread(migrate.downgrade, url, PREVIOUS)
        async with db.engine.connect() as connection:
            tables = {row[0] for row in await connection.execute(text("SELECT name FROM sqlite_master"))}
            assert "meeting" not in tables
            assert (await connection.execute(text("SELECT instructions FROM round WHERE id = 1"))).scalar() == (
                INSTRUCTIONS
            )
    finally:
        await db.close()
