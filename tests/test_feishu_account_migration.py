"""Migration 0010 (person.feishu_userid) on a database made by 0009 with people in it, and back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage import migrate
from storage.db import Database

PREVIOUS = "0009"
FEISHU = "0010"


async def _seed_previous(db: Database) -> None:
    """A unit and its two liaisons as 0009 knew them (no Feishu column)."""
    async with db.engine.begin() as connection:
        await connection.execute(
            text(
                "INSERT INTO unit (id, name, division, active, created_at, updated_at)"
                " VALUES (1, '省商务厅', '外贸处', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
        )
        for person_id, name, role, wecom in ((1, "李娜", "A", "lina"), (2, "王强", "B", "wangq")):
            await connection.execute(
                text(
                    "INSERT INTO person (id, name, role, unit_id, active, wecom_userid, created_at, updated_at)"
                    " VALUES (:id, :name, :role, 1, true, :wecom, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"id": person_id, "name": name, "role": role, "wecom": wecom},
            )


async def _upgrade_from_previous(url: str) -> None:
    await asyncio.to_thread(migrate.upgrade, url, PREVIOUS)
    db = Database(url)
    try:
        await _seed_previous(db)
    finally:
        await db.close()
    await asyncio.to_thread(migrate.upgrade, url, FEISHU)
    db = Database(url)
    try:
        async with db.engine.begin() as connection:
            kept = await connection.execute(text("SELECT name, wecom_userid, feishu_userid FROM person ORDER BY id"))
            assert [tuple(row) for row in kept] == [("李娜", "lina", None), ("王强", "wangq", None)]
            await connection.execute(text("UPDATE person SET feishu_userid = 'lina01' WHERE id = 1"))
        with pytest.raises(IntegrityError):  # unique, like the WeCom and DingTalk ids
            async with db.engine.begin() as connection:
                await connection.execute(text("UPDATE person SET feishu_userid = 'lina01' WHERE id = 2"))
        assert (await migrate.schema_state(db)).current == FEISHU
    finally:
        await db.close()
    await asyncio.to_thread(migrate.downgrade, url, PREVIOUS)
    db = Database(url)
    try:
        async with db.engine.connect() as connection:
            names = (await connection.execute(text("SELECT name, wecom_userid FROM person ORDER BY id"))).all()
            assert [tuple(row) for row in names] == [("李娜", "lina"), ("王强", "wangq")]
    finally:
        await db.close()


async def test_feishu_account_migration_on_a_previous_sqlite_database(tmp_path: Path) -> None:
    await _upgrade_from_previous(f"sqlite+aiosqlite:///{tmp_path / 'previous.db'}")


@pytest.mark.postgres
async def test_feishu_account_migration_on_a_previous_postgres_database(empty_pg_url: str) -> None:
    await _upgrade_from_previous(empty_pg_url)
