"""A connection reset after the request went out: the platform may have posted the message, so the row is
uncertain (the office decides), never sent a second time on its own; a reset while connecting is retried."""

from __future__ import annotations

from bot.config import GroupConfig
from bot.outbound.dispatcher import drain_once
from storage.db import Database
from storage.models import OutboxState
from storage.outbound import OutboundMessage
from tests.fakes import FakePlatforms, Reset
from tests.outbound_kit import FAST, OFFICE, context, queue, row, sandbox_messages, settings_for


async def test_a_reset_after_the_platform_posted_is_uncertain_and_never_repeated(
    db: Database, fake_platforms: FakePlatforms
) -> None:
    webhook = fake_platforms.wecom.add_robot("k1")
    fake_platforms.wecom.script("k1", Reset(deliver=True))
    ctx = await context(
        db, settings_for(fake_platforms, [GroupConfig(name="甲群", platform="wecom", webhook=webhook), OFFICE])
    )
    [outbox_id] = await queue(db, "甲群", OutboundMessage(body="关键通知"))
    await drain_once(ctx, options=FAST)
    reset = await row(db, outbox_id)
    assert reset.state is OutboxState.UNCERTAIN
    await drain_once(ctx, options=FAST)
    assert len(fake_platforms.wecom.delivered("k1")) == 1  # posted once, by the request that was reset
    assert len(fake_platforms.wecom.log) == 1  # and never asked again
    [told] = await sandbox_messages(db, "办公室")
    assert f"编号 {outbox_id}" in told.text


async def test_a_refused_connection_is_retried(db: Database, fake_platforms: FakePlatforms) -> None:
    """Nothing was sent when the connection could not even be made: the row waits and goes again."""
    closed = "http://127.0.0.1:9/cgi-bin/webhook/send?key=k1"  # the discard port: nothing listens
    ctx = await context(db, settings_for(fake_platforms, [GroupConfig(name="甲群", platform="wecom", webhook=closed)]))
    [outbox_id] = await queue(db, "甲群", OutboundMessage(body="一"))
    await drain_once(ctx, options=FAST)
    refused = await row(db, outbox_id)
    assert refused.state is OutboxState.PENDING and refused.attempts == 1
    assert "网络连接失败" in (refused.last_error or "")
