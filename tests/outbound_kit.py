"""Shared by the outbound tests: settings pointing at the fake platforms, a context, and queue helpers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from bot.config import DingtalkConfig, FeishuConfig, GroupConfig, Settings, WecomAppConfig, WecomConfig
from bot.context import AppContext
from bot.outbound.dispatcher import DispatchOptions
from storage.db import Database
from storage.models import Group, OutboxMessage, OutboxState, SandboxMessage
from storage.outbound import OutboundMessage, enqueue_to_group
from storage.sync import sync_groups
from tests.fakes import FakePlatforms

FAST = DispatchOptions(retry_base=5.0, read_timeout=5.0)
OFFICE = GroupConfig(name="办公室", platform="sandbox", office=True)


def settings_for(fakes: FakePlatforms | None, groups: Sequence[GroupConfig], **extra: Any) -> Settings:
    base = fakes.url if fakes is not None else "http://127.0.0.1:9"
    app = WecomAppConfig(corp_id="wwfakecorp", agent_id=1000002, secret="fake-app-secret")
    return Settings(
        wecom=WecomConfig(api_base=base, app=app),
        dingtalk=DingtalkConfig(api_base=base),
        feishu=FeishuConfig(api_base=base),
        groups=list(groups),
        **extra,
    )


async def context(db: Database, settings: Settings, instance: str = "test-host:1:aaaaaa") -> AppContext:
    await sync_groups(db, settings.groups)
    return AppContext(settings=settings, db=db, instance_id=instance)


async def queue(db: Database, group_name: str, *messages: OutboundMessage, origin: str = "test") -> list[int]:
    async with db.transaction() as session:
        group = (await session.scalars(select(Group).where(Group.name == group_name))).one()
        rows = [enqueue_to_group(session, group, message, origin=origin) for message in messages]
        await session.flush()
        return [row.id for row in rows]


async def rows(db: Database, *, state: OutboxState | None = None) -> list[OutboxMessage]:
    async with db.sessions() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if state is not None:
            query = query.where(OutboxMessage.state == state)
        return list((await session.scalars(query)).all())


async def row(db: Database, outbox_id: int) -> OutboxMessage:
    async with db.sessions() as session:
        found = await session.get(OutboxMessage, outbox_id)
        assert found is not None
        return found


async def sandbox_messages(db: Database, chat: str | None = None) -> list[SandboxMessage]:
    async with db.sessions() as session:
        query = select(SandboxMessage).order_by(SandboxMessage.id)
        if chat is not None:
            query = query.where(SandboxMessage.chat == chat)
        return list((await session.scalars(query)).all())
