"""DingTalk Stream mode end to end: a real ``duban serve`` with no inbound endpoint, a fake gateway on loopback.

A liaison's group @-message arrives over the websocket, is acknowledged, stored once and answered through
its ``sessionWebhook``; pings are answered, a ``disconnect`` frame and a dropped connection are followed by a
fresh ticket and connection, and a second delivery of the same message changes nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from storage.db import Database
from storage.models import InboxMessage, InboxState, RoundAnswer, Submission
from tests.fakes import FakePlatforms
from tests.faults_kit import Instance, all_of, eventually, fresh_database
from tests.transports_kit import (
    GROUP_CHAT,
    LIAISON,
    ROUND_ANSWER,
    dingtalk_group_message,
    dingtalk_stream_section,
    open_round,
    prepared_instances,
    report_text,
)


@pytest.fixture
async def served(tmp_path: Path, fake_platforms: FakePlatforms) -> AsyncIterator[tuple[Instance, Database]]:
    gateway = fake_platforms.dingtalk_stream
    url = f"sqlite+aiosqlite:///{tmp_path / 'duban.db'}"
    section = dingtalk_stream_section(fake_platforms.url, gateway.app_key, gateway.app_secret)
    [instance] = await prepared_instances(tmp_path, url, 1, section, fake_platforms.url)
    fake_platforms.dingtalk.auto_register = True
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


async def handled(db: Database, msg_id: str) -> bool:
    rows = [row for row in await all_of(db, InboxMessage) if row.message_id == msg_id]
    return len(rows) == 1 and rows[0].state is InboxState.DONE


async def test_a_group_message_over_the_stream_is_stored_acknowledged_and_answered(
    served: tuple[Instance, Database], fake_platforms: FakePlatforms
) -> None:
    instance, db = served
    gateway = fake_platforms.dingtalk_stream
    session_url, expires = fake_platforms.dingtalk.new_session()
    message = dingtalk_group_message("msgStream001", report_text(), session_url, expires)
    connection, frame_id = await gateway.push(message)
    ack = await gateway.acked(connection, frame_id)
    assert ack["code"] == 200 and ack["headers"]["messageId"] == frame_id
    await eventually(lambda: handled(db, "msgStream001"), bool, within=30, what="the message handled")
    [row] = await all_of(db, InboxMessage)
    assert (row.channel, row.sender_id, row.chat_id, row.chat_type) == ("dingtalk_bot", LIAISON, GROUP_CHAT, "group")
    [submission] = await all_of(db, Submission)
    assert "新增出口企业12家" in submission.text

    async def answered() -> int:
        return len(fake_platforms.dingtalk.delivered())

    await eventually(answered, lambda n: n == 1, within=30, what="the reply delivered")
    [reply] = fake_platforms.dingtalk.delivered()
    assert reply.target == session_url.rsplit("/", 1)[1]
    assert "已收到【省商务厅】" in reply.payload["markdown"]["text"]

    # No inbound endpoint: the HTTP callback route does not exist in stream mode.
    async with aiohttp.ClientSession() as http, http.post(f"{instance.url}/dingtalk/bot", data=b"{}") as response:
        assert response.status == 404
    assert gateway.problems == [] and gateway.refused == []


async def test_a_reply_quoting_a_round_over_the_stream_answers_that_round(
    served: tuple[Instance, Database], fake_platforms: FakePlatforms
) -> None:
    _, db = served
    number = await open_round(db)
    session_url, expires = fake_platforms.dingtalk.new_session()
    message = dingtalk_group_message("msgStreamQ1", ROUND_ANSWER, session_url, expires)
    replied = {"msgId": "msgPost", "msgType": "markdown", "content": {"text": f"征集#{number}：工作专班联系人"}}
    message["text"] = {"content": f" {ROUND_ANSWER}", "isReplyMsg": True, "repliedMsg": replied}
    connection, frame_id = await fake_platforms.dingtalk_stream.push(message)
    await fake_platforms.dingtalk_stream.acked(connection, frame_id)
    await eventually(lambda: handled(db, "msgStreamQ1"), bool, within=30, what="the message handled")
    [row] = await all_of(db, InboxMessage)
    assert row.quoted == f"征集#{number}：工作专班联系人"
    [answer] = await all_of(db, RoundAnswer)
    assert answer.round_id == number and answer.values == {"姓名": "张三", "职务": "处长", "手机": "13912345678"}


async def test_pings_disconnects_drops_and_duplicates(
    served: tuple[Instance, Database], fake_platforms: FakePlatforms
) -> None:
    instance, db = served
    gateway = fake_platforms.dingtalk_stream
    connection = await gateway.any_connection()
    ping = await gateway.ping(connection)
    assert (await gateway.acked(connection, ping))["data"] == gateway.sent[ping]["data"]
    event = await gateway.event(connection)
    await gateway.acked(connection, event)

    await gateway.disconnect(connection)  # the client leaves on its own, fetches a new ticket, reconnects
    await gateway.wait_for(lambda: len(gateway.live) == 1 and gateway.opened == 2)
    assert connection.closed.is_set()

    session_url, expires = fake_platforms.dingtalk.new_session()
    first, frame_id = await gateway.push(dingtalk_group_message("msgStream002", "帮助", session_url, expires))
    await gateway.acked(first, frame_id)
    await gateway.drop(first)
    await gateway.wait_for(lambda: len(gateway.live) == 1 and gateway.opened == 3)
    # The platform delivers the same message again on the new connection: stored once, answered once.
    again, frame_id = await gateway.push(dingtalk_group_message("msgStream002", "帮助", session_url, expires))
    await gateway.acked(again, frame_id)
    await eventually(lambda: handled(db, "msgStream002"), bool, within=30, what="the message handled")
    assert len([row for row in await all_of(db, InboxMessage) if row.message_id == "msgStream002"]) == 1

    async with aiohttp.ClientSession() as http:
        async with http.get(f"{instance.url}/healthz") as response:
            health = await response.json()
        async with http.get(f"{instance.url}/metrics") as response:
            metrics = await response.text()
    link = health["checks"]["connections"]["dingtalk_stream"]
    assert link["state"] == "connected" and link["reconnects"] == 2 and link["connected_since"]
    assert link["frames"] >= 5 and link["last_frame_at"]
    assert 'duban_connection_reconnects_total{transport="dingtalk_stream"} 2.0' in metrics
    assert 'duban_connection_frames_total{kind="ping",transport="dingtalk_stream"} 1.0' in metrics
    assert 'duban_connection_frames_total{kind="disconnect",transport="dingtalk_stream"} 1.0' in metrics
    assert gateway.problems == [] and gateway.refused == []


async def test_bad_credentials_are_refused_and_retried_without_a_traceback(
    tmp_path: Path, fake_platforms: FakePlatforms
) -> None:
    gateway = fake_platforms.dingtalk_stream
    url = f"sqlite+aiosqlite:///{tmp_path / 'duban.db'}"
    section = dingtalk_stream_section(fake_platforms.url, gateway.app_key, "wrong-secret-value")
    [instance] = await prepared_instances(tmp_path, url, 1, section, fake_platforms.url)
    await instance.start()
    try:
        await instance.ready()
        await gateway.wait_for(lambda: len(gateway.refused) >= 2)
    finally:
        await instance.terminate()
    log = instance.log()
    assert "the gateway refused to open a connection: HTTP 401 InvalidAuthentication" in log
    assert "wrong-secret-value" not in log and "Traceback" not in log
    assert gateway.connections == []


@pytest.mark.slow
async def test_every_instance_connects_and_the_survivor_serves_after_sigkill(
    tmp_path: Path, fake_platforms: FakePlatforms, pg_url: str | None
) -> None:
    gateway = fake_platforms.dingtalk_stream
    fake_platforms.dingtalk.auto_register = True
    async with fresh_database(pg_url) as url:
        section = dingtalk_stream_section(fake_platforms.url, gateway.app_key, gateway.app_secret)
        instances = await prepared_instances(tmp_path, url, 2, section, fake_platforms.url)
        db = Database(url)
        try:
            for instance in instances:
                await instance.start()
            for instance in instances:
                await instance.ready()
            await gateway.wait_for(lambda: len(gateway.live) == 2)
            instances[0].kill()
            await instances[0].wait(within=10)
            await gateway.wait_for(lambda: len(gateway.live) == 1)
            pushed = {f"msgSurvivor{n:02d}" for n in range(10)}
            for msg_id in sorted(pushed):
                session_url, expires = fake_platforms.dingtalk.new_session()
                connection, frame_id = await gateway.push(dingtalk_group_message(msg_id, "帮助", session_url, expires))
                await gateway.acked(connection, frame_id)

            async def done() -> set[str]:
                return {r.message_id for r in await all_of(db, InboxMessage) if r.state is InboxState.DONE}

            await eventually(done, lambda ids: ids == pushed, within=60, what="every message handled by the survivor")
            assert gateway.problems == []
        finally:
            await db.close()
            for instance in instances:
                if instance.running:
                    await instance.terminate()
