"""Several instances starting at once on one database each mirror the configured groups: all must start."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.config import GroupConfig
from storage.db import Database
from storage.models import Group
from storage.sync import sync_groups

GROUPS = [GroupConfig(name=f"成员单位群{n}", platform="sandbox") for n in range(20)] + [
    GroupConfig(name="办公室", platform="sandbox", office=True)
]


async def test_instances_syncing_groups_at_once_all_succeed(db: Database) -> None:
    instances = [Database(db.url) for _ in range(4)]  # each its own connections, as separate processes have
    try:
        await asyncio.gather(*(sync_groups(instance, GROUPS) for instance in instances))
    finally:
        for instance in instances:
            await instance.close()
    async with db.sessions() as session:
        names = list((await session.scalars(select(Group.name).order_by(Group.id))).all())
    assert sorted(names) == sorted(group.name for group in GROUPS)
