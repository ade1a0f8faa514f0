"""Rate limits: bursts are paced from the send log, never refused by the platform, across restarts too.

Time is frozen (``time_machine``); the fakes' windows read the same clock, so a minute passes when the test
moves the clock to the moment the limiter said a slot frees.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from bot.config import GroupConfig
from bot.context import AppContext
from bot.outbound.dispatcher import drain_once
from storage.db import Database
from storage.inbox import ReplyRoute
from storage.models import InboxMessage, OutboxState
from storage.outbound import OutboundMessage, enqueue_reply
from tests.fakes import FakePlatforms
from tests.outbound_kit import FAST, context, queue, rows, settings_for

START = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


async def drain_paced(ctx: AppContext, clock: time_machine.Traveller, *, rounds_max: int = 50) -> int:
    """Drain, then jump to the next due row, until nothing is pending; returns the number of rounds."""
    for rounds in range(1, rounds_max + 1):
        await drain_once(ctx, options=FAST)
        pending = await rows(ctx.db, state=OutboxState.PENDING)
        if not pending:
            return rounds
        clock.move_to(min(row.due_at for row in pending))
    raise AssertionError("still pending after many rounds")


async def test_hundred_messages_to_one_wecom_robot_without_a_single_45009(
    db: Database, fake_platforms: FakePlatforms
) -> None:
    webhook = fake_platforms.wecom.add_robot("k1")
    ctx = await context(db, settings_for(fake_platforms, [GroupConfig(name="甲群", platform="wecom", webhook=webhook)]))
    with time_machine.travel(START, tick=False) as clock:
        await queue(db, "甲群", *(OutboundMessage(body=f"第{i:03d}条") for i in range(100)))
        assert await drain_once(ctx, options=FAST) == 20  # the first minute's budget, at once
        rounds = await drain_paced(ctx, clock)
        elapsed = datetime.now(UTC) - START
    assert fake_platforms.wecom.errcodes() == []
    contents = [e.payload["markdown"]["content"] for e in fake_platforms.wecom.delivered("k1")]
    assert contents == [f"第{i:03d}条" for i in range(100)]
    assert fake_platforms.wecom.robots["k1"].window.peak == 20
    assert rounds == 5
    assert timedelta(minutes=4) < elapsed < timedelta(minutes=4, seconds=20)  # 4 waits of 60 s plus the margin


async def test_dingtalk_robot_is_never_blocked(db: Database, fake_platforms: FakePlatforms) -> None:
    webhook = fake_platforms.dingtalk.add_robot("t1", secret="SECx")
    group = GroupConfig(name="乙群", platform="dingtalk", webhook=webhook, secret="SECx")
    ctx = await context(db, settings_for(fake_platforms, [group]))
    with time_machine.travel(START, tick=False) as clock:
        await queue(db, "乙群", *(OutboundMessage(body=f"第{i}条") for i in range(45)))
        await drain_paced(ctx, clock)
    assert fake_platforms.dingtalk.errcodes() == []
    assert fake_platforms.dingtalk.robots["t1"].blocks == 0
    assert len(fake_platforms.dingtalk.delivered("t1")) == 45


async def test_feishu_five_per_second(db: Database, fake_platforms: FakePlatforms) -> None:
    group = GroupConfig(name="丙群", platform="feishu", webhook=fake_platforms.feishu.add_bot("f1"))
    ctx = await context(db, settings_for(fake_platforms, [group]))
    with time_machine.travel(START, tick=False) as clock:
        await queue(db, "丙群", *(OutboundMessage(body=f"第{i}条") for i in range(12)))
        assert await drain_once(ctx, options=FAST) == 5
        await drain_paced(ctx, clock)
    assert fake_platforms.feishu.errcodes() == []
    assert fake_platforms.feishu.bots["f1"].per_second.peak == 5
    assert len(fake_platforms.feishu.delivered("f1")) == 12


async def test_the_limit_holds_across_a_restart(db: Database, fake_platforms: FakePlatforms) -> None:
    webhook = fake_platforms.wecom.add_robot("k1")
    settings = settings_for(fake_platforms, [GroupConfig(name="甲群", platform="wecom", webhook=webhook)])
    before = await context(db, settings, instance="host-a:1:aaaaaa")
    with time_machine.travel(START, tick=False) as clock:
        await queue(db, "甲群", *(OutboundMessage(body=f"第{i}条") for i in range(25)))
        assert await drain_once(before, options=FAST) == 20
        clock.shift(timedelta(seconds=30))
        after = AppContext(settings=settings, db=db, instance_id="host-b:2:bbbbbb")  # the service restarted
        assert await drain_once(after, options=FAST) == 0  # the log remembers the minute's 20
        waiting = await rows(db, state=OutboxState.PENDING)
        assert len(waiting) == 5
        assert all(row.due_at >= START + timedelta(seconds=60) for row in waiting)
        clock.move_to(waiting[0].due_at)
        assert await drain_once(after, options=FAST) == 5
    assert fake_platforms.wecom.errcodes() == []


async def test_group_rate_override(db: Database, fake_platforms: FakePlatforms) -> None:
    webhook = fake_platforms.wecom.add_robot("k1")
    group = GroupConfig(name="甲群", platform="wecom", webhook=webhook, rate_per_minute=5)
    ctx = await context(db, settings_for(fake_platforms, [group]))
    with time_machine.travel(START, tick=False):
        await queue(db, "甲群", *(OutboundMessage(body=f"第{i}条") for i in range(8)))
        assert await drain_once(ctx, options=FAST) == 5


async def test_replies_do_not_spend_the_group_robots_budget(db: Database, fake_platforms: FakePlatforms) -> None:
    webhook = fake_platforms.wecom.add_robot("k1")
    ctx = await context(db, settings_for(fake_platforms, [GroupConfig(name="甲群", platform="wecom", webhook=webhook)]))
    url, expiry = fake_platforms.dingtalk.new_session()
    with time_machine.travel(START, tick=False):
        await queue(db, "甲群", *(OutboundMessage(body=f"第{i}条") for i in range(25)))
        route = ReplyRoute("dingtalk_session", "张三", "dingtalk_session:c1", {"url": url, "expires_at_ms": expiry})
        async with db.transaction() as session:
            inbox = InboxMessage(
                platform="dingtalk", channel="dingtalk_bot", message_id="m1", sender_id="u1", reply=route.as_dict()
            )
            session.add(inbox)
            await session.flush()
            enqueue_reply(session, inbox, OutboundMessage(body="已收到。"))
        assert await drain_once(ctx, options=FAST) == 21  # the robot's 20 and the reply
    assert len(fake_platforms.dingtalk.delivered()) == 1
