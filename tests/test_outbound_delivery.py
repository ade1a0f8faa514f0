"""End-to-end delivery against the fake platforms: each channel, retries, permanent failures, alerts."""

from __future__ import annotations

from bot.config import GroupConfig
from bot.outbound.dispatcher import drain_once
from storage.db import Database
from storage.models import OutboxState
from storage.outbound import OutboundMessage
from tests.fakes import FakePlatforms
from tests.outbound_kit import FAST, OFFICE, context, queue, row, settings_for


async def test_wecom_group_message_is_delivered_once(db: Database, fake_platforms: FakePlatforms) -> None:
    webhook = fake_platforms.wecom.add_robot("k1")
    settings = settings_for(fake_platforms, [GroupConfig(name="甲群", platform="wecom", webhook=webhook), OFFICE])
    ctx = await context(db, settings)
    [outbox_id] = await queue(db, "甲群", OutboundMessage(title="通知", body="**请注意**\n- 第一项"))
    assert await drain_once(ctx, options=FAST) == 1
    delivered = fake_platforms.wecom.delivered("k1")
    assert len(delivered) == 1
    assert delivered[0].payload["markdown"]["content"] == "**通知**\n**请注意**\n- 第一项"
    sent = await row(db, outbox_id)
    assert sent.state is OutboxState.SENT
    assert sent.attempts == 1
    assert sent.parts_sent == 1
