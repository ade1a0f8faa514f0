"""Migration 0010 (person.feishu_userid) on a database made by 0009 with people in it, and back."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from tests.migration_kit import COMMERCE, current_revision, downgrade, transaction, upgrade

PREVIOUS = "0009"
FEISHU = "0010"


async def _seed_previous(connection: AsyncConnection) -> None:
    """A unit and its two liaisons as 0009 knew them (no Feishu column)."""
    await connection.execute(text(COMMERCE))
    for person_id, name, role, wecom in ((1, "李娜", "A", "lina"), (2, "王强", "B", "wangq")):
        await connection.execute(
            text(
                "INSERT INTO person (id, name, role, unit_id, active, wecom_userid, created_at, updated_at)"
                " VALUES (:id, :name, :role, 1, true, :wecom, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            ),
            {"id": person_id, "name": name, "role": role, "wecom": wecom},
        )


async def test_feishu_account_migration_on_a_database_of_the_previous_revision(migration_url: str) -> None:
    await upgrade(migration_url, PREVIOUS)
    async with transaction(migration_url) as connection:
        await _seed_previous(connection)
    await upgrade(migration_url, FEISHU)
    async with transaction(migration_url) as connection:
        kept = await connection.execute(text("SELECT name, wecom_userid, feishu_userid FROM person ORDER BY id"))
        assert [tuple(row) for row in kept] == [("李娜", "lina", None), ("王强", "wangq", None)]
        await connection.execute(text("UPDATE person SET feishu_userid = 'lina01' WHERE id = 1"))
    with pytest.raises(IntegrityError):  # unique, like the WeCom and DingTalk ids
        async with transaction(migration_url) as connection:
            await connection.execute(text("UPDATE person SET feishu_userid = 'lina01' WHERE id = 2"))
    assert await current_revision(migration_url) == FEISHU
    await downgrade(migration_url, PREVIOUS)
    async with transaction(migration_url) as connection:
        names = (await connection.execute(text("SELECT name, wecom_userid FROM person ORDER BY id"))).all()
    assert [tuple(row) for row in names] == [("李娜", "lina"), ("王强", "wangq")]
