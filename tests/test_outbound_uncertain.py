"""A send whose outcome is unknown becomes *uncertain*: never resent on its own, the office told once."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import time_machine

from bot.config import GroupConfig
from bot.context import AppContext
from bot.outbound.dispatcher import Pump, drain_once, http_session
from storage.db import Database
from storage.models import OutboxMessage, OutboxState, SendLog
from storage.outbound import OutboundMessage
from tests.fakes import FakePlatforms, Stall
from tests.outbound_kit import FAST, OFFICE, context, queue, row, rows, sandbox_messages, settings_for

START = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


async def leave_sending(db: Database, outbox_id: int, owner: str, since: datetime) -> None:
    """What a dispatcher that died mid-request leaves behind: the row and its log entry ``sending``."""
    async with db.transaction() as session:
        found = await session.get(OutboxMessage, outbox_id)
        assert found is not None
        found.state = OutboxState.SENDING
        found.sending_by = owner
        found.sending_since = since
        found.attempts = 1
        session.add(SendLog(rate_key=found.rate_key, at=since, outbox_id=outbox_id, outcome="sending"))


def a_dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


async def test_a_row_left_sending_by_a_dead_instance_becomes_uncertain(
    db: Database, fake_platforms: FakePlatforms
) -> None:
    webhook = fake_platforms.wecom.add_robot("k1")
    groups = [GroupConfig(name="甲群", platform="wecom", webhook=webhook), OFFICE]
    ctx = await context(db, settings_for(fake_platforms, groups))
    with time_machine.travel(START, tick=False):
        [orphan, follower] = await queue(db, "甲群", OutboundMessage(body="孤儿"), OutboundMessage(body="后续"))
        await leave_sending(db, orphan, "otherhost:4242:abcdef", START - timedelta(minutes=10))
        await drain_once(ctx, options=FAST)
        left = await row(db, orphan)
        assert left.state is OutboxState.UNCERTAIN
        assert (await row(db, follower)).state is OutboxState.SENT  # the robot's queue moves on
        await drain_once(ctx, options=FAST)  # delivers the office's notice
        await drain_once(ctx, options=FAST)
    assert [e.payload["markdown"]["content"] for e in fake_platforms.wecom.delivered("k1")] == ["后续"]
    [told] = await sandbox_messages(db, "办公室")
    assert "消息可能未送达" in told.text and f"编号 {orphan}" in told.text and "甲群" in told.text
    assert (await row(db, orphan)).state is OutboxState.UNCERTAIN


async def test_a_live_lease_is_respected(db: Database, fake_platforms: FakePlatforms) -> None:
    webhook = fake_platforms.wecom.add_robot("k1")
    ctx = await context(db, settings_for(fake_platforms, [GroupConfig(name="甲群", platform="wecom", webhook=webhook)]))
    with time_machine.travel(START, tick=False):
        [held, follower] = await queue(db, "甲群", OutboundMessage(body="一"), OutboundMessage(body="二"))
        await leave_sending(db, held, "otherhost:4242:abcdef", START - timedelta(seconds=30))
        await drain_once(ctx, options=FAST)
    assert (await row(db, held)).state is OutboxState.SENDING  # another instance may still be at it
    assert (await row(db, follower)).state is OutboxState.PENDING  # one request per robot at a time
    assert fake_platforms.wecom.log == []


async def test_a_dead_sender_on_this_host_is_recognised_at_start_up(db: Database) -> None:
    ctx = await context(db, settings_for(None, [GroupConfig(name="演示群", platform="sandbox"), OFFICE]))
    [outbox_id] = await queue(db, "演示群", OutboundMessage(body="一"))
    await leave_sending(db, outbox_id, f"{socket.gethostname()}:{a_dead_pid()}:dead00", datetime.now(UTC))
    async with http_session(FAST) as http:
        await Pump(ctx, http, FAST).sweep(startup=True)
    state = (await row(db, outbox_id)).state
    # SQLite runs on one host, so a dead pid is proof; on PostgreSQL the lease decides (containers share names)
    assert state is (OutboxState.UNCERTAIN if db.dialect == "sqlite" else OutboxState.SENDING)


async def test_killed_in_mid_send_then_restarted(db: Database, fake_platforms: FakePlatforms) -> None:
    webhook = fake_platforms.wecom.add_robot("k1")
    fake_platforms.wecom.script("k1", Stall(deliver=True))  # the message is posted, the answer never comes
    settings = settings_for(fake_platforms, [GroupConfig(name="甲群", platform="wecom", webhook=webhook), OFFICE])
    ctx = await context(db, settings, instance="host-a:1:aaaaaa")
    [outbox_id] = await queue(db, "甲群", OutboundMessage(body="关键通知"))
    async with http_session(FAST) as http:
        pump = Pump(ctx, http, FAST)
        worker = asyncio.create_task(pump.run(asyncio.Event()))
        await fake_platforms.wecom.request_seen.wait()
        doomed = [worker, *pump.in_flight]
        for task in doomed:  # the process dies: nothing more runs
            task.cancel()
        await asyncio.gather(*doomed, return_exceptions=True)
    assert (await row(db, outbox_id)).state is OutboxState.SENDING
    restarted = AppContext(settings=settings, db=db, instance_id="host-b:2:bbbbbb")
    with time_machine.travel(datetime.now(UTC) + FAST.lease + timedelta(seconds=1), tick=False):
        await drain_once(restarted, options=FAST)
        await drain_once(restarted, options=FAST)
    assert (await row(db, outbox_id)).state is OutboxState.UNCERTAIN
    assert len(fake_platforms.wecom.delivered("k1")) == 1  # delivered once, never again
    [told] = await sandbox_messages(db, "办公室")
    assert f"编号 {outbox_id}" in told.text


async def test_no_answer_within_the_read_timeout_is_uncertain(db: Database, fake_platforms: FakePlatforms) -> None:
    webhook = fake_platforms.wecom.add_robot("k1")
    fake_platforms.wecom.script("k1", Stall(deliver=True))
    ctx = await context(
        db, settings_for(fake_platforms, [GroupConfig(name="甲群", platform="wecom", webhook=webhook), OFFICE])
    )
    [outbox_id] = await queue(db, "甲群", OutboundMessage(body="一"))
    await drain_once(ctx, options=replace(FAST, read_timeout=0.2))
    stalled = await row(db, outbox_id)
    assert stalled.state is OutboxState.UNCERTAIN
    assert "未在时限内答复" in (stalled.last_error or "")
    await drain_once(ctx, options=FAST)
    assert len(fake_platforms.wecom.delivered("k1")) == 1
    assert len(await sandbox_messages(db, "办公室")) == 1


async def test_many_orphans_make_one_notice(db: Database) -> None:
    groups = [GroupConfig(name=f"群{i}", platform="sandbox") for i in range(30)] + [OFFICE]
    ctx = await context(db, settings_for(None, groups))
    with time_machine.travel(START, tick=False):
        for i in range(30):
            [outbox_id] = await queue(db, f"群{i}", OutboundMessage(body="一"))
            await leave_sending(db, outbox_id, "gone:1:000000", START - timedelta(hours=1))
        await drain_once(ctx)
        await drain_once(ctx)
    assert len([r for r in await rows(db) if r.state is OutboxState.UNCERTAIN]) == 30
    [told] = await sandbox_messages(db, "办公室")
    assert "共 30 条" in told.text and "duban outbox list --uncertain" in told.text
