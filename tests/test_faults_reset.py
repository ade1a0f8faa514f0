"""A connection reset after the request went out: the platform may have posted the message, so the row is
uncertain (the office decides), never sent a second time on its own; a reset while connecting is retried."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import update

from bot.config import GroupConfig
from bot.outbound.dispatcher import drain_once
from storage.db import Database
from storage.inbox import ReplyRoute
from storage.models import InboxMessage, OutboxMessage, OutboxState
from storage.outbound import OutboundMessage, enqueue_reply
from tests.fakes import FakePlatforms, Reset, Stall
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


async def _app_reply(db: Database, body: str) -> int:
    """A reply by WeCom application message to member zhangsan."""
    async with db.transaction() as session:
        route = ReplyRoute("wecom_app", "张三", "wecom_app:zhangsan", {"touser": "zhangsan"})
        inbox = InboxMessage(
            platform="wecom", channel="wecom_app", message_id="m1", sender_id="zhangsan", reply=route.as_dict()
        )
        session.add(inbox)
        await session.flush()
        reply = enqueue_reply(session, inbox, OutboundMessage(body=body))
        await session.flush()
        return reply.id


async def test_an_unanswered_token_request_is_retried_for_nothing_was_sent(
    db: Database, fake_platforms: FakePlatforms
) -> None:
    """Only the access-token request went unanswered: the message itself never left, so it is tried again rather
    than reported as possibly delivered."""
    fake_platforms.wecom.members.add("zhangsan")
    fake_platforms.wecom.script("wwfakecorp", Stall(deliver=False, seconds=2.0))
    ctx = await context(db, settings_for(fake_platforms, [OFFICE]))
    outbox_id = await _app_reply(db, "已收到。")
    await drain_once(ctx, options=replace(FAST, read_timeout=0.5))
    waiting = await row(db, outbox_id)
    assert waiting.state is OutboxState.PENDING, waiting.last_error
    assert "访问令牌" in (waiting.last_error or "")
    async with db.transaction() as session:  # its back-off has passed
        await session.execute(update(OutboxMessage).values(due_at=datetime.now(UTC)))
    await drain_once(ctx, options=FAST)
    assert (await row(db, outbox_id)).state is OutboxState.SENT
    assert len(fake_platforms.wecom.delivered("zhangsan")) == 1
