"""End-to-end delivery against the fake platforms: each channel, retries, permanent failures, office alerts."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from bot.config import GroupConfig
from bot.context import AppContext
from bot.outbound.dispatcher import Pump, dispatcher, drain_once, http_session
from storage.db import Database
from storage.inbox import ReplyRoute
from storage.models import InboxMessage, OutboxMessage, OutboxState
from storage.outbound import Mention, OutboundMessage, enqueue_reply
from tests.fakes import FakePlatforms, Pass, Reply
from tests.outbound_kit import FAST, OFFICE, context, queue, row, rows, sandbox_messages, settings_for

START = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
LONG = "\n".join(f"第{i}段：" + "各成员单位按照职责分工认真抓好落实。" * 8 for i in range(40))


async def office_alerts(db: Database) -> list[OutboxMessage]:
    return [r for r in await rows(db) if r.origin == "alert"]


async def test_wecom_group_message_is_delivered_once(db: Database, fake_platforms: FakePlatforms) -> None:
    webhook = fake_platforms.wecom.add_robot("k1")
    settings = settings_for(fake_platforms, [GroupConfig(name="甲群", platform="wecom", webhook=webhook), OFFICE])
    ctx = await context(db, settings)
    [outbox_id] = await queue(db, "甲群", OutboundMessage(title="通知", body="**请注意**\n- 第一项"))
    assert await drain_once(ctx, options=FAST) == 1
    [delivered] = fake_platforms.wecom.delivered("k1")
    assert delivered.payload["markdown"]["content"] == "**通知**\n**请注意**\n- 第一项"
    sent = await row(db, outbox_id)
    assert (sent.state, sent.attempts, sent.parts_sent) == (OutboxState.SENT, 1, 1)
    assert await drain_once(ctx, options=FAST) == 0
    assert len(fake_platforms.wecom.delivered()) == 1


async def test_a_bare_webhook_key_uses_the_configured_api_base(db: Database, fake_platforms: FakePlatforms) -> None:
    fake_platforms.wecom.add_robot("bare-key")
    settings = settings_for(fake_platforms, [GroupConfig(name="甲群", platform="wecom", webhook="bare-key")])
    ctx = await context(db, settings)
    await queue(db, "甲群", OutboundMessage(body="你好"))
    await drain_once(ctx, options=FAST)
    assert len(fake_platforms.wecom.delivered("bare-key")) == 1


async def test_dingtalk_signed_robot_with_keywords(db: Database, fake_platforms: FakePlatforms) -> None:
    webhook = fake_platforms.dingtalk.add_robot("t1", secret="SECabc", keywords=("督办",))
    group = GroupConfig(name="乙群", platform="dingtalk", webhook=webhook, secret="SECabc", keywords=["督办"])
    ctx = await context(db, settings_for(fake_platforms, [group]))
    mention = Mention(name="张三", person_id=1, dingtalk_userid="ding-zhang")
    await queue(db, "乙群", OutboundMessage(title="月报提醒", body="请按时报送。", mentions=[mention]))
    await drain_once(ctx, options=FAST)
    [delivered] = fake_platforms.dingtalk.delivered("t1")
    assert delivered.payload["at"]["atUserIds"] == ["ding-zhang"]
    assert "@ding-zhang" in delivered.payload["markdown"]["text"]
    assert fake_platforms.dingtalk.errcodes() == []


async def test_feishu_signed_bot(db: Database, fake_platforms: FakePlatforms) -> None:
    webhook = fake_platforms.feishu.add_bot("f1", secret="feishuSecret")
    group = GroupConfig(name="丙群", platform="feishu", webhook=webhook, secret="feishuSecret")
    ctx = await context(db, settings_for(fake_platforms, [group]))
    [outbox_id] = await queue(db, "丙群", OutboundMessage(title="周报", body="本周无异常。"))
    await drain_once(ctx, options=FAST)
    assert len(fake_platforms.feishu.delivered("f1")) == 1
    assert (await row(db, outbox_id)).state is OutboxState.SENT


async def test_retry_then_success(db: Database, fake_platforms: FakePlatforms) -> None:
    webhook = fake_platforms.wecom.add_robot("k1")
    fake_platforms.wecom.script("k1", Reply(status=502), Reply(errcode=45009, errmsg="api freq out of limit"))
    ctx = await context(db, settings_for(fake_platforms, [GroupConfig(name="甲群", platform="wecom", webhook=webhook)]))
    with time_machine.travel(START, tick=False) as clock:
        [outbox_id] = await queue(db, "甲群", OutboundMessage(body="请查收。"))
        assert await drain_once(ctx, options=FAST) == 0
        first = await row(db, outbox_id)
        assert (first.state, first.attempts, first.errcode) == (OutboxState.PENDING, 1, "http502")
        assert START + timedelta(seconds=2) <= first.due_at <= START + timedelta(seconds=5)
        clock.move_to(first.due_at)
        assert await drain_once(ctx, options=FAST) == 0
        second = await row(db, outbox_id)
        assert (second.state, second.attempts, second.errcode) == (OutboxState.PENDING, 2, "45009")
        assert second.due_at >= first.due_at + timedelta(seconds=65)  # the platform's wait, not ours
        clock.move_to(second.due_at)
        assert await drain_once(ctx, options=FAST) == 1
    done = await row(db, outbox_id)
    assert (done.state, done.attempts, done.errcode) == (OutboxState.SENT, 3, None)
    assert len(fake_platforms.wecom.delivered("k1")) == 1
    assert await office_alerts(db) == []


async def test_a_retried_row_holds_back_later_rows_of_its_robot(db: Database, fake_platforms: FakePlatforms) -> None:
    webhook = fake_platforms.wecom.add_robot("k1")
    fake_platforms.wecom.script("k1", Reply(status=503))
    ctx = await context(db, settings_for(fake_platforms, [GroupConfig(name="甲群", platform="wecom", webhook=webhook)]))
    with time_machine.travel(START, tick=False) as clock:
        await queue(db, "甲群", *(OutboundMessage(body=f"第{i}条") for i in range(3)))
        await drain_once(ctx, options=FAST)
        assert fake_platforms.wecom.delivered("k1") == []
        held = await rows(db, state=OutboxState.PENDING)
        assert len(held) == 3 and len({r.due_at for r in held}) == 1  # followers wait as long as the head
        clock.move_to(held[0].due_at)
        await drain_once(ctx, options=FAST)
    contents = [e.payload["markdown"]["content"] for e in fake_platforms.wecom.delivered("k1")]
    assert contents == ["第0条", "第1条", "第2条"]


async def test_split_message_goes_in_order_and_resumes_after_a_restart(
    db: Database, fake_platforms: FakePlatforms
) -> None:
    webhook = fake_platforms.wecom.add_robot("k1")
    fake_platforms.wecom.script("k1", Pass(), Reply(status=500))  # part 1 arrives, part 2 meets an error
    settings = settings_for(fake_platforms, [GroupConfig(name="甲群", platform="wecom", webhook=webhook)])
    first = await context(db, settings, instance="host-a:1:aaaaaa")
    with time_machine.travel(START, tick=False) as clock:
        [outbox_id] = await queue(db, "甲群", OutboundMessage(title="月度通报", body=LONG))
        await drain_once(first, options=FAST)
        held = await row(db, outbox_id)
        assert (held.state, held.parts_sent) == (OutboxState.PENDING, 1)
        clock.move_to(held.due_at)
        restarted = AppContext(settings=settings, db=db, instance_id="host-b:2:bbbbbb")
        assert await drain_once(restarted, options=FAST) == 1
    contents = [e.payload["markdown"]["content"] for e in fake_platforms.wecom.delivered("k1")]
    total = len(contents)
    assert total >= 3
    assert [c.splitlines()[0] for c in contents] == [f"**月度通报（{i}/{total}）**" for i in range(1, total + 1)]
    assert all(len(c.encode()) <= 4096 for c in contents)
    done = await row(db, outbox_id)
    assert (done.state, done.parts_sent) == (OutboxState.SENT, total)


async def test_permanent_failure_tells_the_office_once_per_target_per_day(
    db: Database, fake_platforms: FakePlatforms
) -> None:
    webhook = fake_platforms.dingtalk.add_robot("t1", secret="SECright")
    group = GroupConfig(name="乙群", platform="dingtalk", webhook=webhook, secret="SECwrong")
    ctx = await context(db, settings_for(fake_platforms, [group, OFFICE]))
    with time_machine.travel(START, tick=False) as clock:
        ids = await queue(db, "乙群", *(OutboundMessage(body=f"第{i}条") for i in range(3)))
        await drain_once(ctx, options=FAST)
        for outbox_id in ids:
            failed = await row(db, outbox_id)
            assert (failed.state, failed.errcode) == (OutboxState.FAILED, "310000")
            assert "加签" in (failed.last_error or "")
        await drain_once(ctx, options=FAST)  # delivers the alert to the office's (sandbox) group
        [alert] = await sandbox_messages(db, "办公室")
        assert "消息未能送达" in alert.text and "乙群" in alert.text
        assert "加签校验未通过" in alert.text and "secret" in alert.text
        assert f"重发 {ids[0]}" in alert.text
        clock.shift(timedelta(hours=3))  # the same day: no second alert
        await queue(db, "乙群", OutboundMessage(body="又一条"))
        await drain_once(ctx, options=FAST)
        assert len(await sandbox_messages(db, "办公室")) == 1
        clock.shift(timedelta(days=1))  # the next day: told again, once
        await queue(db, "乙群", OutboundMessage(body="次日一条"), OutboundMessage(body="次日又一条"))
        await drain_once(ctx, options=FAST)
        await drain_once(ctx, options=FAST)
    assert len(await sandbox_messages(db, "办公室")) == 2
    assert fake_platforms.dingtalk.delivered() == []
    assert len(await office_alerts(db)) == 2


async def test_an_alert_never_goes_to_the_failing_office_group(db: Database, fake_platforms: FakePlatforms) -> None:
    broken = GroupConfig(
        name="办公室钉钉群",
        platform="dingtalk",
        webhook=fake_platforms.url + "/robot/send?access_token=gone",
        office=True,
    )
    ctx = await context(db, settings_for(fake_platforms, [broken, OFFICE]))
    await queue(db, "办公室钉钉群", OutboundMessage(body="内部通知"))
    await drain_once(ctx, options=FAST)
    alerts = await office_alerts(db)
    assert [a.target for a in alerts] == ["办公室"]
    await drain_once(ctx, options=FAST)
    [told] = await sandbox_messages(db, "办公室")
    assert "access_token 无效" in told.text


async def test_security_failures_are_told_apart(db: Database, fake_platforms: FakePlatforms) -> None:
    keyword_robot = fake_platforms.dingtalk.add_robot("kw", keywords=("督办",))
    ip_robot = fake_platforms.dingtalk.add_robot("ip", ip_allowed=False)
    groups = [
        GroupConfig(name="关键词群", platform="dingtalk", webhook=keyword_robot),
        GroupConfig(name="白名单群", platform="dingtalk", webhook=ip_robot),
        OFFICE,
    ]
    ctx = await context(db, settings_for(fake_platforms, groups))
    [keyword_row] = await queue(db, "关键词群", OutboundMessage(body="内容"))
    [ip_row] = await queue(db, "白名单群", OutboundMessage(body="内容"))
    await drain_once(ctx, options=FAST)
    assert "关键词" in ((await row(db, keyword_row)).last_error or "")
    assert "IP" in ((await row(db, ip_row)).last_error or "")


async def test_group_no_longer_configured_fails_and_is_reported(db: Database, fake_platforms: FakePlatforms) -> None:
    webhook = fake_platforms.wecom.add_robot("k1")
    await context(
        db, settings_for(fake_platforms, [GroupConfig(name="甲群", platform="wecom", webhook=webhook), OFFICE])
    )
    [outbox_id] = await queue(db, "甲群", OutboundMessage(body="内容"))
    later = AppContext(settings=settings_for(fake_platforms, [OFFICE]), db=db, instance_id="host:3:cccccc")
    await drain_once(later, options=FAST)
    failed = await row(db, outbox_id)
    assert (failed.state, failed.errcode) == (OutboxState.FAILED, "no_group")
    assert len(await office_alerts(db)) == 1


async def test_sandbox_writes_the_transcript(db: Database) -> None:
    ctx = await context(db, settings_for(None, [GroupConfig(name="演示群", platform="sandbox"), OFFICE]))
    mention = Mention(name="张三", person_id=7)
    await queue(db, "演示群", OutboundMessage(title="通知", body="**明天**开会", mentions=[mention]))
    assert await drain_once(ctx, channels={"sandbox"}) == 1
    [said] = await sandbox_messages(db, "演示群")
    assert said.text == "通知\n明天开会\n@张三"
    assert said.mentions == ["张三"]
    assert said.outbox_id is not None


async def _inbox(db: Database, route: ReplyRoute) -> int:
    async with db.transaction() as session:
        inbox = InboxMessage(
            platform="wecom",
            channel="wecom_bot",
            message_id=route.rate_key,
            sender_id="zhangsan",
            reply=route.as_dict(),
        )
        session.add(inbox)
        await session.flush()
        return inbox.id


async def _reply(db: Database, inbox_id: int, body: str) -> int:
    async with db.transaction() as session:
        inbox = await session.get(InboxMessage, inbox_id)
        assert inbox is not None
        reply = enqueue_reply(session, inbox, OutboundMessage(body=body))
        await session.flush()
        return reply.id


async def test_response_url_is_used_once(db: Database, fake_platforms: FakePlatforms) -> None:
    ctx = await context(db, settings_for(fake_platforms, [OFFICE]))
    url = fake_platforms.wecom.new_response_url()
    route = ReplyRoute("wecom_response_url", "张三", "wecom_response_url:msg-1", {"url": url})
    inbox_id = await _inbox(db, route)
    first = await _reply(db, inbox_id, "已收到。")
    second = await _reply(db, inbox_id, "另请注意截止时间。")
    assert await drain_once(ctx, options=FAST) == 2
    [request] = fake_platforms.wecom.log  # both replies in the one request the route allows
    assert request.payload["markdown"]["content"] == "已收到。\n\n另请注意截止时间。"
    assert (await row(db, first)).state is OutboxState.SENT
    assert (await row(db, second)).state is OutboxState.SENT
    late = await _reply(db, inbox_id, "迟到的一句。")
    await drain_once(ctx, options=FAST)
    spent = await row(db, late)
    assert (spent.state, spent.errcode) == (OutboxState.FAILED, "spent")
    assert len(fake_platforms.wecom.log) == 1  # a second use is never attempted
    assert await office_alerts(db) == []


async def test_expired_session_webhook_fails_quietly(db: Database, fake_platforms: FakePlatforms) -> None:
    ctx = await context(db, settings_for(fake_platforms, [OFFICE]))
    live_url, live_expiry = fake_platforms.dingtalk.new_session()
    dead_url, dead_expiry = fake_platforms.dingtalk.new_session(lifetime_s=-1)
    live = await _inbox(
        db,
        ReplyRoute("dingtalk_session", "张三", "dingtalk_session:c1", {"url": live_url, "expires_at_ms": live_expiry}),
    )
    dead = await _inbox(
        db,
        ReplyRoute("dingtalk_session", "李四", "dingtalk_session:c2", {"url": dead_url, "expires_at_ms": dead_expiry}),
    )
    ok_row = await _reply(db, live, "已收到。")
    late_row = await _reply(db, dead, "已收到。")
    await drain_once(ctx, options=FAST)
    assert (await row(db, ok_row)).state is OutboxState.SENT
    expired = await row(db, late_row)
    assert (expired.state, expired.errcode) == (OutboxState.FAILED, "expired")
    assert len(fake_platforms.dingtalk.log) == 1
    assert await office_alerts(db) == []


async def test_wecom_app_token_is_cached_and_refreshed(db: Database, fake_platforms: FakePlatforms) -> None:
    fake_platforms.wecom.members.add("zhangsan")
    ctx = await context(db, settings_for(fake_platforms, [OFFICE]))
    route = ReplyRoute("wecom_app", "张三", "wecom_app:zhangsan", {"touser": "zhangsan"})
    inbox_id = await _inbox(db, route)
    for text in ("一", "二"):
        await _reply(db, inbox_id, text)
    async with http_session(FAST) as http:
        pump = Pump(ctx, http, FAST)  # one running dispatcher keeps one token cache
        await pump.run_until_idle()
        assert fake_platforms.wecom.tokens_issued == 1
        fake_platforms.wecom.expire_tokens()
        await _reply(db, inbox_id, "三")
        await pump.run_until_idle()
    assert fake_platforms.wecom.tokens_issued == 2
    delivered = fake_platforms.wecom.delivered("zhangsan")
    assert [e.payload["markdown"]["content"] for e in delivered] == ["一", "二", "三"]
    assert all(e.payload["agentid"] == 1000002 for e in delivered)
    assert [e.errcode for e in fake_platforms.wecom.log if e.kind == "app"] == [0, 0, 42001, 0]


async def test_wecom_app_bad_secret_is_permanent(db: Database, fake_platforms: FakePlatforms) -> None:
    fake_platforms.wecom.corp_secret = "rotated"
    ctx = await context(db, settings_for(fake_platforms, [OFFICE]))
    inbox_id = await _inbox(db, ReplyRoute("wecom_app", "张三", "wecom_app:zhangsan", {"touser": "zhangsan"}))
    outbox_id = await _reply(db, inbox_id, "一")
    await drain_once(ctx, options=FAST)
    failed = await row(db, outbox_id)
    assert (failed.state, failed.errcode) == (OutboxState.FAILED, "40001")
    assert "Secret" in (failed.last_error or "")
    async with db.sessions() as session:
        alerts = (await session.scalars(select(OutboxMessage).where(OutboxMessage.origin == "alert"))).all()
    assert len(alerts) == 1


async def test_the_service_worker_sends_and_settles_before_it_stops(
    db: Database, fake_platforms: FakePlatforms
) -> None:
    webhook = fake_platforms.wecom.add_robot("k1")
    ctx = await context(db, settings_for(fake_platforms, [GroupConfig(name="甲群", platform="wecom", webhook=webhook)]))
    [outbox_id] = await queue(db, "甲群", OutboundMessage(body="服务发送"))
    stopping = asyncio.Event()
    worker = asyncio.create_task(dispatcher(ctx, stopping, options=FAST))
    await fake_platforms.wecom.request_seen.wait()
    stopping.set()
    await worker
    assert (await row(db, outbox_id)).state is OutboxState.SENT
    assert len(fake_platforms.wecom.delivered("k1")) == 1


async def test_retryable_failures_give_up_after_the_configured_time(
    db: Database, fake_platforms: FakePlatforms
) -> None:
    webhook = fake_platforms.wecom.add_robot("k1")
    fake_platforms.wecom.script("k1", *[Reply(status=502)] * 50)
    groups = [GroupConfig(name="甲群", platform="wecom", webhook=webhook), OFFICE]
    ctx = await context(db, settings_for(fake_platforms, groups))
    options = replace(FAST, give_up_after=timedelta(minutes=30))
    with time_machine.travel(START + timedelta(days=1), tick=False) as clock:
        [outbox_id] = await queue(db, "甲群", OutboundMessage(body="一"))
        for _ in range(50):
            await drain_once(ctx, options=options, channels={"wecom_webhook"})
            current = await row(db, outbox_id)
            if current.state is not OutboxState.PENDING:
                break
            clock.move_to(current.due_at)
    failed = await row(db, outbox_id)
    assert (failed.state, failed.errcode) == (OutboxState.FAILED, "http502")
    assert "0.5 小时内多次重试仍未送达" in (failed.last_error or "")
    assert 3 < failed.attempts < 15  # capped exponential back-off, not a tight loop
    assert len(await office_alerts(db)) == 1
