"""The WeCom 智能机器人 long connection end to end: real ``duban serve`` processes, a fake gateway on loopback.

A liaison's group @-message arrives over the websocket, is stored once and answered through its ``req_id``;
a dropped connection is opened again and re-subscribed; a kick (``disconnected_event``) is reported; with two
instances on PostgreSQL exactly one holds the connection, and when it is killed the other takes over within
30 s and nothing pushed meanwhile is lost.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from storage.db import Database
from storage.models import Group, InboxMessage, InboxState, OutboxMessage, OutboxState, RoundAnswer, Submission
from storage.outbound import OutboundMessage, enqueue_to_group
from tests.fakes import FakePlatforms
from tests.fakes.wecom_bot_ws import FakeWecomBotSocket, group_message
from tests.faults_kit import Instance, all_of, eventually, fresh_database
from tests.transports_kit import (
    ROUND_ANSWER,
    health_of,
    open_round,
    prepared_instances,
    report_text,
    wecom_bot_socket_section,
)

LIAISON = "lina"  # 李娜 (省商务厅) by her WeCom userid


def section(gateway: FakeWecomBotSocket) -> str:
    return wecom_bot_socket_section(gateway.url, gateway.bot_id, gateway.secret)


async def handled(db: Database, msgids: set[str]) -> set[str]:
    return {row.message_id for row in await all_of(db, InboxMessage) if row.state is InboxState.DONE} & msgids


@pytest.fixture
async def served(tmp_path: Path, fake_platforms: FakePlatforms) -> AsyncIterator[tuple[Instance, Database]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'duban.db'}"
    [instance] = await prepared_instances(
        tmp_path, url, 1, section(fake_platforms.wecom_bot_socket), fake_platforms.url
    )
    await instance.start()
    db = Database(url)
    try:
        await instance.ready()
        yield instance, db
    finally:
        await db.close()
        if instance.running:
            await instance.terminate()
        assert "Traceback" not in instance.log(), instance.log_tail()


async def test_a_group_message_is_stored_and_answered_through_its_req_id(
    served: tuple[Instance, Database], fake_platforms: FakePlatforms
) -> None:
    instance, db = served
    gateway = fake_platforms.wecom_bot_socket
    await gateway.wait_for(lambda: gateway.subscriptions == 1)
    await gateway.push(group_message("wsmsg-001", LIAISON, report_text()))
    await eventually(lambda: handled(db, {"wsmsg-001"}), bool, within=30, what="the message handled")
    [row] = await all_of(db, InboxMessage)
    assert (row.channel, row.sender_id, row.chat_type, row.chat_id) == (
        "wecom_bot",
        LIAISON,
        "group",
        "wrkSFfCgAAgroup01",
    )
    assert "新增出口企业12家" in (await all_of(db, Submission))[0].text
    await gateway.wait_for(lambda: len(gateway.sent) == 1)
    [reply] = gateway.sent
    assert reply.cmd == "aibot_respond_msg" and reply.body["stream"]["finish"] is True
    assert "已收到【省商务厅】" in reply.content
    health = await health_of(instance)
    link = health["checks"]["connections"]["wecom_bot_ws"]  # type: ignore[index]
    assert link["state"] == "connected" and link["holder"] == health["instance"]
    assert gateway.problems == [] and gateway.kicks == 0


async def test_a_message_quoting_a_round_over_the_connection_answers_that_round(
    served: tuple[Instance, Database], fake_platforms: FakePlatforms
) -> None:
    _, db = served
    gateway = fake_platforms.wecom_bot_socket
    number = await open_round(db)
    await gateway.wait_for(lambda: gateway.subscriptions == 1)
    message = group_message("wsmsg-q1", LIAISON, ROUND_ANSWER)
    message["quote"] = {"msgtype": "text", "text": {"content": f"征集#{number}：工作专班联系人"}}
    await gateway.push(message)
    await eventually(lambda: handled(db, {"wsmsg-q1"}), bool, within=30, what="the message handled")
    [row] = await all_of(db, InboxMessage)
    assert row.quoted == f"征集#{number}：工作专班联系人"
    [answer] = await all_of(db, RoundAnswer)
    assert answer.round_id == number and answer.values == {"姓名": "张三", "职务": "处长", "手机": "13912345678"}
    await gateway.wait_for(lambda: len(gateway.sent) == 1)
    assert f"征集＃{number}“工作专班联系人”的答复" in gateway.sent[0].content  # "#" rendered inert


async def test_a_drop_is_followed_by_a_new_subscription_and_a_kick_is_reported(
    served: tuple[Instance, Database], fake_platforms: FakePlatforms
) -> None:
    instance, db = served
    gateway = fake_platforms.wecom_bot_socket
    await gateway.wait_for(lambda: gateway.subscriptions == 1)
    await gateway.drop()
    await gateway.wait_for(lambda: gateway.subscriptions == 2 and gateway.current is not None)
    await gateway.push(group_message("wsmsg-002", LIAISON, "帮助"))
    await gateway.push(group_message("wsmsg-002", LIAISON, "帮助"))  # delivered twice: one row, one answer
    await eventually(lambda: handled(db, {"wsmsg-002"}), bool, within=30, what="the message handled")
    await gateway.wait_for(lambda: len(gateway.sent) >= 1)
    assert [row.message_id for row in await all_of(db, InboxMessage)] == ["wsmsg-002"]
    await gateway.kick()

    async def state() -> dict[str, object]:
        return dict((await health_of(instance))["checks"]["connections"]["wecom_bot_ws"])  # type: ignore[index]

    link = await eventually(state, lambda s: s["state"] == "waiting", within=10, what="the kick noticed")
    assert "disconnected_event" in str(link["last_error"]) and link["reconnects"] == 1
    assert "is a second deployment using the same bot_id" in instance.log()
    assert len(gateway.sent) == 1 and gateway.problems == []


@pytest.mark.slow
async def test_one_instance_holds_the_connection_and_another_takes_over_after_sigkill(
    tmp_path: Path, fake_platforms: FakePlatforms, pg_url: str | None
) -> None:
    gateway = fake_platforms.wecom_bot_socket
    async with fresh_database(pg_url) as url:
        instances = await prepared_instances(tmp_path, url, 2, section(gateway), fake_platforms.url)
        db = Database(url)
        try:
            for instance in instances:
                await instance.start()
            for instance in instances:
                await instance.ready()
            await gateway.wait_for(lambda: gateway.subscriptions == 1)

            async def views() -> list[dict[str, Any]]:
                return [await health_of(instance) for instance in instances]

            def holders(healths: list[dict[str, Any]]) -> set[object]:
                return {h["checks"]["connections"]["wecom_bot_ws"]["holder"] for h in healths}

            # The standby learns who holds the lease at its first attempt, which may come just after it is ready.
            healths = await eventually(
                views, lambda hs: len(holders(hs)) == 1 and None not in holders(hs), within=30, what="one holder seen"
            )
            [holder_id] = holders(healths)
            [holder] = [i for i, h in zip(instances, healths, strict=True) if h["instance"] == holder_id]
            [standby] = [i for i in instances if i is not holder]

            await gateway.push(group_message("fo-001", LIAISON, "帮助"))
            await eventually(lambda: handled(db, {"fo-001"}), bool, within=30, what="handled before the kill")
            await gateway.wait_for(lambda: len(gateway.sent) == 1)

            async def replies() -> list[OutboxMessage]:
                return [row for row in await all_of(db, OutboxMessage) if row.channel == "wecom_bot_ws"]

            # (A row whose send the holder had not recorded when it died waits out the dispatcher's own lease and
            # holds back its chat's later replies meanwhile: that is the outbox's rule, not this test's subject.)
            await eventually(
                replies, lambda rows: [r.state for r in rows] == [OutboxState.SENT], within=30, what="sent"
            )
            holder.kill()
            killed_at = time.monotonic()
            await holder.wait(within=10)
            pushed = {f"fo-{n:03d}" for n in range(2, 7)}
            for msgid in sorted(pushed):
                await gateway.push(group_message(msgid, LIAISON, "帮助"))
            await gateway.wait_for(lambda: gateway.subscriptions == 2, within=60)
            takeover = time.monotonic() - killed_at
            assert takeover < 30, takeover
            await eventually(lambda: handled(db, pushed), lambda done: done == pushed, within=60, what="all handled")

            # Every message answered (replies to one chat may share a request: the dispatcher merges them).
            sent = await eventually(
                replies, lambda rows: len(rows) == 6 and all(r.state is OutboxState.SENT for r in rows),
                within=60, what="every reply sent",
            )  # fmt: skip
            assert {row.inbox_id for row in sent} == {row.id for row in await all_of(db, InboxMessage)}
            assert len(gateway.sent) >= 2
            rows = await all_of(db, InboxMessage)
            assert sorted(row.message_id for row in rows) == sorted({"fo-001", *pushed})  # each once, none lost
            link = (await health_of(standby))["checks"]["connections"]["wecom_bot_ws"]  # type: ignore[index]
            assert link["holder"] == (await health_of(standby))["instance"]
            assert gateway.kicks == 0 and gateway.problems == []
            assert "took the connection over from" in standby.log()
        finally:
            await db.close()
            for instance in instances:
                if instance.running:
                    await instance.terminate()


async def test_a_group_named_by_chat_id_is_posted_to_by_the_bots_active_send(
    tmp_path: Path, fake_platforms: FakePlatforms
) -> None:
    gateway = fake_platforms.wecom_bot_socket
    url = f"sqlite+aiosqlite:///{tmp_path / 'duban.db'}"
    group = '\n[[groups]]\nname = "企业微信工作群"\nplatform = "wecom"\nchat_id = "wrkSFfCgAAposts01"\n'
    [instance] = await prepared_instances(tmp_path, url, 1, section(gateway) + group, fake_platforms.url)
    await instance.start()
    db = Database(url)
    try:
        await instance.ready()
        await gateway.wait_for(lambda: gateway.subscriptions == 1)
        async with db.transaction() as session:
            target = await session.scalar(select(Group).where(Group.name == "企业微信工作群"))
            assert target is not None
            row = enqueue_to_group(session, target, OutboundMessage(title="周报", body="本周工作情况……"), origin="test")
        await gateway.wait_for(lambda: len(gateway.sent) == 1)
        [post] = gateway.sent
        assert (post.cmd, post.body["chatid"], post.body["msgtype"]) == (
            "aibot_send_msg",
            "wrkSFfCgAAposts01",
            "markdown",
        )
        assert "**周报**" in post.content and "本周工作情况" in post.content

        async def state() -> OutboxState:
            [sent] = [r for r in await all_of(db, OutboxMessage) if r.id == row.id]
            assert sent.channel == "wecom_bot_ws"
            return sent.state

        await eventually(state, lambda s: s is OutboxState.SENT, within=10, what="the row settled as sent")
    finally:
        await db.close()
        await instance.terminate()
    assert "Traceback" not in instance.log(), instance.log_tail()
