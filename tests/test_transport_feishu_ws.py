"""The Feishu long connection end to end: a real ``duban serve`` against the fake gateway on loopback.

A group @-message (``im.message.receive_v1``, protobuf frames, once split in parts) is answered on the socket
within 3 s, stored once, and answered through the message reply API; pings get pongs; a dropped connection
is opened again through a new endpoint call. A sender the roster does not know is told courteously whom to
ask; a liaison known by the roster's 飞书账号 (their ``user_id``) files the unit's monthly report and is
answered with the confirmation.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.db import Database
from storage.models import InboxMessage, InboxState, Submission
from tests.fakes import FakePlatforms
from tests.faults_kit import Instance, all_of, eventually
from tests.transports_kit import FEISHU_LIAISON, feishu_socket_section, health_of, prepared_instances, report_text


@pytest.fixture
async def served(tmp_path: Path, fake_platforms: FakePlatforms) -> AsyncIterator[tuple[Instance, Database]]:
    gateway = fake_platforms.feishu_socket
    url = f"sqlite+aiosqlite:///{tmp_path / 'duban.db'}"
    section = feishu_socket_section(fake_platforms.url, gateway.app_id, gateway.app_secret)
    [instance] = await prepared_instances(tmp_path, url, 1, section, fake_platforms.url)
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


async def test_a_group_message_is_acknowledged_stored_and_answered_by_the_reply_api(
    served: tuple[Instance, Database], fake_platforms: FakePlatforms
) -> None:
    instance, db = served
    gateway = fake_platforms.feishu_socket
    event = gateway.group_message("帮助")
    message_id = event["event"]["message"]["message_id"]
    connection, frame_id = await gateway.push_event(event, parts=2)
    await gateway.wait_for(lambda: frame_id in connection.answered)
    await gateway.wait_for(lambda: gateway.pings >= 1)

    async def rows() -> list[InboxMessage]:
        return await all_of(db, InboxMessage)

    [row] = await eventually(rows, lambda r: len(r) == 1 and r[0].state is InboxState.DONE, within=30, what="handled")
    assert (row.platform, row.channel, row.message_id, row.text) == ("feishu", "feishu_ws", message_id, "帮助")
    assert (row.chat_type, row.chat_id, row.sender_id) == ("group", "oc_group01", "stranger01")
    await gateway.wait_for(lambda: len(gateway.replies) == 1)
    [reply] = gateway.replies
    assert reply.message_id == message_id and "名册" in json_text(reply.content)
    assert await all_of(db, Submission) == []

    again, frame_id = await gateway.push_event(event)  # delivered again: stored once, answered once
    await gateway.wait_for(lambda: frame_id in again.answered)
    await gateway.drop_all()
    await gateway.wait_for(lambda: len(gateway.live) == 1 and len(gateway.connections) == 2)
    health = await health_of(instance)
    link = health["checks"]["connections"]["feishu_ws"]  # type: ignore[index]
    assert link["state"] == "connected" and link["reconnects"] == 1
    assert len(await rows()) == 1 and len(gateway.replies) == 1
    assert gateway.problems == []


async def test_a_liaison_known_by_her_feishu_user_id_files_the_units_report(
    served: tuple[Instance, Database], fake_platforms: FakePlatforms
) -> None:
    _, db = served
    gateway = fake_platforms.feishu_socket
    event = gateway.group_message(report_text(), user_id=FEISHU_LIAISON, open_id="ou_lina")
    message_id = event["event"]["message"]["message_id"]
    connection, frame_id = await gateway.push_event(event)
    await gateway.wait_for(lambda: frame_id in connection.answered)
    [row] = await eventually(
        lambda: all_of(db, InboxMessage),
        lambda r: len(r) == 1 and r[0].state is InboxState.DONE,
        within=30,
        what="handled",
    )
    assert row.sender_id == FEISHU_LIAISON
    [submission] = await all_of(db, Submission)
    assert "新增出口企业12家" in submission.text
    await gateway.wait_for(lambda: len(gateway.replies) == 1)
    [reply] = gateway.replies
    assert reply.message_id == message_id and "已收到【省商务厅】" in json_text(reply.content)

    stranger = gateway.group_message(report_text(), user_id=None, open_id="ou_lina")  # no user_id: not matched
    connection, frame_id = await gateway.push_event(stranger)
    await gateway.wait_for(lambda: len(gateway.replies) == 2)
    assert gateway.replies[1].message_id == stranger["event"]["message"]["message_id"]
    assert "名册" in json_text(gateway.replies[1].content)
    assert len(await all_of(db, Submission)) == 1 and gateway.problems == []


def json_text(content: dict[str, object]) -> str:
    return json.dumps(content, ensure_ascii=False)
