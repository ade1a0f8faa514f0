"""Operating the outbox: ``resend`` and the ``duban outbox`` commands."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import truncate_all
from sqlalchemy import select

from bot.cli import main
from bot.config import GroupConfig
from bot.outbound.dispatcher import drain_once
from storage.db import Database
from storage.inbox import ReplyRoute
from storage.models import AuditEntry, InboxMessage, OutboxMessage, OutboxState
from storage.outbound import OutboundMessage, enqueue_reply
from storage.outbox_ops import resend
from storage.sync import sync_groups
from tests.fakes import FakePlatforms
from tests.outbound_kit import FAST, OFFICE, context, queue, row, settings_for

LONG = "\n".join(f"第{i}段：" + "各成员单位按照职责分工认真抓好落实。" * 8 for i in range(40))


async def set_state(db: Database, outbox_id: int, state: OutboxState, parts_sent: int = 0) -> None:
    async with db.transaction() as session:
        found = await session.get(OutboxMessage, outbox_id)
        assert found is not None
        found.state = state
        found.parts_sent = parts_sent


async def test_resend_a_failed_row_after_the_fault_is_fixed(db: Database, fake_platforms: FakePlatforms) -> None:
    webhook = fake_platforms.wecom.add_robot("k1")
    broken = GroupConfig(name="甲群", platform="wecom", webhook=fake_platforms.url + "/cgi-bin/webhook/send?key=old")
    ctx = await context(db, settings_for(fake_platforms, [broken, OFFICE]))
    [outbox_id] = await queue(db, "甲群", OutboundMessage(title="通知", body="内容"))
    await drain_once(ctx, options=FAST)
    assert (await row(db, outbox_id)).state is OutboxState.FAILED
    fixed = await context(
        db, settings_for(fake_platforms, [GroupConfig(name="甲群", platform="wecom", webhook=webhook), OFFICE])
    )
    async with db.transaction() as session:
        copy = await resend(session, outbox_id, actor="张主任")
    assert (copy.state, copy.resent_from, copy.origin, copy.attempts) == (
        OutboxState.PENDING,
        outbox_id,
        "resend:张主任",
        0,
    )
    await drain_once(fixed, options=FAST)
    assert (await row(db, copy.id)).state is OutboxState.SENT
    assert (await row(db, outbox_id)).state is OutboxState.FAILED  # the original stays as it was
    assert len(fake_platforms.wecom.delivered("k1")) == 1


async def test_resend_resumes_a_split_message_where_it_stopped(db: Database) -> None:
    await sync_groups(db, [GroupConfig(name="演示群", platform="sandbox")])
    [uncertain, sent] = await queue(db, "演示群", OutboundMessage(body=LONG), OutboundMessage(body="短"))
    await set_state(db, uncertain, OutboxState.UNCERTAIN, parts_sent=2)
    await set_state(db, sent, OutboxState.SENT, parts_sent=1)
    async with db.transaction() as session:
        resumed = await resend(session, uncertain, actor="办公室")
        repeated = await resend(session, sent, actor="办公室")
    assert resumed.parts_sent == 2  # the part in doubt and the rest
    assert repeated.parts_sent == 0  # a delivered message is repeated in full


@pytest.mark.parametrize("state", [OutboxState.PENDING, OutboxState.SENDING, OutboxState.CANCELLED])
async def test_resend_refuses_a_row_still_queued(db: Database, state: OutboxState) -> None:
    await sync_groups(db, [GroupConfig(name="演示群", platform="sandbox")])
    [outbox_id] = await queue(db, "演示群", OutboundMessage(body="一"))
    await set_state(db, outbox_id, state)
    async with db.transaction() as session:
        with pytest.raises(ValueError, match=f"#{outbox_id}"):
            await resend(session, outbox_id, actor="办公室")


async def test_resend_unknown_row(db: Database) -> None:
    async with db.transaction() as session:
        with pytest.raises(LookupError):
            await resend(session, 999, actor="办公室")


CONFIG = """
[database]
url = "{url}"

[[groups]]
name = "演示群"
platform = "sandbox"
"""


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Path:
    async def prepare() -> None:
        db = Database(database_url)
        try:
            if db.dialect == "postgresql":
                await truncate_all(db)
            await sync_groups(db, [GroupConfig(name="演示群", platform="sandbox")])
            ids = await queue(db, "演示群", *(OutboundMessage(body=str(i)) for i in range(3)))
            await set_state(db, ids[0], OutboxState.FAILED)
            async with db.transaction() as session:
                failed = await session.get(OutboxMessage, ids[0])
                assert failed is not None
                failed.errcode = "93000"
                failed.last_error = "群机器人的 Webhook 地址无效（key 有误，或机器人已被移出群聊）（错误码 93000）"
            await set_state(db, ids[1], OutboxState.UNCERTAIN)
        finally:
            await db.close()

    asyncio.run(prepare())
    path = tmp_path / "duban.toml"
    path.write_text(CONFIG.format(url=database_url), encoding="utf-8")
    return path


def test_cli_list_and_resend(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(config), "outbox", "list"]) == 0
    everything = capsys.readouterr().out
    assert "发送队列：待发送 1，发送失败 1，待核实 1" in everything
    assert "编号" in everything and "状态" in everything and "原因" in everything

    assert main(["--config", str(config), "outbox", "list", "--failed"]) == 0
    failed = capsys.readouterr().out
    table = failed.split("\n\n")[1].splitlines()
    assert len(table) == 3  # header, rule, one row
    assert "发送失败" in table[2] and "93000" in table[2] and "Webhook 地址无效" in table[2]
    assert "duban outbox resend" in failed

    assert main(["--config", str(config), "outbox", "resend", "1"]) == 0
    assert "新编号 #4" in capsys.readouterr().out
    assert main(["--config", str(config), "outbox", "resend", "3"]) == 2
    assert "仍在发送队列中" in capsys.readouterr().err
    assert main(["--config", str(config), "outbox", "resend", "42"]) == 2
    assert "没有编号为 42 的消息" in capsys.readouterr().err
    assert main(["--config", str(config), "outbox", "list", "--pending"]) == 0
    pending = capsys.readouterr().out
    assert "resend:命令行:" in pending
    assert [(a.action, a.outcome, a.via) for a in audit_of(config)] == [
        ("重发", "ok", "cli"),
        ("重发", "refused", "cli"),
        ("重发", "not_found", "cli"),
    ]  # the command line now goes through the shared rule, audit included


def audit_of(config: Path) -> list[AuditEntry]:
    from bot.config import load_settings

    async def read() -> list[AuditEntry]:
        db = Database(load_settings(config).database.url)
        try:
            async with db.sessions() as session:
                return list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        finally:
            await db.close()

    return asyncio.run(read())


async def test_resend_refuses_a_spent_reply_route(db: Database, fake_platforms: FakePlatforms) -> None:
    ctx = await context(db, settings_for(fake_platforms, [OFFICE]))
    route = ReplyRoute(
        "wecom_response_url", "张三", "wecom_response_url:m1", {"url": fake_platforms.wecom.new_response_url()}
    )
    async with db.transaction() as session:
        inbox = InboxMessage(
            platform="wecom", channel="wecom_bot", message_id="m1", sender_id="u", reply=route.as_dict()
        )
        session.add(inbox)
        await session.flush()
        reply = enqueue_reply(session, inbox, OutboundMessage(body="已收到。"))
        expired = ReplyRoute("dingtalk_session", "李四", "dingtalk_session:c", {"url": "http://x", "expires_at_ms": 1})
        other = InboxMessage(
            platform="dingtalk", channel="dingtalk_bot", message_id="m2", sender_id="v", reply=expired.as_dict()
        )
        session.add(other)
        await session.flush()
        stale = enqueue_reply(session, other, OutboundMessage(body="已收到。"))
    await drain_once(ctx, options=FAST)
    async with db.transaction() as session:
        with pytest.raises(ValueError, match="只能使用一次"):
            await resend(session, reply.id, actor="办公室")
        with pytest.raises(ValueError, match="已过期"):
            await resend(session, stale.id, actor="办公室")
