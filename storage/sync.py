"""Mirror the configured groups (``[[groups]]``) into the database, where the roster and outbox refer to them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import select, text

from storage.db import Database
from storage.models import Group


class GroupSpec(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def platform(self) -> str: ...
    @property
    def webhook(self) -> str: ...
    @property
    def chat_id(self) -> str: ...
    @property
    def office(self) -> bool: ...


async def sync_groups(db: Database, specs: Sequence[GroupSpec]) -> None:
    """Insert or update every configured group; groups no longer configured are deactivated, not deleted.

    Instances that start together each run this: on PostgreSQL they take turns under an advisory lock (else two
    would insert the same new group and one would fail to start); SQLite serialises write transactions anyway.
    """
    async with db.transaction() as session:
        if db.dialect == "postgresql":
            await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended('duban.groups', 0))"))
        existing = {group.name: group for group in (await session.scalars(select(Group))).all()}
        configured = set()
        for spec in specs:
            configured.add(spec.name)
            group = existing.get(spec.name)
            if group is None:
                group = Group(name=spec.name)
                session.add(group)
            group.platform = spec.platform
            group.webhook = spec.webhook
            group.chat_id = spec.chat_id
            group.is_office = spec.office
            group.active = True
        for name, group in existing.items():
            if name not in configured:
                group.active = False
